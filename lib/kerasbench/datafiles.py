"""The data files of the four datasets: where they live, which bytes are good, how to fetch them.

Ground floor, both sides: the host's preflight (`status`, `ensure`: before anything trains) and the
kernel's loaders (`kerasbench.kernel.datasets`, which verify before reading). Standard library only
and Python 3.6 syntax (the legacy CNTK kernel).

A file is good when its SHA-256 is the one Keras checks, or when the data folder's `SHA256SUMS`
(sha256sum format) lists it with its hash: that is how a rebuilt copy whose bytes differ from
Keras' (the offline mnist.npz and imdb.npz) is accepted. Only the host downloads (`ensure`):
a timed kernel should not touch the network.

A folder with a `SHA256SUMS` is an offline copy, kept as it is (often shared, or read-only): a file it
lacks (CIFAR-10, 163 MB, where the copy has none) is looked for, and downloaded, in Keras' own
cache (`~/.keras/datasets`), never written into the copy.
"""

import collections
import hashlib
import io
import os
import sys
import tempfile

DATA_ENV = "KERASBENCH_DATA"
DEFAULT_DIR = os.path.join("~", ".keras", "datasets")

DataFile = collections.namedtuple("DataFile", "name sha256")

_KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

# The files each dataset needs, with the SHA-256 Keras checks. Keras checks imdb_word_index.json
# by MD5 (bfafd718...); this SHA-256 is of the same bytes. Keras gives no hash for nietzsche.txt:
# this one is of the copy whose length, lower-cased, is Keras' printed `corpus length: 600893`.
FILES = collections.OrderedDict(
    [
        (
            "mnist",
            (
                DataFile(
                    "mnist.npz", "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
                ),
            ),
        ),
        (
            "imdb",
            (
                DataFile(
                    "imdb.npz", "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
                ),
                DataFile(
                    "imdb_word_index.json",
                    "027313fe9a320280f3bf0fac5baf58c4a683cf39a7ed9c3d3d3912bde4284cf6",
                ),
            ),
        ),
        (
            "cifar10",
            (
                DataFile(
                    "cifar-10-python.tar.gz",
                    "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
                ),
            ),
        ),
        (
            "nietzsche",
            (
                DataFile(
                    "nietzsche.txt",
                    "23cf69874ab69d3d256099ab530ea4be24d47d9675b673bcc67cbcd6298ec647",
                ),
            ),
        ),
    ]
)

# Where a missing file is downloaded from. A module-level dict so a mirror (or a test's local
# server) can replace an entry; `ensure(..., base_url=...)` overrides all of them at once.
ORIGINS = {
    "mnist.npz": _KERAS_ORIGIN + "mnist.npz",
    "imdb.npz": _KERAS_ORIGIN + "imdb.npz",
    "imdb_word_index.json": _KERAS_ORIGIN + "imdb_word_index.json",
    "cifar-10-python.tar.gz": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    "nietzsche.txt": "https://s3.amazonaws.com/text-datasets/nietzsche.txt",
}

SUMS_FILE = "SHA256SUMS"
DOWNLOAD_TIMEOUT = 60  # seconds without data before a download is given up
_CHUNK = 1 << 20

# Sizes of the real datasets (train, test); generated data defaults to them.
SIZES = {"mnist": (60000, 10000), "imdb": (25000, 25000), "cifar10": (50000, 10000)}
NIETZSCHE_CHARS = 600893


class DataError(Exception):
    """A data file is missing, corrupt or unreadable. str() is one line that says which file, what
    is wrong and where to put a good copy. `path` and `problem` ("missing", "corrupt",
    "unreadable", "download failed") are kept for callers."""


def error(path, problem, why):
    folder = os.path.dirname(os.path.abspath(path))
    message = "%s: %s; put a good copy of %s in %s (or set %s to a folder that has one)" % (
        path,
        why,
        os.path.basename(path),
        folder,
        DATA_ENV,
    )
    err = DataError(" ".join(message.split()))  # one line, whatever `why` held
    err.path, err.problem = path, problem
    return err


def data_dir(path=None):
    """The data folder: `path` if given, else $KERASBENCH_DATA, else Keras' ~/.keras/datasets."""
    return os.path.expanduser(path or os.environ.get(DATA_ENV) or DEFAULT_DIR)


def files(dataset):
    try:
        return FILES[dataset]
    except KeyError:
        raise ValueError("unknown dataset %r (known: %s)" % (dataset, ", ".join(FILES)))


# Verification


_hash_cache = {}  # (path, size, mtime_ns) -> sha256: each file is hashed once per process


def file_sha256(path):
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    if key not in _hash_cache:
        _hash_cache[key] = _sha256(path)
    return _hash_cache[key]


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _folder_sums(folder):
    """{name: sha256} from the folder's SHA256SUMS; {} where there is none."""
    sums = {}
    try:
        with io.open(os.path.join(folder, SUMS_FILE), encoding="utf-8") as f:
            for line in f:
                parts = line.strip().split(None, 1)
                if len(parts) == 2 and len(parts[0]) == 64:
                    name = parts[1].lstrip("*")  # "*" marks binary mode in sha256sum's format
                    if name.startswith("./"):
                        name = name[2:]
                    sums[name] = parts[0].lower()
    except (IOError, OSError, UnicodeDecodeError):
        pass
    return sums


def _check(data_file, folder):
    """(state, why) for one file: state is "ok", "missing" or "corrupt"."""
    path = os.path.join(folder, data_file.name)
    if not os.path.isfile(path):
        return "missing", "missing"
    try:
        digest = file_sha256(path)
    except (IOError, OSError) as e:
        return "corrupt", "cannot be read (%s)" % (e.strerror or e)
    listed = _folder_sums(folder).get(data_file.name)
    if digest == data_file.sha256 or digest == listed:
        return "ok", ""
    if listed:
        return "corrupt", "SHA-256 %s... matches neither Keras' %s... nor the %s... in %s" % (
            digest[:12],
            data_file.sha256[:12],
            listed[:12],
            SUMS_FILE,
        )
    return "corrupt", "SHA-256 %s... is not Keras' %s... and %s lists no other hash" % (
        digest[:12],
        data_file.sha256[:12],
        SUMS_FILE,
    )


def cache_dir():
    """Keras' own cache: where a file that an offline copy lacks is looked for and downloaded."""
    return os.path.expanduser(DEFAULT_DIR)


def is_offline_copy(folder):
    """A data folder with a SHA256SUMS (other than the cache itself) is kept as it is."""
    return os.path.isfile(os.path.join(folder, SUMS_FILE)) and os.path.realpath(
        folder
    ) != os.path.realpath(cache_dir())


def _home(data_file, folder):
    """The folder that holds `data_file`, or that a download of it goes to: `folder`, except
    for a file an offline copy lacks, which lives in the cache."""
    if is_offline_copy(folder) and not os.path.isfile(os.path.join(folder, data_file.name)):
        return cache_dir()
    return folder


def status(dataset, folder):
    """ "ok", "missing" or "corrupt" for a dataset's files, without downloading anything.
    A corrupt file wins over a missing one: it needs the user, a missing one only a download."""
    states = [_check(f, _home(f, folder))[0] for f in files(dataset)]
    for state in ("corrupt", "missing"):
        if state in states:
            return state
    return "ok"


def ensure(dataset, folder, download=True, base_url=None):
    """Verifies every file `dataset` needs in `folder`, downloading the missing ones (when
    `download`); returns their paths. Raises DataError where a file cannot be had.

    A present file that fails verification is an error, never downloaded over: it may be the
    user's own rebuilt copy (it only lacks a SHA256SUMS line), and the folder may be read-only
    or shared. The message says to replace it. A file an offline copy lacks is looked for, and
    downloaded, in the cache (`_home`).
    """
    paths = []
    for data_file in files(dataset):
        home = _home(data_file, folder)
        path = os.path.join(home, data_file.name)
        state, why = _check(data_file, home)
        if state == "missing":
            if not download:
                raise error(path, "missing", "missing")
            url = (
                base_url.rstrip("/") + "/" + data_file.name if base_url else ORIGINS[data_file.name]
            )
            _download(url, path, data_file)
        elif state == "corrupt":
            raise error(path, "corrupt", why)
        paths.append(path)
    return paths


def _download(url, path, data_file):
    """Fetches `url` to a temporary file beside `path`, checks its hash, then renames it into
    place, so a partial or wrong download never takes the file's name."""
    from urllib.request import urlopen  # here: only the host's preflight downloads

    folder = os.path.dirname(os.path.abspath(path))
    try:
        if not os.path.isdir(folder):
            os.makedirs(folder)
        fd, tmp = tempfile.mkstemp(prefix="." + data_file.name + ".", suffix=".part", dir=folder)
    except (IOError, OSError) as e:
        raise error(
            path,
            "download failed",
            "missing, and %s cannot be written (%s)" % (folder, e.strerror or e),
        )
    sys.stderr.write("kerasbench: downloading %s to %s\n" % (url, path))
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            response = urlopen(url, timeout=DOWNLOAD_TIMEOUT)
            try:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    digest.update(chunk)
                    out.write(chunk)
            finally:
                response.close()
        got = digest.hexdigest()
        listed = _folder_sums(folder).get(data_file.name)
        if got != data_file.sha256 and got != listed:
            raise error(
                path,
                "download failed",
                "missing, and the download from %s has SHA-256 "
                "%s..., not %s..." % (url, got[:12], data_file.sha256[:12]),
            )
        os.rename(tmp, path)
    except DataError:
        remove(tmp)
        raise
    except Exception as e:  # URLError, HTTPError, socket timeouts, disk full: all one message
        remove(tmp)
        if getattr(e, "code", None):  # HTTPError
            why = "HTTP %s %s" % (e.code, getattr(e, "reason", ""))
        else:
            why = getattr(e, "reason", None) or e
        raise error(path, "download failed", "missing, and downloading %s failed (%s)" % (url, why))
    except BaseException:  # Ctrl-C: leave nothing behind, then stop
        remove(tmp)
        raise


def remove(path):
    try:
        os.remove(path)
    except OSError:
        pass
