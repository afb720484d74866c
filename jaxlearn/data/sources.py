"""Where MNIST and Fashion-MNIST live: file names, checksums, folders searched, mirrors, download.

Folders searched, in order (the first holding all four files wins):

1. ``data_dir`` (the argument), then ``data_dir/<name>``;
2. ``$JAXLEARN_DATA/<name>``, then ``$JAXLEARN_DATA`` itself;
3. the user cache ``$XDG_CACHE_HOME/jaxlearn/<name>`` (default ``~/.cache/jaxlearn/<name>``);
4. the system data set folder ``/usr/share/datasets/<name>`` (Debian's ``dataset-fashion-mnist``
   package installs Fashion-MNIST in ``/usr/share/datasets/fashion-mnist``).

Each file may be ``<stem>.gz`` or the raw ``<stem>``. Downloads go to ``data_dir`` when given,
else ``$JAXLEARN_DATA/<name>`` when that is set, else the user cache; each file is streamed to a
temporary file in the target folder, its SHA-256 checked, and only then renamed into place, so a
failed, interrupted or corrupt download leaves nothing behind. Only ``urllib`` is used.

Checksums: every file carries the SHA-256 of the ``.gz`` as distributed (checked on download) and
of its decompressed content (checked on every load, so re-compressed copies such as Debian's also
verify). The MNIST sums are those published alongside the PyTorch/CVDF mirrors; the
Fashion-MNIST ``.gz`` sums match the MD5s in Zalando's README; the decompressed-content sums
were computed from the files and agree with independent published lists.
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from jaxlearn._files import atomic_path
from jaxlearn.data.idx import DatasetError

__all__ = [
    "DATASETS",
    "ENV_VAR",
    "SYSTEM_DATA_DIR",
    "DatasetSpec",
    "DownloadError",
    "FileSpec",
    "NoSuchFolderError",
    "cache_dir",
    "check_data_dir",
    "download",
    "download_dir",
    "find_files",
    "search_dirs",
]

ENV_VAR = "JAXLEARN_DATA"
SYSTEM_DATA_DIR = Path("/usr/share/datasets")
ROLES = ("train_images", "train_labels", "test_images", "test_labels")


@dataclass(frozen=True)
class FileSpec:
    """One IDX file of a data set."""

    stem: str  # the file name without ".gz"
    gz_sha256: str  # SHA-256 of the .gz as the mirrors distribute it
    sha256: str  # SHA-256 of the decompressed IDX content
    shape: tuple[int, ...]


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    files: dict[str, FileSpec]  # role (see ROLES) -> file
    mirrors: tuple[str, ...]  # base URLs, tried in order; each ends with "/"
    homepage: str


# Published MD5s of the .gz files, for cross-reference (torchvision lists these):
#   MNIST:   f68b3c2dcbeaaa9fbdd348bbdeb94873 d53e105ee54ea40749a09fcbcd1e9432
#            9fb629c4189551a2d022fa330f9573f3 ec29112dd5afa0611ce80d1b7f02629c
#   Fashion: 8d4fb7e6c68d591d4c3dfef9ec88bf0d 25c81989df183df01b3e8a0aad5dffbe
#            bef4ecab320f06d8554ea6380940ec79 bb300cfdad3c16e7a12a480ee83cd310
# (train-images, train-labels, t10k-images, t10k-labels). SHA-256 is what is checked.
DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        files={
            "train_images": FileSpec(
                "train-images-idx3-ubyte",
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                (60000, 28, 28),
            ),
            "train_labels": FileSpec(
                "train-labels-idx1-ubyte",
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                (60000,),
            ),
            "test_images": FileSpec(
                "t10k-images-idx3-ubyte",
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                (10000, 28, 28),
            ),
            "test_labels": FileSpec(
                "t10k-labels-idx1-ubyte",
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
                (10000,),
            ),
        },
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        homepage="https://yann.lecun.com/exdb/mnist/",
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        files={
            "train_images": FileSpec(
                "train-images-idx3-ubyte",
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                (60000, 28, 28),
            ),
            "train_labels": FileSpec(
                "train-labels-idx1-ubyte",
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                (60000,),
            ),
            "test_images": FileSpec(
                "t10k-images-idx3-ubyte",
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                (10000, 28, 28),
            ),
            "test_labels": FileSpec(
                "t10k-labels-idx1-ubyte",
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                (10000,),
            ),
        },
        mirrors=(
            # Zalando's S3 bucket: its REST endpoint (HTTPS), then its website endpoint (HTTP
            # only; integrity comes from the SHA-256 check), then the GitHub repository.
            "https://fashion-mnist.s3.eu-central-1.amazonaws.com/",
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        homepage="https://github.com/zalandoresearch/fashion-mnist",
    ),
}

class NoSuchFolderError(DatasetError):
    """``data_dir`` names a folder that does not exist (and no download is to create it).

    Attributes:
      folder: the folder asked for.
    """

    def __init__(self, folder: str | os.PathLike):
        super().__init__(
            f"data_dir {folder}: no such folder", path=folder,
            advice="give the folder that holds the IDX files, or download=True to fetch them "
            "into it",
        )  # fmt: skip
        self.folder = Path(folder)


class DownloadError(DatasetError):
    """A file of a data set could not be fetched from any of its mirrors.

    Attributes:
      name: the data set.
      file: the file that failed (``train-images-idx3-ubyte.gz``).
      failures: ``(url, cause)`` for each mirror tried, in order.
      folder: where the file belongs (to put it there by hand).
      homepage: where the data set is published.
    """

    def __init__(self, name: str, file: str, failures: list[tuple[str, str]], folder: Path,
                 homepage: str):  # fmt: skip
        super().__init__(
            f"could not download {file} for {name!r} from any mirror:\n"
            + "\n".join(f"  {url}: {cause}" for url, cause in failures)
            + f"\nDownload it yourself (see {homepage}) and put it in {folder}.",
            path=folder,
        )
        self.problem = f"could not download {file} for {name!r} from any mirror"
        self.name, self.file, self.failures = name, file, list(failures)
        self.folder, self.homepage = Path(folder), homepage


def check_data_dir(data_dir: str | os.PathLike | None, download: bool = False) -> None:
    """:class:`NoSuchFolderError` when ``data_dir`` is given but is not a folder, unless
    ``download`` is to create it: a folder asked for that is not there is a mistake (a typo,
    an unmounted disk), not a reason to look elsewhere.

    >>> check_data_dir(None), check_data_dir('/no/such/folder', download=True)
    (None, None)
    >>> check_data_dir('/no/such/folder')
    Traceback (most recent call last):
    jaxlearn.data.sources.NoSuchFolderError: data_dir /no/such/folder: no such folder (...)
    """
    if data_dir is not None and not download and not Path(data_dir).is_dir():
        raise NoSuchFolderError(data_dir)


# The URL opener downloads go through; tests replace it with a local fake.
_urlopen = urllib.request.urlopen
_CHUNK = 1 << 16


def _spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown IDX data set {name!r}; known: {sorted(DATASETS)}") from None


def cache_dir(name: str) -> Path:
    """The user cache folder for data set ``name`` (honours ``$XDG_CACHE_HOME``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jaxlearn" / name


def search_dirs(name: str, data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for ``name``'s files, in order (see the module docstring)."""
    dirs: list[Path] = []
    if data_dir is not None:
        dirs += [Path(data_dir), Path(data_dir) / name]
    env = os.environ.get(ENV_VAR)
    if env:
        dirs += [Path(env) / name, Path(env)]
    dirs += [cache_dir(name), SYSTEM_DATA_DIR / name]
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def _file_in(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def _files_in(spec: DatasetSpec, folder: Path) -> dict[str, Path | None]:
    return {role: _file_in(folder, f.stem) for role, f in spec.files.items()}


def find_files(
    name: str, data_dir: str | os.PathLike | None = None
) -> tuple[dict[str, Path] | None, list[str]]:
    """Look for the four files of ``name``.

    Returns ``(files, tried)``: ``files`` maps each role to a path, from the first folder that holds
    all four (``None`` when none does); ``tried`` describes every folder looked at, for errors.
    """
    spec = _spec(name)
    tried = []
    for folder in search_dirs(name, data_dir):
        found = _files_in(spec, folder)
        have = [p for p in found.values() if p is not None]
        if len(have) == len(found):
            return found, tried  # type: ignore[return-value]
        if not folder.is_dir():
            tried.append(f"{folder} (no such folder)")
        else:
            missing = [spec.files[r].stem for r, p in found.items() if p is None]
            tried.append(f"{folder} (missing {', '.join(missing)})")
    return None, tried


def download_dir(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Where :func:`download` puts files: ``data_dir``, else ``$JAXLEARN_DATA/<name>``, else the
    user cache."""
    if data_dir is not None:
        return Path(data_dir)
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env) / name
    return cache_dir(name)


def _progress(total: int | None, desc: str, enabled: bool | None):
    if enabled is None:  # library calls draw only on a terminal
        enabled = sys.stderr is not None and sys.stderr.isatty()
    if enabled:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            pass
        else:
            return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc)
    return None


def _fetch(url: str, target: Path, sha256: str, progress: bool | None) -> None:
    """Download ``url`` to ``target`` atomically, checking its SHA-256 before the rename."""
    bar = None
    try:
        digest = hashlib.sha256()
        with (
            atomic_path(target) as tmp,
            open(tmp, "wb") as out,
            _urlopen(url, timeout=60) as response,
        ):
            length = response.headers.get("Content-Length") if response.headers else None
            bar = _progress(int(length) if length else None, target.name, progress)
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                if bar is not None:
                    bar.update(len(chunk))
            if length and out.tell() != int(length):
                raise DatasetError(f"{url}: incomplete download ({out.tell()} of {length} bytes)")
            got = digest.hexdigest()
            if got != sha256:
                raise DatasetError(f"{url}: SHA-256 is {got}, expected {sha256}")
            out.close()  # whole and verified: atomic_path renames it into place
    finally:
        if bar is not None:
            bar.close()


def download(
    name: str, data_dir: str | os.PathLike | None = None, *, progress: bool | None = None
) -> Path:
    """Download the files of ``name`` that are not already in :func:`download_dir`.

    Each file is tried on every mirror in turn and checked against its published SHA-256; the
    folder is returned. Raises :class:`DownloadError` naming every URL's failure when a file
    cannot be fetched from any mirror (a folder created for it is removed again if it stayed
    empty).
    """
    spec = _spec(name)
    folder = download_dir(name, data_dir)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for f in spec.files.values():
            if _file_in(folder, f.stem) is None:
                _fetch_any(spec, f, folder, progress)
    except BaseException:
        if created and not any(folder.iterdir()):
            folder.rmdir()
        raise
    return folder


def _fetch_any(spec: DatasetSpec, f: FileSpec, folder: Path, progress: bool | None) -> None:
    failures = []
    for base in spec.mirrors:
        url = base + f.stem + ".gz"
        try:
            return _fetch(url, folder / f"{f.stem}.gz", f.gz_sha256, progress)
        except (OSError, DatasetError, ValueError) as e:  # URLError is an OSError
            failures.append((url, str(e)))
    raise DownloadError(spec.name, f"{f.stem}.gz", failures, folder, spec.homepage)
