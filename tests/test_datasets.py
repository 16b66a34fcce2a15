"""kerasbench.datafiles and kerasbench.kernel.datasets against the real offline files ($KERASBENCH_DATA, else ../shared/datasets
beside the checkout), a local HTTP server for downloads, and small generated CIFAR archives."""

import functools
import glob
import hashlib
import http.server
import os
import pickle
import shutil
import subprocess
import sys
import tarfile
import threading

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "lib"))  # also without an installed package

from kerasbench import datafiles  # noqa: E402
from kerasbench.kernel import datasets  # noqa: E402

DATA = os.environ.get(datafiles.DATA_ENV) or os.path.join(REPO, "..", "shared", "datasets")
needs_data = pytest.mark.skipif(
    not os.path.isfile(os.path.join(DATA, "SHA256SUMS")), reason="no offline datasets at %s" % DATA
)


def copy(name, folder, source=DATA):
    # copyfile, not copy: the shared files are read-only and the copies must be writable.
    target = os.path.join(str(folder), name)
    shutil.copyfile(os.path.join(source, name), target)
    return target


def flip_byte(path, offset=1000):
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope="module")
def imdb_full():
    return datasets.load_imdb(DATA)


@pytest.fixture(scope="module")
def imdb_500():
    return datasets.load_imdb(DATA, num_words=500, train_samples=5000, test_samples=1000)


# Folder and verification


def test_data_dir(monkeypatch):
    monkeypatch.setenv(datafiles.DATA_ENV, "/from/env")
    assert datafiles.data_dir("/given") == "/given"
    assert datafiles.data_dir() == "/from/env"
    monkeypatch.delenv(datafiles.DATA_ENV)
    assert datafiles.data_dir() == os.path.expanduser("~/.keras/datasets")


@needs_data
def test_real_folder_is_verified_through_sha256sums(tmp_path):
    for dataset in ("mnist", "imdb", "nietzsche"):
        assert datafiles.status(dataset, DATA) == "ok"
        datafiles.ensure(dataset, DATA, download=False)
    # The rebuilt mnist.npz is not Keras' file: only SHA256SUMS vouches for it.
    assert (
        datafiles.file_sha256(os.path.join(DATA, "mnist.npz")) != datafiles.FILES["mnist"][0].sha256
    )
    copy("mnist.npz", tmp_path)
    assert datafiles.status("mnist", str(tmp_path)) == "corrupt"
    copy("SHA256SUMS", tmp_path)
    assert datafiles.status("mnist", str(tmp_path)) == "ok"
    # nietzsche.txt has the accepted hash itself, no SHA256SUMS needed.
    copy("nietzsche.txt", tmp_path)
    os.remove(str(tmp_path / "SHA256SUMS"))
    assert datafiles.status("nietzsche", str(tmp_path)) == "ok"
    assert datafiles.status("cifar10", str(tmp_path)) == "missing"


@needs_data
def test_a_file_is_hashed_once_per_process(tmp_path, monkeypatch):
    calls = []
    real = datafiles._sha256
    monkeypatch.setattr(datafiles, "_sha256", lambda path: calls.append(path) or real(path))
    path = copy("nietzsche.txt", tmp_path)
    for _ in range(3):
        assert datafiles.status("nietzsche", str(tmp_path)) == "ok"
    datafiles.ensure("nietzsche", str(tmp_path))
    assert len(calls) == 1
    flip_byte(path)
    os.utime(path, (1, 1))  # a changed file (new mtime) is hashed again
    assert datafiles.status("nietzsche", str(tmp_path)) == "corrupt"
    assert len(calls) == 2


def assert_one_line(error, path):
    message = str(error)
    assert "\n" not in message
    assert path in message and os.path.dirname(path) in message
    assert datafiles.DATA_ENV in message


@needs_data
def test_corrupt_file_is_a_one_line_error_and_is_kept(tmp_path):
    path = copy("nietzsche.txt", tmp_path)
    flip_byte(path)
    before = sha256(path)
    assert datafiles.status("nietzsche", str(tmp_path)) == "corrupt"
    with pytest.raises(datafiles.DataError) as e:
        datafiles.ensure("nietzsche", str(tmp_path), download=True)
    assert_one_line(e.value, path)
    assert e.value.problem == "corrupt"
    assert sha256(path) == before  # never downloaded over the user's file
    with pytest.raises(datafiles.DataError):
        datasets.load_nietzsche(str(tmp_path))


@needs_data
def test_corrupt_file_listed_in_sha256sums(tmp_path):
    path = copy("mnist.npz", tmp_path)
    copy("SHA256SUMS", tmp_path)
    flip_byte(path, offset=5000000)
    with pytest.raises(datafiles.DataError) as e:
        datasets.load_mnist(str(tmp_path))
    assert_one_line(e.value, path)
    assert "SHA256SUMS" in str(e.value)


# Downloads, from a local server


@pytest.fixture
def server(tmp_path, monkeypatch):
    """Serves tmp_path/www on 127.0.0.1; yields (base url, that folder)."""
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    www = tmp_path / "www"
    www.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(www))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d" % httpd.server_address[1], www
    finally:
        httpd.shutdown()
        httpd.server_close()


@needs_data
def test_download_checks_the_hash(server, tmp_path, monkeypatch, capsys):
    base, www = server
    copy("nietzsche.txt", www)
    (www / "bad").mkdir()
    flip_byte(copy("nietzsche.txt", www / "bad"))

    folder = tmp_path / "data"  # does not exist yet: ensure creates it
    monkeypatch.setitem(datafiles.ORIGINS, "nietzsche.txt", base + "/bad/nietzsche.txt")
    with pytest.raises(datafiles.DataError) as e:
        datafiles.ensure("nietzsche", str(folder))
    assert "\n" not in str(e.value) and "SHA-256" in str(e.value)
    assert os.listdir(str(folder)) == []  # no partial file left behind

    with pytest.raises(datafiles.DataError) as e:
        datafiles.ensure("nietzsche", str(folder), base_url=base + "/nowhere")
    assert "404" in str(e.value) or "Not Found" in str(e.value)
    assert os.listdir(str(folder)) == []

    monkeypatch.setitem(datafiles.ORIGINS, "nietzsche.txt", base + "/nietzsche.txt")
    paths = datafiles.ensure("nietzsche", str(folder))
    assert paths == [str(folder / "nietzsche.txt")]
    assert os.listdir(str(folder)) == ["nietzsche.txt"]
    assert sha256(paths[0]) == datafiles.FILES["nietzsche"][0].sha256
    assert datafiles.status("nietzsche", str(folder)) == "ok"
    assert "downloading" in capsys.readouterr().err


def test_missing_without_download(tmp_path):
    assert datafiles.status("imdb", str(tmp_path)) == "missing"
    with pytest.raises(datafiles.DataError) as e:
        datafiles.ensure("imdb", str(tmp_path), download=False)
    assert_one_line(e.value, str(tmp_path / "imdb.npz"))
    assert e.value.problem == "missing"
    assert os.listdir(str(tmp_path)) == []


# Loaders on the real files


@needs_data
def test_mnist():
    split = datasets.load_mnist(DATA)
    assert (split.source, split.detail) == ("full", "mnist.npz: 60000/10000")
    assert split.x_train.shape == (60000, 28, 28) and split.x_test.shape == (10000, 28, 28)
    assert split.y_train.shape == (60000,) and split.y_test.shape == (10000,)
    assert {a.dtype for a in split[:4]} == {np.dtype(np.uint8)}
    assert list(split.y_train[:5]) == [5, 0, 4, 1, 9] and split.y_test[0] == 7
    assert split.x_train.max() == 255

    subset = datasets.load_mnist(DATA, 1000, 500)
    assert (subset.source, subset.detail) == ("subset", "mnist.npz: 1000/500 of 60000/10000")
    assert np.array_equal(subset.x_train, split.x_train[:1000])
    assert np.array_equal(subset.y_test, split.y_test[:500])
    with pytest.raises(ValueError):
        datasets.load_mnist(DATA, 60001)


@needs_data
def test_imdb_equals_keras_output(imdb_500):
    """imdb_subset.npz is Keras' own load_data(num_words=500), first 5000 train / 1000 test."""
    with np.load(os.path.join(DATA, "imdb_subset.npz"), allow_pickle=True) as f:
        keras = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    assert imdb_500.source == "subset"
    assert imdb_500.detail == "imdb.npz: 5000/1000 of 25000/25000"
    for key in ("x_train", "x_test"):
        ours = getattr(imdb_500, key)
        assert ours.dtype == object and ours.shape == keras[key].shape
        assert all(a == b for a, b in zip(ours, keras[key]))
    for key in ("y_train", "y_test"):
        assert getattr(imdb_500, key).dtype == keras[key].dtype
        assert np.array_equal(getattr(imdb_500, key), keras[key])
    assert type(imdb_500.x_train[0]) is list and type(imdb_500.x_train[0][0]) is int
    assert max(max(x) for x in imdb_500.x_train) == 499


@needs_data
def test_imdb_published_facts(imdb_full):
    x_train, y_train, x_test, y_test = imdb_full[:4]
    assert imdb_full.source == "full"
    assert x_train.shape == (25000,) and x_test.shape == (25000,)
    assert len(x_train[0]) == 218 and len(x_train[1]) == 189
    assert x_train[0][:10] == [1, 14, 22, 16, 43, 530, 973, 1622, 1385, 65]
    assert x_test[0][:10] == [1, 591, 202, 14, 31, 6, 717, 10, 10, 18142]
    assert list(y_train[:10]) == [1, 0, 0, 1, 0, 0, 1, 0, 1, 0]
    train_lengths = [len(x) for x in x_train]
    test_lengths = [len(x) for x in x_test]
    assert np.mean(train_lengths) == pytest.approx(238.71364)
    assert np.mean(test_lengths) == pytest.approx(230.8042)
    assert max(train_lengths + test_lengths) == 2494
    assert (min(train_lengths), min(test_lengths)) == (11, 7)
    assert max(max(x) for x in x_train) == 88586
    assert sorted(set(y_train)) == [0, 1] and y_train.sum() == 12500


@needs_data
def test_imdb_word_index():
    index = datasets.load_imdb_word_index(DATA)
    assert len(index) == 88584
    assert index["the"] == 1 and min(index.values()) == 1


@needs_data
def test_nietzsche_like_the_keras_example():
    text, source, detail = datasets.load_nietzsche(DATA)
    # The example printed `corpus length: 600893` and `total chars: 57` after lower().
    assert len(text) == 600893 and len(set(text)) == 57
    assert text == text.lower() and text.startswith("preface\n\n\nsupposing that truth")
    assert (source, detail) == ("full", "nietzsche.txt: 600893 characters")
    head, source, _ = datasets.load_nietzsche(DATA, text_chars=1000)
    assert head == text[:1000] and source == "subset"


# CIFAR-10, through an archive in the real format


def test_cifar10_archive_roundtrip(tmp_path):
    path = str(tmp_path / "cifar-10-python.tar.gz")
    written = datasets.write_cifar10_archive(path, 50, 20, seed=3)

    with tarfile.open(path, "r:gz") as tar:
        names = tar.getnames()
        assert "cifar-10-batches-py/test_batch" in names
        assert ["cifar-10-batches-py/data_batch_%d" % i in names for i in range(1, 6)] == [True] * 5
        batch = pickle.load(tar.extractfile("cifar-10-batches-py/data_batch_1"), encoding="bytes")
    assert set(batch) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert batch[b"data"].dtype == np.uint8 and batch[b"data"].shape == (10, 3072)
    assert batch[b"labels"] == [int(v) for v in written.y_train[:10, 0]]
    # Rows are 1024 red, then green, then blue values.
    assert np.array_equal(batch[b"data"][0, 1024:2048].reshape(32, 32), written.x_train[0, :, :, 1])

    # Not Keras' tarball: accepted only through SHA256SUMS.
    assert datafiles.status("cifar10", str(tmp_path)) == "corrupt"
    (tmp_path / "SHA256SUMS").write_text("%s  cifar-10-python.tar.gz\n" % sha256(path))
    split = datasets.load_cifar10(str(tmp_path))
    assert (split.source, split.detail) == ("full", "cifar-10-python.tar.gz: 50/20")
    assert split.x_train.shape == (50, 32, 32, 3) and split.x_test.shape == (20, 32, 32, 3)
    assert split.y_train.shape == (50, 1) and split.y_test.shape == (20, 1)
    assert {a.dtype for a in split[:4]} == {np.dtype(np.uint8)}
    for ours, theirs in zip(split[:4], written[:4]):
        assert np.array_equal(ours, theirs)

    subset = datasets.load_cifar10(str(tmp_path), 30, 5)
    assert subset.source == "subset" and subset.x_train.shape == (30, 32, 32, 3)
    assert np.array_equal(subset.x_train, written.x_train[:30])


# Generated fallbacks


def one_warning(capsys):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "generated" in err and "warning" in err
    return err


def test_generated_fallbacks(tmp_path, capsys):
    empty = str(tmp_path)
    mnist = datasets.load_mnist(empty, 100, 50, allow_generated=True, seed=1)
    one_warning(capsys)
    assert mnist.source == "generated" and "mnist.npz missing" in mnist.detail
    assert mnist.x_train.shape == (100, 28, 28) and mnist.x_test.shape == (50, 28, 28)
    assert mnist.x_train.dtype == np.uint8 and mnist.y_train.dtype == np.uint8
    assert mnist.y_train.shape == (100,) and set(mnist.y_train) <= set(range(10))

    cifar = datasets.load_cifar10(empty, 100, 50, allow_generated=True, seed=1)
    one_warning(capsys)
    assert cifar.source == "generated"
    assert cifar.x_train.shape == (100, 32, 32, 3) and cifar.y_train.shape == (100, 1)
    assert cifar.x_test.dtype == np.uint8 and cifar.y_test.dtype == np.uint8

    imdb = datasets.load_imdb(
        empty, num_words=500, train_samples=100, test_samples=50, allow_generated=True, seed=1
    )
    one_warning(capsys)
    assert imdb.source == "generated"
    assert imdb.x_train.shape == (100,) and imdb.x_train.dtype == object
    assert imdb.y_test.shape == (50,) and imdb.y_test.dtype == np.int64
    assert all(x[0] == 1 and 0 < max(x) < 500 for x in imdb.x_train)
    assert type(imdb.x_train[0][1]) is int

    text, source, detail = datasets.load_nietzsche(empty, allow_generated=True)
    one_warning(capsys)
    assert source == "generated" and len(text) == 600893 and text == text.lower()
    assert len(datasets.load_nietzsche(empty, 5000, allow_generated=True)[0]) == 5000
    one_warning(capsys)

    # Same seed, same data; full size when no subset is asked for.
    again = datasets.load_mnist(empty, 100, 50, allow_generated=True, seed=1)
    assert np.array_equal(again.x_train, mnist.x_train)
    full = datasets.load_mnist(empty, allow_generated=True)
    assert full.x_train.shape == (60000, 28, 28) and full.detail.endswith("60000/10000")


def test_the_warning_reaches_the_kernel_process_stderr_too(tmp_path, monkeypatch):
    """Inside a Jupyter kernel sys.stderr is the notebook's output: the warning also goes to the
    process's own stderr (the terminal of `papermill` run by hand), and only once where the two
    are the same stream (plain Python)."""
    import io

    notebook, process = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", notebook)
    monkeypatch.setattr(sys, "__stderr__", process)
    datasets.load_mnist(str(tmp_path), 10, 10, allow_generated=True)
    assert notebook.getvalue() == process.getvalue()
    assert (
        notebook.getvalue().count("\n") == 1 and "using generated mnist data" in notebook.getvalue()
    )
    monkeypatch.setattr(sys, "stderr", process)
    datasets.load_mnist(str(tmp_path), 10, 10, allow_generated=True)
    assert process.getvalue().count("\n") == 2


def test_generated_only_when_allowed(tmp_path):
    empty = str(tmp_path)
    for load in (
        datasets.load_mnist,
        datasets.load_imdb,
        datasets.load_cifar10,
        datasets.load_nietzsche,
    ):
        with pytest.raises(datafiles.DataError) as e:
            load(empty)
        assert e.value.problem == "missing" and "\n" not in str(e.value)


# The legacy kernel's Python


def test_compiles_under_python36():
    """datasets.py runs in the Python 3.6 CNTK kernel: it must at least compile there."""
    candidates = [os.environ.get("PYTHON36", "")]
    candidates += glob.glob(os.path.expanduser("~/.pyenv/versions/3.6*/bin/python"))
    candidates += glob.glob("/root/.pyenv/versions/3.6*/bin/python")
    python36 = next((p for p in candidates if p and os.access(p, os.X_OK)), None)
    if python36 is None:
        pytest.skip("no Python 3.6 here")
    source = os.path.join(REPO, "lib", "kerasbench", "kernel", "datasets.py")
    # compile() in memory: no __pycache__ written into the tree.
    code = "import sys; compile(open(sys.argv[1]).read(), sys.argv[1], 'exec')"
    subprocess.check_call([python36, "-c", code, source])


@needs_data
def test_offline_copy_is_never_written(server, tmp_path, monkeypatch):
    """A data folder with a SHA256SUMS (an offline copy) that lacks a file gets it in Keras'
    cache, where the loaders then find it; the copy itself is left as it was."""
    base, www = server
    copy("nietzsche.txt", www)
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    offline = tmp_path / "offline"
    offline.mkdir()
    copy("mnist.npz", offline)
    copy("SHA256SUMS", offline)
    before = sorted(os.listdir(str(offline)))
    assert datafiles.status("nietzsche", str(offline)) == "missing"

    monkeypatch.setitem(datafiles.ORIGINS, "nietzsche.txt", base + "/nietzsche.txt")
    paths = datafiles.ensure("nietzsche", str(offline))
    cached = home / ".keras" / "datasets" / "nietzsche.txt"
    assert paths == [str(cached)] and sha256(str(cached)) == sha256(str(www / "nietzsche.txt"))
    assert sorted(os.listdir(str(offline))) == before
    assert datafiles.status("nietzsche", str(offline)) == "ok"
    assert datafiles.ensure("mnist", str(offline), download=False) == [str(offline / "mnist.npz")]
    text, source, _ = datasets.load_nietzsche(str(offline))  # the kernel's loader finds it
    assert source == "full" and len(text) == datafiles.NIETZSCHE_CHARS


def test_plain_folder_is_its_own_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert not datafiles.is_offline_copy(str(tmp_path))
    (tmp_path / "SHA256SUMS").write_text("")
    assert datafiles.is_offline_copy(str(tmp_path))
    cache = tmp_path / "home" / ".keras" / "datasets"
    cache.mkdir(parents=True)
    (cache / "SHA256SUMS").write_text("")
    assert not datafiles.is_offline_copy(str(cache))  # the cache is where downloads go
