"""The API reference, generated at every build from the package itself, never from a list.

Which modules: every module of the package whose dotted name has no ``_``-prefixed part and that
is a package, declares ``__all__``, or is itself named in a documented module's ``__all__``.
Which names: the module's ``__all__`` (or, lacking one, the public names it defines).

Each object gets one page, under its *canonical* name: the shortest public path to it (ties: the
first module alphabetically, the package root first), so ``jl.adam`` lives at
``api/jaxlearn/adam.html`` whatever submodules also export it. Each module gets a page with its
docstring and a table of its names; every row carries the HTML id ``module.name`` and links to
the object's page, and names that are not canonical are also registered as aliases in the Python
domain, so ``:func:`jaxlearn.optim.adam``` and the ``objects.inv`` inventory resolve them too.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from docutils import nodes
from docutils.statemachine import StringList
from jaxlearn_docstrings import defining_comment
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import make_refnode

PACKAGE = "jaxlearn"
API_DIR = "api"  # relative to the Sphinx source directory


def is_private(modname: str) -> bool:
    return any(part.startswith("_") for part in modname.split("."))


def public_names(module: ModuleType) -> list[str]:
    """``__all__``, or the public functions and classes the module itself defines."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return sorted(
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and (inspect.isfunction(v) or inspect.isclass(v))
        and v.__module__ == module.__name__
    )


def public_modules(package: str = PACKAGE) -> dict[str, ModuleType]:
    """The documented modules by name, the package root first, then alphabetically."""
    root = importlib.import_module(package)

    def onerror(name):  # a module that fails to import must fail the build, not vanish
        raise ImportError(f"cannot import {name} while collecting the API reference")

    names = [package] + [
        m.name for m in pkgutil.walk_packages(root.__path__, package + ".", onerror=onerror)
    ]
    modules = {n: importlib.import_module(n) for n in names if not is_private(n)}
    named = set()
    for m in modules.values():
        for n in getattr(m, "__all__", ()):
            value = getattr(m, n)
            if inspect.ismodule(value):
                named.add(value.__name__)
    keep = [
        n for n, m in modules.items()
        if hasattr(m, "__path__") or hasattr(m, "__all__") or n in named
    ]  # fmt: skip
    return {n: modules[n] for n in sorted(keep, key=lambda n: (n != package, n))}


def is_shadowed(modname: str) -> bool:
    """True for a submodule hidden by a same-named attribute of its package (the function
    ``jaxlearn.optim.flat`` hides the module ``jaxlearn/optim/flat.py``)."""
    parent, _, last = modname.rpartition(".")
    return bool(parent) and getattr(importlib.import_module(parent), last, None) is not (
        importlib.import_module(modname)
    )


def kind_of(obj: object) -> str:
    """The Python-domain object type autodoc documents ``obj`` as."""
    if inspect.ismodule(obj):
        return "module"
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return "function"
    return "data"


def is_type_alias(obj: object) -> bool:
    return typing.get_origin(obj) is not None


@dataclass
class Item:
    """One documented object: where it is documented and everywhere it is exported."""

    module: str  # the canonical module
    name: str
    obj: object
    kind: str
    paths: list[str] = field(default_factory=list)  # every public ``module.name``

    @property
    def fullname(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass
class Reference:
    """The whole API: the modules, and each (module, name) mapped to its documented object."""

    modules: dict[str, ModuleType]
    names: dict[str, list[str]]
    items: dict[str, Item]  # by canonical full name
    home: dict[tuple[str, str], str]  # (module, name) -> canonical full name or module name

    def item_of(self, module: str, name: str) -> Item | None:
        return self.items.get(self.home[(module, name)])

    def type_aliases(self) -> dict[str, str]:
        """Type aliases by short name, for ``autodoc_type_aliases`` (signatures stay short)."""
        return {i.name: i.fullname for i in self.items.values() if is_type_alias(i.obj)}


def collect(package: str = PACKAGE) -> Reference:
    modules = public_modules(package)
    names = {m: public_names(mod) for m, mod in modules.items()}
    by_key: dict[object, list[tuple[str, str]]] = {}
    home: dict[tuple[str, str], str] = {}
    for modname, module in modules.items():
        for name in names[modname]:
            if not hasattr(module, name):
                raise AttributeError(f"{modname}.__all__ names {name!r}, which it does not define")
            obj = getattr(module, name)
            if inspect.ismodule(obj):
                home[(modname, name)] = obj.__name__
                continue
            # Functions and classes are the same object wherever exported; a constant is the same
            # only under the same name (two modules' ``0`` or ``"data"`` are different facts).
            kind = kind_of(obj)
            key = id(obj) if kind != "data" else (id(obj), name)
            by_key.setdefault(key, []).append((modname, name))
    items = {}
    for paths in by_key.values():
        module, name = min(paths, key=lambda p: (p[0].count("."), p[0] != package, p[0]))
        obj = getattr(modules[module], name)
        item = Item(module, name, obj, kind_of(obj), [f"{m}.{n}" for m, n in paths])
        items[item.fullname] = item
        for path in paths:
            home[path] = item.fullname
    return Reference(modules, names, items, home)


def first_line(obj: object, name: str) -> str:
    """The first paragraph of the docstring (of a constant: of its ``#:`` comment)."""
    doc = "\n".join(defining_comment(name, obj)) if kind_of(obj) == "data" else inspect.getdoc(obj)
    return (doc or "").strip().split("\n\n")[0].replace("\n", " ")


# --- the generated sources -------------------------------------------------------------------


def _title(text: str) -> list[str]:
    return [text, "=" * len(text), ""]


def module_page(ref: Reference, modname: str) -> str:
    lines = _title(modname) + [f".. automodule:: {modname}"]
    if is_shadowed(modname):
        # ``jaxlearn.data.load`` is, to Python and so here, the function of that name.
        lines.append("   :no-index:")
    lines += [
        "",
        ".. rubric:: Public names",
        "",
        f".. jaxlearn-members:: {modname}",
        "",
    ]
    return "\n".join(lines)


def object_page(ref: Reference, item: Item) -> str:
    directive = {"exception": "autoexception"}.get(item.kind, "auto" + item.kind)
    # Reached from the module tables, not the sidebar: a sidebar of every name would be long to
    # read, and slow to build (the theme renders the whole navigation tree into every page).
    lines = [":orphan:", ""] + _title(item.fullname) + [f".. currentmodule:: {item.module}", ""]
    lines.append(f".. {directive}:: {item.name}")
    if item.kind in ("class", "exception"):
        lines += ["   :members:", "   :show-inheritance:"]
    if item.kind == "data" and not _short_repr(item.obj):
        lines.append("   :no-value:")
    lines.append("")
    others = [p for p in item.paths if p != item.fullname]
    if others:
        lines += ["Also exported as " + ", ".join(f"``{p}``" for p in others) + ".", ""]
    return "\n".join(lines)


def _short_repr(obj: object) -> bool:
    text = repr(obj)
    return len(text) <= 80 and " at 0x" not in text


def index_page(ref: Reference) -> str:
    lines = _title("API reference") + [
        "Every public module of jaxlearn and the names in its ``__all__``, generated from the",
        "code at each build. Each object has one page, under the shortest name it is exported",
        "as; the module tables link every other name to it.",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 30 70",
        "",
        "   * - module",
        "     - contents",
    ]
    for modname, module in ref.modules.items():
        summary = first_line(module, modname) or " "
        link = f":mod:`{modname}`"
        if is_shadowed(modname):  # not a module to the Python domain: link its page
            link = f":doc:`{modname} <{modname}/index>`"
        lines += [f"   * - {link}", f"     - {summary}"]
    lines += ["", ".. toctree::", "   :hidden:", ""]
    lines += [f"   {modname}/index" for modname in ref.modules] + [""]
    return "\n".join(lines)


def write_sources(srcdir: Path, ref: Reference) -> None:
    """Write ``api/`` under ``srcdir``, touching only files whose text changed (so incremental
    builds stay incremental) and removing pages of names that are gone."""
    out = srcdir / API_DIR
    pages = {out / "index.rst": index_page(ref)}
    for modname in ref.modules:
        pages[out / modname / "index.rst"] = module_page(ref, modname)
    for item in ref.items.values():
        if item.name == "index":
            raise ValueError(f"{item.fullname}: an object named 'index' would hide its module page")
        pages[out / item.module / f"{item.name}.rst"] = object_page(ref, item)
    for path, text in pages.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    if out.exists():
        for path in sorted(out.rglob("*"), reverse=True):
            if path.is_file() and path not in pages:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()


# --- the module tables -----------------------------------------------------------------------


def autodoc_canonical(item: Item) -> str | None:
    """The alias autodoc itself registers for a class (``:canonical:``, its defining path)."""
    if item.kind in ("class", "exception"):
        return f"{item.obj.__module__}.{item.obj.__qualname__}"
    return None


class MembersDirective(SphinxDirective):
    """``.. jaxlearn-members:: module``: a table of the module's public names, one row each,
    with the id ``module.name``, a link to the object's page and the first line of its doc."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        ref: Reference = self.env.app.jaxlearn_reference
        modname = self.arguments[0]
        rows = []
        for name in sorted(ref.names[modname], key=str.lower):
            target = ref.home[(modname, name)]
            item = ref.item_of(modname, name)
            if item is None:  # a module (never a shadowed one: it is an attribute here)
                link = f":mod:`{name} <{target}>`"
                summary = first_line(ref.modules[target], target)
            else:
                link = f":obj:`{name} <{target}>`"
                summary = first_line(item.obj, name)
            rows += [f"   * - {link}", f"     - {summary or ' '}"]
        text = [".. list-table::", "   :widths: 30 70", ""] + rows
        content = nodes.container()
        self.state.nested_parse(StringList(text, source=f"<members of {modname}>"), 0, content)
        body_rows = list(content.findall(nodes.row))
        domain = self.env.get_domain("py")
        for name, row in zip(sorted(ref.names[modname], key=str.lower), body_rows, strict=True):
            anchor = f"{modname}.{name}"
            row["ids"].append(anchor)
            target = ref.home[(modname, name)]
            item = ref.item_of(modname, name)
            if item is not None and anchor not in (target, autodoc_canonical(item)):
                # An alias: yields to any real object of the same name (e.g. a module).
                domain.note_object(anchor, item.kind, anchor, aliased=True, location=row)
        return content.children


def find_source(app, modname: str):
    """viewcode's source and tags for ``modname``, plus a tag for each name bound to a function
    or class the module defines under another name (``alias = original``), so the
    alias's page links to that definition too."""
    if modname.split(".")[0] != PACKAGE:
        return None
    analyzer = ModuleAnalyzer.for_module(modname)
    analyzer.find_tags()
    tags = dict(analyzer.tags)
    for name, value in vars(importlib.import_module(modname)).items():
        original = getattr(value, "__name__", None)
        if name not in tags and original in tags and value.__module__ == modname:
            tags[name] = tags[original]
    return analyzer.code, tags


def resolve_by_suffix(app, env, node, contnode):
    """Resolve ``:func:`download_dir``` written in one module's docstring but shown on another
    module's page (a re-export): to the one documented object whose name ends so."""
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target or target.startswith(PACKAGE + "."):
        return None
    domain = env.get_domain("py")
    found = {
        (entry.docname, entry.node_id, name)
        for name, entry in domain.objects.items()
        if name.endswith("." + target) and not entry.aliased and entry.objtype != "module"
    }
    if len(found) != 1:
        return None
    docname, node_id, name = found.pop()
    return make_refnode(app.builder, node["refdoc"], docname, node_id, contnode, name)


def generate(app) -> None:
    ref = collect()
    app.jaxlearn_reference = ref
    write_sources(Path(app.srcdir), ref)
    app.config.autodoc_type_aliases = {**ref.type_aliases(), **app.config.autodoc_type_aliases}


def setup(app):
    app.connect("builder-inited", generate)
    app.add_directive("jaxlearn-members", MembersDirective)
    app.connect("viewcode-find-source", find_source)
    app.connect("missing-reference", resolve_by_suffix)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
