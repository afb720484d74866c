"""The documentation site covers the public API.

Public means: every module of the package whose dotted name has no ``_``-prefixed part and that
is a package, declares ``__all__`` or is named in another public module's ``__all__``; its names
are its ``__all__`` (or, lacking one, the functions and classes it defines). This test finds
them itself, builds the API reference with Sphinx (the API pages alone, from a copy of the
configuration into a temporary folder, so nothing is written in ``docs/``: about 15 s on 2 cores;
the whole site, which ``.ci/run`` builds strictly anyway, takes about 30 s), and reads the HTML:
each name must have an anchor ``module.name`` on its module's page that links to a page
documenting the object, each documented function or class a link to its source, and no page may
load anything from the network.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag

import pytest

import jaxlearn

ROOT = Path(__file__).resolve().parents[1]


def public_modules() -> dict[str, object]:
    names = ["jaxlearn"] + [m.name for m in pkgutil.walk_packages(jaxlearn.__path__, "jaxlearn.")]
    modules = {
        n: importlib.import_module(n)
        for n in names
        if not any(part.startswith("_") for part in n.split("."))
    }
    named = {
        getattr(m, n).__name__
        for m in modules.values()
        for n in getattr(m, "__all__", ())
        if inspect.ismodule(getattr(m, n))
    }
    return {
        n: m
        for n, m in modules.items()
        if hasattr(m, "__path__") or hasattr(m, "__all__") or n in named
    }


def names_of(module) -> list[str]:
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and (inspect.isfunction(v) or inspect.isclass(v))
        and v.__module__ == module.__name__
    ]


def test_every_public_package_declares_all():
    """A package without ``__all__`` would leave the reference nothing to list."""
    missing = [n for n, m in public_modules().items() if hasattr(m, "__path__")
               and not hasattr(m, "__all__")]  # fmt: skip
    assert not missing, f"public packages without __all__: {missing}"


class Page(HTMLParser):
    """The ids of a page (id -> tag), the first link inside each element with an id, its
    ``[source]`` links, and any resource loaded from the network."""

    def __init__(self, path: Path):
        super().__init__()
        self.ids: dict[str, str] = {}
        self.first_link: dict[str, str] = {}
        self.source_links = 0
        self.remote: list[str] = []
        self._open: list[str] = []  # ids of the <tr> elements we are inside
        self.feed(path.read_text())

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids[a["id"]] = tag
            if tag == "tr":
                self._open.append(a["id"])
        if tag == "a" and "href" in a:
            for row in self._open:
                self.first_link.setdefault(row, a["href"])
        if tag == "span" and "viewcode-link" in (a.get("class") or ""):
            self.source_links += 1
        url = a.get("src") if tag in ("script", "img") else a.get("href") if tag == "link" else None
        if url and re.match(r"^(https?:)?//", url):
            self.remote.append(url)

    def handle_endtag(self, tag):
        if tag == "tr" and self._open:
            self._open.pop()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    pytest.importorskip("sphinx", reason="the [docs] extra is not installed")
    pytest.importorskip("myst_nb", reason="the [docs] extra is not installed")
    tmp = tmp_path_factory.mktemp("docs")
    (tmp / "src").mkdir()
    for part in ("conf.py", "_ext", "_static"):  # a copy, so the test writes nothing in docs/
        src, dst = ROOT / "docs" / part, tmp / "src" / part
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dst)
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-t", "api_only",
         "-d", str(tmp / "doctrees"), str(tmp / "src"), str(tmp / "site")],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    return tmp / "site"


def test_every_public_name_has_an_anchor_that_leads_to_its_documentation(site):
    pages: dict[Path, Page] = {}

    def page(path: Path) -> Page:
        if path not in pages:
            assert path.is_file(), f"{path.relative_to(site)} was not built"
            pages[path] = Page(path)
        return pages[path]

    problems, checked = [], 0
    for modname, module in public_modules().items():
        module_page = site / "api" / modname / "index.html"
        anchors = page(module_page)
        for name in names_of(module):
            anchor = f"{modname}.{name}"
            checked += 1
            if anchor not in anchors.ids:
                problems.append(f"{anchor}: no anchor on {module_page.relative_to(site)}")
                continue
            href, fragment = urldefrag(anchors.first_link.get(anchor, ""))
            target = (module_page.parent / href).resolve()
            if not href or not target.is_file():
                problems.append(f"{anchor}: its link {href!r} leads to no page")
            elif inspect.ismodule(getattr(module, name)):
                continue  # a module's page: its own anchors are checked in its turn
            elif page(target).ids.get(fragment) != "dt":
                problems.append(f"{anchor}: {href}#{fragment} documents no object")
            elif (
                inspect.isfunction(getattr(module, name)) or inspect.isclass(getattr(module, name))
            ) and not page(target).source_links:
                problems.append(f"{anchor}: {href} has no link to its source")
    assert checked > 100  # the walk found the package (over 150 names today)
    assert not problems, "\n".join(problems)


def test_no_page_loads_anything_from_the_network(site):
    remote = {str(p.relative_to(site)): Page(p).remote for p in site.rglob("*.html")}
    assert not {p: r for p, r in remote.items() if r}
    # Equations render with the MathJax copied into the site.
    assert (site / "_static" / "mathjax" / "tex-chtml.js").is_file()
