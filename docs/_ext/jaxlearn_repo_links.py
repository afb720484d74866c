"""Links inside repository Markdown files included into the site (README.md, benchmarks/README.md).

It also mirrors repository folders into the sources (``jaxlearn_mirrors`` in ``conf.py``: the
notebooks, their index and figures), since Sphinx reads documents only inside its source folder
and resolves a symbolic link back out of it. The copies are refreshed at every build.

Included files link the way GitHub reads them: relative to themselves (``docs/reliability.md``,
``notebooks/README.md``, ``benchmarks/README.md``, ``#performance``). When a page includes part
of one (MyST's ``{include}``), each link is rewritten to where that thing lives in the site:

- a file inside the site's sources (``docs/``, or a mirrored folder): that file, relative to the
  including page;
- a repository file that a page includes (``benchmarks/README.md``): that page;
- ``#heading`` of the included file: that heading, on whichever page includes it.

A link to anything else has no home in the site: a warning says which (and fails a strict build).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

LINK = re.compile(r"(?P<bang>!?)\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6}) +(.+?) *$", re.MULTILINE)
INCLUDE = re.compile(r"^```\{include\} +(\S+)\s*\n(?P<options>(?::.*\n)*)", re.MULTILINE)


def slug(text: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def label_prefix(repo_path: str) -> str:
    """``README.md`` -> ``readme``; ``benchmarks/README.md`` -> ``benchmarks-readme``."""
    return slug(str(Path(repo_path).with_suffix("")).replace("/", " ")).replace("_", "-")


def included_files(srcdir: Path) -> dict[Path, str]:
    """Repository file -> the page that includes it (preferring a page that includes it from
    its top, so a link to ``README.md`` lands on the home page)."""
    found: dict[Path, tuple[bool, str]] = {}
    for page in sorted(srcdir.glob("*.md")):
        for match in INCLUDE.finditer(page.read_text()):
            path = (page.parent / match[1]).resolve()
            partial = ":start-after:" in match["options"]
            docname = str(page.relative_to(srcdir).with_suffix(""))
            if path not in found or (found[path][0] and not partial):
                found[path] = (partial, docname)
    return {path: docname for path, (_, docname) in found.items()}


def mirror(source: Path, dest: Path, patterns: list[str]) -> None:
    """Copy the files of ``source`` matching ``patterns`` to ``dest``: only those that changed
    (so incremental builds stay incremental), and delete copies whose original is gone."""
    wanted = {p.relative_to(source) for pattern in patterns for p in source.glob(pattern)}
    for rel in sorted(wanted):
        src, dst = source / rel, dest / rel
        if src.is_file() and (not dst.exists() or dst.read_bytes() != src.read_bytes()):
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
    for dst in sorted(dest.rglob("*"), reverse=True):
        if dst.is_file() and dst.relative_to(dest) not in wanted:
            dst.unlink()
        elif dst.is_dir() and not any(dst.iterdir()):
            dst.rmdir()


def mirrored_dirs(app) -> dict[Path, Path]:
    """Repository folder -> its copy in the sources."""
    srcdir = Path(app.srcdir)
    return {(srcdir.parent / name).resolve(): srcdir / name for name in app.config.jaxlearn_mirrors}


def site_path(target: Path, srcdir: Path, mirrors: dict[Path, Path]) -> Path | None:
    """Where the repository file ``target`` is in the site's sources, if anywhere."""
    for real, copy in mirrors.items():
        if target.is_relative_to(real):
            found = copy / target.relative_to(real)
            return found if found.exists() else None
    real_src = srcdir.resolve()
    if target.is_relative_to(real_src):
        return srcdir / target.relative_to(real_src)
    page = included_files(srcdir).get(target)
    return srcdir / f"{page}.md" if page else None


def rewrite(
    text: str, included: Path, page: Path, srcdir: Path, mirrors: dict[Path, Path], location=None
) -> str:
    """``text`` (the content of ``included``) with its links made right for ``page``."""
    prefix = label_prefix(str(included.relative_to(srcdir.parent.resolve())))
    anchors = {m["target"][1:] for m in LINK.finditer(text) if m["target"].startswith("#")}

    def heading(match: re.Match) -> str:
        name = slug(match[2])  # a MyST target just after each heading another part links to
        return f"{match[0]}\n\n({prefix}-{name})=" if name in anchors else match[0]

    def link(match: re.Match) -> str:
        target = match["target"]
        if re.match(r"^[a-z]+:", target) or target.startswith("/"):
            return match[0]
        if target.startswith("#"):
            return f"{{ref}}`{match['text']} <{prefix}-{target[1:]}>`"
        path, _, fragment = target.partition("#")
        found = site_path((included.parent / path).resolve(), srcdir, mirrors)
        if found is None:
            logger.warning(
                "%s links to %s, which has no page in the site",
                included.name, path, location=location,
            )  # fmt: skip
            return match["text"]
        new = os.path.relpath(found, page.parent) + (f"#{fragment}" if fragment else "")
        return f"{match['bang']}[{match['text']}]({new})"

    return LINK.sub(link, HEADING.sub(heading, text))


def on_include_read(app, relative_path, parent_docname, content) -> None:
    srcdir = Path(app.srcdir)
    included = (srcdir / relative_path).resolve()
    if included.suffix != ".md" or included.is_relative_to(srcdir.resolve()):
        return
    page = srcdir / app.env.docname
    mirrors = mirrored_dirs(app)
    content[0] = rewrite(content[0], included, page, srcdir, mirrors, location=app.env.docname)


def mirror_all(app) -> None:
    for real, copy in mirrored_dirs(app).items():
        mirror(real, copy, app.config.jaxlearn_mirrors[copy.name])


def setup(app):
    app.add_config_value("jaxlearn_mirrors", {}, "env", dict)
    app.connect("builder-inited", mirror_all)
    app.connect("include-read", on_include_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
