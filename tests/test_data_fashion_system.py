"""The real Fashion-MNIST (70,000 images) from Debian's ``dataset-fashion-mnist`` package.

The package installs the four official files, re-compressed, in
``/usr/share/datasets/fashion-mnist`` (``dpkg -L dataset-fashion-mnist`` lists them); install it
with ``apt-get install dataset-fashion-mnist``.
They go through the strict IDX reader and the official SHA-256 of their decompressed content.
"""

from __future__ import annotations

import numpy as np
import pytest

from jaxlearn.data import DATASETS, available, load, read_idx, sources

SYSTEM_DIR = sources.SYSTEM_DATA_DIR / "fashion-mnist"
SPEC = DATASETS["fashion-mnist"]
INSTALLED = all((SYSTEM_DIR / f"{f.stem}.gz").is_file() for f in SPEC.files.values())

pytestmark = pytest.mark.skipif(
    not INSTALLED,
    reason=f"Debian package dataset-fashion-mnist is not installed (no {SYSTEM_DIR}/*.gz; "
    "apt-get install dataset-fashion-mnist)",
)


@pytest.fixture(autouse=True)
def only_the_system_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("JAXLEARN_DATA", raising=False)


def test_each_file_matches_the_official_content_checksum():
    for role, f in SPEC.files.items():
        a = read_idx(SYSTEM_DIR / f"{f.stem}.gz", sha256=f.sha256)
        assert a.shape == f.shape and a.dtype == np.uint8, role
        # Debian re-compressed the files (their .gz SHA-256 differs from the mirrors'), which
        # is why loads check the SHA-256 of the decompressed content.


def test_load_real_fashion_mnist_from_the_system_folder():
    assert available("fashion-mnist")
    files, _ = sources.find_files("fashion-mnist")
    assert all(p.parent == SYSTEM_DIR for p in files.values())
    (x, t), (xt, tt) = load("fashion-mnist", normalize=False, flatten=False)
    assert x.shape == (60000, 1, 28, 28) and xt.shape == (10000, 1, 28, 28)
    assert x.dtype == np.uint8 and t.dtype == np.int32
    np.testing.assert_array_equal(np.bincount(t), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(tt), [1000] * 10)
    assert x.min() == 0 and x.max() == 255
    # The first training image is an ankle boot (class 9), the first test image too.
    assert t[0] == 9 and tt[0] == 9


def test_load_real_fashion_mnist_book_layout():
    (x, t), (xt, tt) = load("fashion-mnist", one_hot=True)
    assert x.shape == (60000, 784) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() == 1.0
    assert t.shape == (60000, 10) and tt.shape == (10000, 10)
    np.testing.assert_array_equal(t.sum(axis=1), 1)
