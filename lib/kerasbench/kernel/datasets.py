"""The four datasets of the 2017 examples, loaded the way Keras loads them. Kernel side.

`load_mnist`, `load_imdb`, `load_cifar10`, `load_nietzsche` read the files that
`kerasbench.datafiles` found and verified (the host's preflight fetched them; a loader never
downloads). NumPy and the standard library only, never Keras, and Python 3.6 / NumPy 1.19 syntax
and APIs (the legacy CNTK kernel). The loaders read files with NumPy, not with keras.datasets,
because Keras' get_file would reject a rebuilt copy (listed in SHA256SUMS) and try to download.

Where data cannot be had and the run allows it, a loader returns generated data of the right
shapes, dtypes and value ranges, labelled "generated". Generated data is only there so the model
code runs: its accuracy and loss mean nothing.
"""

import collections
import gzip
import io
import json
import os
import pickle
import shutil
import tarfile
import tempfile
import zlib

import numpy as np

from kerasbench import datafiles
from kerasbench.kernel import terminal
from kerasbench.datafiles import DataError, data_dir  # noqa: F401 (for the loaders' callers)

Split = collections.namedtuple("Split", "x_train y_train x_test y_test source detail")

IMDB_SEED = 113  # Keras' default shuffle seed for imdb.load_data
IMDB_VOCABULARY = 88587  # 1 + the largest word id Keras' loader gives (index_from=3)


# Loading: shared parts


def _verified(dataset, folder):
    """The dataset's file paths, verified; DataError otherwise. Loaders never download."""
    return datafiles.ensure(dataset, folder, download=False)


def _fallback(error, dataset, allow_generated):
    """Re-raises `error`, or says in one line that generated data is used, in the notebook and on
    the terminal (terminal.say: a notebook run by hand with papermill shows it there; under
    `kerasbench run` it goes to the run's kernel.log)."""
    if not allow_generated:
        raise error
    terminal.say(
        "kerasbench: warning: %s; using generated %s data (its accuracy means nothing)"
        % (error, dataset)
    )


def _counts(dataset, train_samples, test_samples, full):
    """(n_train, n_test): 0 means all; more than the dataset has is an error."""
    counts = []
    for key, n, size in zip(("train_samples", "test_samples"), (train_samples, test_samples), full):
        n = int(n or 0)
        if n < 0 or n > size:
            raise ValueError("%s=%d: %s has %d examples" % (key, n, dataset, size))
        counts.append(n or size)
    return tuple(counts)


def _source_detail(name, counts, full):
    if tuple(counts) == tuple(full):
        return "full", "%s: %d/%d" % (name, full[0], full[1])
    return "subset", "%s: %d/%d of %d/%d" % (name, counts[0], counts[1], full[0], full[1])


def _generated_detail(error, counts):
    return "generated (%s %s): %d/%d" % (
        os.path.basename(error.path),
        error.problem,
        counts[0],
        counts[1],
    )


def _unreadable(path, e):
    return datafiles.error(
        path, "unreadable", "cannot be read as expected (%s: %s)" % (type(e).__name__, e)
    )


# Errors that reading a verified but malformed file can raise.
_READ_ERRORS = (
    IOError,
    OSError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    EOFError,
    pickle.UnpicklingError,
    tarfile.TarError,
    AttributeError,
    UnicodeDecodeError,
)


def _read_npz(dataset, path, train_samples, test_samples):
    """((x_train, y_train, x_test, y_test), the file's sizes, the counts asked of them) from a
    verified .npz, read with NumPy (Keras' loader would reject a rebuilt file's hash)."""
    try:
        with np.load(path, allow_pickle=True) as f:
            arrays = f["x_train"], f["y_train"], f["x_test"], f["y_test"]
    except _READ_ERRORS as e:
        raise _unreadable(path, e)
    full = (len(arrays[0]), len(arrays[2]))
    return arrays, full, _counts(dataset, train_samples, test_samples, full)


def _first(a, n):
    # A copy, so a subset does not keep the whole file's arrays alive.
    return a if n == len(a) else a[:n].copy()


def _object_array(lists):
    # One list per element, whatever their lengths (np.array would make a 2-D array of equal
    # lengths, and NumPy >= 1.24 refuses ragged lists without dtype=object).
    out = np.empty(len(lists), dtype=object)
    for i, x in enumerate(lists):
        out[i] = x
    return out


# Generated data: cheap, deterministic for a seed (RandomState's stream is the same in every NumPy
# version), clearly synthetic, yet learnable: each class has its own coarse pattern.


def _class_patterns(rng, n_classes, height, width, channels, cells=4):
    coarse = rng.randint(0, 2, size=(n_classes, cells, cells, channels)).astype(np.uint8)
    blown = coarse.repeat(height // cells, axis=1).repeat(width // cells, axis=2)
    return blown * np.uint8(191)  # 191 + noise up to 64 stays within uint8


def _generated_images(rng, patterns, n):
    labels = rng.randint(0, len(patterns), size=n).astype(np.uint8)
    images = patterns[labels]
    images += rng.randint(0, 65, size=images.shape, dtype=np.uint8)
    return images, labels


def generated_mnist(n_train, n_test, seed=0):
    rng = np.random.RandomState(seed)
    patterns = _class_patterns(rng, 10, 28, 28, 1)[..., 0]
    x_train, y_train = _generated_images(rng, patterns, n_train)
    x_test, y_test = _generated_images(rng, patterns, n_test)
    return x_train, y_train, x_test, y_test


def generated_cifar10(n_train, n_test, seed=0):
    rng = np.random.RandomState(seed)
    patterns = _class_patterns(rng, 10, 32, 32, 3)
    x_train, y_train = _generated_images(rng, patterns, n_train)
    x_test, y_test = _generated_images(rng, patterns, n_test)
    return x_train, y_train.reshape(-1, 1), x_test, y_test.reshape(-1, 1)


def _generated_reviews(rng, n, num_words, skip_top, start_char, oov_char, index_from):
    labels = rng.randint(0, 2, size=n).astype(np.int64)
    lengths = rng.randint(20, 400, size=n)
    # Common words follow a Zipf law; one word in ten is a marker of the review's label.
    words = index_from + np.minimum(rng.zipf(1.3, size=lengths.sum()) - 1, IMDB_VOCABULARY)
    marked = rng.rand(len(words)) < 0.1
    owner = np.repeat(labels, lengths)
    words[marked] = index_from + 20 + 10 * owner[marked] + rng.randint(0, 10, size=marked.sum())
    limit = num_words or IMDB_VOCABULARY
    keep = (words >= skip_top) & (words < limit)
    if oov_char is not None:
        words = np.where(keep, words, oov_char)
    ends = np.cumsum(lengths)
    reviews = []
    for i, end in enumerate(ends):
        review = words[end - lengths[i] : end]
        if oov_char is None:
            review = review[keep[end - lengths[i] : end]]
        review = review.tolist()
        reviews.append([start_char] + review if start_char is not None else review)
    return _object_array(reviews), labels


# Lower-case words the generated text is made of (no real corpus: learnable, meaningless).
_WORDS = (
    "the of and to in is that it as not be for which with this all he his a but what "
    "truth will power morality philosopher spirit free man life good evil soul god "
    "every must more than one who we our has have himself perhaps itself so may"
).split()


def generated_text(n_chars, seed=0):
    rng = np.random.RandomState(seed)
    n_words = n_chars // 4 + 100
    words = [_WORDS[i] for i in rng.randint(0, len(_WORDS), size=n_words)]
    breaks = rng.randint(0, 12, size=n_words)  # 0: end a sentence, 1: start a line
    pieces = []
    for word, b in zip(words, breaks):
        pieces.append(word + (". " if b == 0 else "\n" if b == 1 else " "))
    text = "".join(pieces)
    while len(text) < n_chars:
        text += text
    return text[:n_chars]


# Loaders


class Source(collections.namedtuple("Source", "folder allow_generated seed")):
    """Where a workload's data comes from: the data folder, whether generated data may stand in
    for a missing or bad file, and the seed that shapes generated data. A run's is
    `session.Run.data_source` (its folder resolved as `kerasbench run` resolves it:
    kernel.settings); each method is the loader of that name, given them."""

    __slots__ = ()

    def mnist(self, train_samples=0, test_samples=0):
        return load_mnist(self.folder, train_samples, test_samples, self.allow_generated, self.seed)

    def imdb(self, num_words=None, train_samples=0, test_samples=0):
        return load_imdb(
            self.folder, num_words, train_samples, test_samples, self.allow_generated, self.seed
        )

    def cifar10(self, train_samples=0, test_samples=0):
        return load_cifar10(
            self.folder, train_samples, test_samples, self.allow_generated, self.seed
        )

    def nietzsche(self, text_chars=0):
        return load_nietzsche(self.folder, text_chars, self.allow_generated, self.seed)


def load_mnist(folder, train_samples=0, test_samples=0, allow_generated=False, seed=0):
    """MNIST as keras.datasets.mnist.load_data gives it: uint8 (N, 28, 28) images and uint8
    (N,) labels; a subset is the first N examples. `seed` only shapes generated data."""
    full = datafiles.SIZES["mnist"]
    counts = _counts("mnist", train_samples, test_samples, full)
    try:
        (path,) = _verified("mnist", folder)
        arrays, full, counts = _read_npz("mnist", path, train_samples, test_samples)
        sizes = (counts[0], counts[0], counts[1], counts[1])
        parts = [_first(a, n) for a, n in zip(arrays, sizes)]
        return Split(*(parts + list(_source_detail("mnist.npz", counts, full))))
    except DataError as e:
        _fallback(e, "mnist", allow_generated)
        data = generated_mnist(counts[0], counts[1], seed)
        return Split(*(data + ("generated", _generated_detail(e, counts))))


def load_imdb(
    folder,
    num_words=None,
    train_samples=0,
    test_samples=0,
    allow_generated=False,
    seed=0,
    skip_top=0,
    start_char=1,
    oov_char=2,
    index_from=3,
):
    """IMDb as keras.datasets.imdb.load_data(num_words=...) gives it: x are 1-D object arrays of
    lists of python ints, y int64 labels. The subset is the first N after Keras' shuffle.
    `seed` only shapes generated data: the shuffle is always Keras' (seed 113)."""
    full = datafiles.SIZES["imdb"]
    counts = _counts("imdb", train_samples, test_samples, full)
    try:
        path = _verified("imdb", folder)[0]
        arrays, full, counts = _read_npz("imdb", path, train_samples, test_samples)
        x_train, labels_train, x_test, labels_test = arrays
        # Keras 2.2+ and 3: one RandomState(113) shuffles train, then (continuing) test.
        rng = np.random.RandomState(IMDB_SEED)
        indices = np.arange(len(x_train))
        rng.shuffle(indices)
        x_train, labels_train = x_train[indices], labels_train[indices]
        indices = np.arange(len(x_test))
        rng.shuffle(indices)
        x_test, labels_test = x_test[indices], labels_test[indices]
        if not num_words:
            # Keras takes the largest id over ALL reviews (shifted, with start_char), so compute
            # it before subsetting. That largest id itself then falls outside `w < num_words`
            # and becomes oov_char: a Keras quirk, kept.
            num_words = max(max(x) for x in list(x_train) + list(x_test) if len(x)) + index_from
            if start_char is not None:
                num_words = max(num_words, start_char)
        # Keras then shifts, prefixes and cuts every review; doing it to the subset only gives the
        # same lists for it.
        xs = []
        for x in list(x_train[: counts[0]]) + list(x_test[: counts[1]]):
            x = [w + index_from for w in x]
            if start_char is not None:
                x = [start_char] + x
            if oov_char is not None:
                x = [w if skip_top <= w < num_words else oov_char for w in x]
            else:
                x = [w for w in x if skip_top <= w < num_words]
            xs.append(x)
        parts = [_object_array(xs[: counts[0]]), labels_train[: counts[0]].copy()]
        parts += [_object_array(xs[counts[0] :]), labels_test[: counts[1]].copy()]
        return Split(*(parts + list(_source_detail("imdb.npz", counts, full))))
    except DataError as e:
        _fallback(e, "imdb", allow_generated)
        rng = np.random.RandomState(seed)
        args = (num_words, skip_top, start_char, oov_char, index_from)
        x_train, y_train = _generated_reviews(rng, counts[0], *args)
        x_test, y_test = _generated_reviews(rng, counts[1], *args)
        return Split(x_train, y_train, x_test, y_test, "generated", _generated_detail(e, counts))


def load_imdb_word_index(folder):
    """{word: rank} as keras.datasets.imdb.get_word_index gives it (rank 1 is the most frequent;
    add index_from to match load_imdb's ids)."""
    path = _verified("imdb", folder)[1]
    try:
        with io.open(path, encoding="utf-8") as f:
            return json.load(f)
    except _READ_ERRORS as e:
        raise _unreadable(path, e)


_CIFAR_DIR = "cifar-10-batches-py"
_CIFAR_TRAIN = ["data_batch_%d" % i for i in range(1, 6)]
_CIFAR_TEST = "test_batch"
_CIFAR_LABELS = [
    b"airplane",
    b"automobile",
    b"bird",
    b"cat",
    b"deer",
    b"dog",
    b"frog",
    b"horse",
    b"ship",
    b"truck",
]


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles CIFAR batches allowing only what rebuilds NumPy arrays (as Keras 3 does)."""

    _reconstruct = np.zeros(0).__reduce__()[0]  # numpy(._)core.multiarray._reconstruct
    _allowed = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    }

    def find_class(self, module, name):
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError("refusing %s.%s in a CIFAR batch" % (module, name))


def _cifar_batch(raw):
    """(images (N, 3, 32, 32) uint8, labels (N,) uint8) from one pickled batch, as Keras'
    load_batch decodes it (encoding="bytes": the batches were pickled by Python 2)."""
    d = _ArrayUnpickler(io.BytesIO(raw), encoding="bytes").load()
    d = dict((k.decode("utf8") if isinstance(k, bytes) else k, v) for k, v in d.items())
    data = np.asarray(d["data"], dtype=np.uint8)
    return data.reshape(data.shape[0], 3, 32, 32), np.asarray(d["labels"], dtype=np.uint8)


def _read_cifar_archive(path):
    """All batches of the tarball in one pass over the gzip stream, without extracting to disk."""
    batches = {}
    with tarfile.open(path, "r|gz") as tar:
        for member in tar:
            name = member.name.split("/")[-1]
            if member.isfile() and (name in _CIFAR_TRAIN or name == _CIFAR_TEST):
                batches[name] = _cifar_batch(tar.extractfile(member).read())
    missing = [n for n in _CIFAR_TRAIN + [_CIFAR_TEST] if n not in batches]
    if missing:
        raise KeyError("no %s in the archive" % ", ".join(missing))
    x_train = np.concatenate([batches[n][0] for n in _CIFAR_TRAIN])
    y_train = np.concatenate([batches[n][1] for n in _CIFAR_TRAIN])
    x_test, y_test = batches[_CIFAR_TEST]
    return x_train, y_train, x_test, y_test


def load_cifar10(folder, train_samples=0, test_samples=0, allow_generated=False, seed=0):
    """CIFAR-10 as keras.datasets.cifar10.load_data gives it (channels_last): uint8
    (N, 32, 32, 3) images and uint8 (N, 1) labels, read from cifar-10-python.tar.gz."""
    full = datafiles.SIZES["cifar10"]
    counts = _counts("cifar10", train_samples, test_samples, full)
    try:
        (path,) = _verified("cifar10", folder)
        try:
            x_train, y_train, x_test, y_test = _read_cifar_archive(path)
        except _READ_ERRORS + (zlib.error,) as e:  # a bad gzip stream is OSError or zlib.error
            raise _unreadable(path, e)
        full = (len(x_train), len(x_test))
        counts = _counts("cifar10", train_samples, test_samples, full)
        source, detail = _source_detail("cifar-10-python.tar.gz", counts, full)

        def channels_last(x, n):
            return np.ascontiguousarray(x[:n].transpose(0, 2, 3, 1))

        return Split(
            channels_last(x_train, counts[0]),
            y_train[: counts[0]].reshape(-1, 1),
            channels_last(x_test, counts[1]),
            y_test[: counts[1]].reshape(-1, 1),
            source,
            detail,
        )
    except DataError as e:
        _fallback(e, "cifar10", allow_generated)
        data = generated_cifar10(counts[0], counts[1], seed)
        return Split(*(data + ("generated", _generated_detail(e, counts))))


def write_cifar10_archive(path, n_train, n_test, seed=0):
    """Writes a small cifar-10-python.tar.gz in the real format (generated images), for tests
    where no real copy exists; returns its content as a Split, channels_last like load_cifar10.

    Like the real one: cifar-10-batches-py/data_batch_1..5 (the training examples spread over
    five batches), test_batch and batches.meta, each a pickled dict with bytes keys (b"data":
    uint8 (N, 3072), rows of 1024 red, 1024 green, 1024 blue; b"labels": list of ints). Arrays
    are pickled with only numpy.ndarray and numpy.dtype, so NumPy 1.x, NumPy 2.x and Keras 3's
    restricted unpickler all read them.
    """
    x_train, y_train, x_test, y_test = generated_cifar10(n_train, n_test, seed)
    members = []
    starts = np.linspace(0, n_train, len(_CIFAR_TRAIN) + 1).astype(int)
    for i, name in enumerate(_CIFAR_TRAIN):
        part = slice(starts[i], starts[i + 1])
        members.append(
            (
                name,
                _cifar_dict(
                    x_train[part], y_train[part, 0], "training batch %d of 5" % (i + 1), name
                ),
            )
        )
    members.append(
        (_CIFAR_TEST, _cifar_dict(x_test, y_test[:, 0], "testing batch 1 of 1", _CIFAR_TEST))
    )
    members.append(
        (
            "batches.meta",
            {
                b"num_cases_per_batch": int(starts[1] - starts[0]),
                b"label_names": list(_CIFAR_LABELS),
                b"num_vis": 3072,
            },
        )
    )
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".cifar.", suffix=".part", dir=folder)
    try:
        # Fixed timestamps, so one Python and NumPy write the same bytes for the same arguments.
        with os.fdopen(fd, "wb") as raw:
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
                with tarfile.open(fileobj=gz, mode="w", format=tarfile.USTAR_FORMAT) as tar:
                    info = tarfile.TarInfo(_CIFAR_DIR)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
                    for name, content in members:
                        data = _pickle_cifar(content)
                        info = tarfile.TarInfo(_CIFAR_DIR + "/" + name)
                        info.size, info.mode = len(data), 0o644
                        tar.addfile(info, io.BytesIO(data))
        shutil.move(tmp, path)
    except BaseException:
        datafiles.remove(tmp)
        raise
    return Split(
        x_train,
        y_train,
        x_test,
        y_test,
        "generated",
        "%s: %d/%d generated" % (os.path.basename(path), n_train, n_test),
    )


def _cifar_dict(images, labels, batch_label, name):
    return {
        b"batch_label": batch_label.encode("ascii"),
        b"labels": [int(v) for v in labels],
        b"data": np.ascontiguousarray(images.transpose(0, 3, 1, 2)).reshape(len(images), 3072),
        b"filenames": [("%s_%05d.png" % (name, i)).encode("ascii") for i in range(len(images))],
    }


def _reduce_array(a):
    # ndarray((0,), dtype) then __setstate__ with the bytes: the globals are numpy.ndarray and
    # numpy.dtype only (NumPy 2 would name numpy._core, which NumPy 1.x cannot import).
    return np.ndarray, ((0,), a.dtype), (1, a.shape, a.dtype, False, a.tobytes())


def _pickle_cifar(content):
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=3)  # bytes stay bytes; Python 3.0+ reads it
    pickler.dispatch_table = {np.ndarray: _reduce_array}
    pickler.dump(content)
    return buffer.getvalue()


def load_nietzsche(folder, text_chars=0, allow_generated=False, seed=0):
    """(text, source, detail): nietzsche.txt lower-cased, as the Keras example reads it (its
    `corpus length: 600893`); text_chars > 0 keeps the first text_chars characters."""
    text_chars = int(text_chars or 0)
    if text_chars < 0:
        raise ValueError("text_chars=%d: must be 0 (all) or positive" % text_chars)
    try:
        (path,) = _verified("nietzsche", folder)
        try:
            # UTF-8 whatever the kernel's locale (the legacy kernel may default to ASCII).
            with io.open(path, encoding="utf-8") as f:
                text = f.read().lower()
        except _READ_ERRORS as e:
            raise _unreadable(path, e)
        if text_chars > len(text):
            raise ValueError(
                "text_chars=%d: nietzsche.txt has %d characters" % (text_chars, len(text))
            )
        if text_chars and text_chars < len(text):
            return (
                text[:text_chars],
                "subset",
                "nietzsche.txt: first %d of %d characters" % (text_chars, len(text)),
            )
        return text, "full", "nietzsche.txt: %d characters" % len(text)
    except DataError as e:
        _fallback(e, "nietzsche", allow_generated)
        n = text_chars or datafiles.NIETZSCHE_CHARS
        return (
            generated_text(n, seed),
            "generated",
            "generated (nietzsche.txt %s): %d characters" % (e.problem, n),
        )
