"""A strict reader and writer for the IDX format (the files MNIST and Fashion-MNIST ship as).

An IDX file is a header followed by the data, all big-endian::

    magic   4 bytes  0x00 0x00 <dtype code> <ndim>
    dims    ndim unsigned 32-bit integers
    data    prod(dims) items of the dtype, C order

The dtype codes are 0x08 unsigned byte, 0x09 signed byte, 0x0B int16, 0x0C int32, 0x0D float32
and 0x0E float64. :func:`read_idx` checks every one of these facts exactly (and that nothing
follows the data), accepts gzip-compressed or raw files (told apart by content, not by name),
and raises :class:`DatasetError` naming the file and what is wrong with it.

>>> import os, tempfile
>>> import numpy as np
>>> from jaxlearn.data import read_idx, write_idx
>>> with tempfile.TemporaryDirectory() as folder:
...     path = os.path.join(folder, "tiny-idx1-ubyte.gz")
...     write_idx(path, np.array([3, 1, 4], dtype=np.uint8))
...     read_idx(path)
array([3, 1, 4], dtype=uint8)
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from jaxlearn._files import atomic_path

__all__ = [
    "DatasetError",
    "DatasetNotFoundError",
    "IDX_DTYPES",
    "parse_idx",
    "read_idx",
    "read_idx_bytes",
    "write_idx",
]

# dtype code -> big-endian NumPy dtype, as the IDX specification lists them.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {(dt.kind, dt.itemsize): code for code, dt in IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


class DatasetError(ValueError):
    """A data set is missing, truncated, corrupt or not the file it should be.

    ``str(error)`` is the whole message, advice included; the attributes let a caller (the
    command line) say the same in its own words without parsing that text.

    Attributes:
      problem: what is wrong, in one line, naming the file, folder or URL.
      path: the file or folder at fault, when there is one.
      checksum: the file is well-formed but not the official one (its SHA-256 differs), so
        ``verify=False`` would load it.
    """

    def __init__(
        self,
        problem: str,
        *,
        path: str | os.PathLike | None = None,
        checksum: bool = False,
        advice: str | None = None,
    ):
        super().__init__(problem if advice is None else f"{problem} ({advice})")
        self.problem = problem
        self.path = None if path is None else Path(path)
        self.checksum = checksum


class DatasetNotFoundError(DatasetError):
    """A data set's files are in none of the folders searched.

    Attributes:
      name: the data set (``'mnist'``, ``'fashion-mnist'``).
      tried: each folder looked in, with what it lacked.
    """

    def __init__(self, message: str, name: str, tried: list[str]):
        super().__init__(message)
        self.problem = message.splitlines()[0]
        self.name, self.tried = name, list(tried)


def read_idx_bytes(path: str | os.PathLike) -> bytes:
    """The decompressed IDX content of ``path`` (gzip or raw, told apart by the first bytes)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DatasetError(f"{path}: cannot read the file ({e.strerror or e})", path=path) from e
    if data[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            # gzip.BadGzipFile is an OSError; a cut-off stream raises EOFError.
            raise DatasetError(f"{path}: corrupt or truncated gzip data ({e})", path=path) from e
    if path.suffix == ".gz":
        raise DatasetError(
            f"{path}: the name ends in .gz but the content is not gzip data "
            f"(first bytes {data[:4].hex()!r})", path=path,
        )  # fmt: skip
    return data


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse decompressed IDX bytes into a native-endian array, checking the layout exactly.

    Args:
      data: the whole (decompressed) file content.
      name: what to call the data in error messages (usually its path).

    Raises:
      DatasetError: bad magic number, unknown dtype code, zero dimensions, or a length that is
        not exactly header + prod(dims) * itemsize (truncated file or trailing bytes).
    """
    n = len(data)
    if n < 4:
        raise DatasetError(f"{name}: {n} bytes is too short for an IDX header (needs 4 or more)")
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0:
        raise DatasetError(
            f"{name}: bad magic number 0x{data[:4].hex()}: an IDX file starts with two zero bytes"
        )
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DatasetError(f"{name}: unknown IDX dtype code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise DatasetError(f"{name}: the IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if n < header:
        raise DatasetError(
            f"{name}: truncated header: {ndim} dimensions need {header} bytes, the file has {n}"
        )
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = IDX_DTYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if n < expected:
        raise DatasetError(
            f"{name}: truncated: shape {shape} of {dtype.name} needs {expected} bytes, "
            f"the file has {n} ({expected - n} missing)"
        )
    if n > expected:
        raise DatasetError(
            f"{name}: {n - expected} trailing bytes after the data: shape {shape} of "
            f"{dtype.name} needs exactly {expected} bytes, the file has {n}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # a native-endian, writable copy


def read_idx(path: str | os.PathLike, *, sha256: str | None = None) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw) into a NumPy array.

    Args:
      path: the file.
      sha256: when given, the SHA-256 the *decompressed* content must have (so a file that was
        re-compressed, as Debian's packages are, still verifies).

    Raises:
      DatasetError: unreadable, bad gzip, bad layout, or a checksum mismatch; the message names
        the file.
    """
    data = read_idx_bytes(path)
    if sha256 is not None:
        got = hashlib.sha256(data).hexdigest()
        if got != sha256.lower():
            raise DatasetError(
                f"{path}: SHA-256 of the decompressed content is {got}, expected {sha256}: "
                "the file is corrupt or not the official one", path=path, checksum=True,
                advice="pass verify=False to load your own IDX files",
            )  # fmt: skip
    try:
        return parse_idx(data, str(path))
    except DatasetError as e:
        e.path = Path(path)  # parse_idx knows the bytes, not where they came from
        raise


def write_idx(path: str | os.PathLike, array, *, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file, gzip-compressed when ``path`` ends in ``.gz``.

    The file is written atomically (a temporary file in the same folder, then ``os.replace``).
    Booleans and unsigned integers wider than a byte have no IDX code and are refused.
    """
    path = Path(path)
    array = np.asarray(array)
    code = _CODES.get((array.dtype.kind, array.dtype.itemsize))
    if code is None:
        raise ValueError(f"write_idx: dtype {array.dtype} has no IDX code")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"write_idx: an IDX array needs 1 to 255 dimensions, got {array.ndim}")
    if any(d >= 2**32 for d in array.shape):
        raise ValueError(f"write_idx: dimension too large for IDX: {array.shape}")
    body = struct.pack(f">HBB{array.ndim}I", 0, code, array.ndim, *array.shape)
    body += np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        body = gzip.compress(body, mtime=0)
    with atomic_path(path) as tmp:
        tmp.write_bytes(body)
