"""Writing files whole or not at all: the one atomic-write helper every writer uses."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, durable: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path`` to write; renamed onto ``path`` when the block ends.

    If the block raises (an error, Ctrl-C) the temporary file is removed and ``path`` is left
    as it was, so readers only ever see a whole file. The file gets the permissions a plain
    ``open(path, 'w')`` would give it (``mkstemp``'s 0600 is for the temporary file only).
    ``durable``: ``fsync`` the file before the rename and the folder after it, so the new
    content survives a crash.

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with atomic_path(os.path.join(folder, 'x.txt')) as tmp:
    ...     _ = tmp.write_text('whole')
    >>> os.listdir(folder), open(os.path.join(folder, 'x.txt')).read()
    (['x.txt'], 'whole')
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        if durable:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    if durable:  # make the rename itself durable (POSIX; not possible on Windows)
        with contextlib.suppress(OSError):
            dir_fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
