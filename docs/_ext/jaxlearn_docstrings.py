"""How jaxlearn's docstrings are shown, without editing them.

- A paragraph that starts ``optax equivalent:``, ``optax difference:``, ``flax equivalent:`` (any
  ``optax|flax|PyTorch <word>:``) becomes a boxed note titled by those words, so each public
  function's framework equivalent stands out beside its equation.
- A NamedTuple's fields are not listed again as members: the signature names them, and a class
  that says more about them does so in its ``Attributes:`` section.
- A constant re-exported from another module keeps the ``#:`` comment where it is defined.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil
import re

from sphinx.pycode import ModuleAnalyzer

# "optax equivalent: ..." / "flax difference: ..." at the start of a paragraph.
EQUIVALENT = re.compile(r"^(?P<title>(?:optax|flax|PyTorch)(?: \w+)?):\s+(?P<rest>.*)$")


def split_paragraphs(lines: list[str]) -> list[tuple[int, int]]:
    """(start, end) line ranges of the top-level paragraphs (unindented, blank-separated)."""
    spans, start = [], None
    for i, line in enumerate(lines + [""]):
        if line.strip() and start is None:
            start = i
        elif not line.strip() and start is not None:
            spans.append((start, i))
            start = None
    return spans


def equivalent_notes(lines: list[str]) -> list[tuple[int, int, str, list[str]]]:
    """Each framework-equivalent paragraph: (start, end, title, its text without the title)."""
    notes = []
    for start, end in split_paragraphs(lines):
        match = EQUIVALENT.match(lines[start])
        if match and not lines[start].startswith(" "):
            body = [match["rest"]] + [line.strip() for line in lines[start + 1 : end]]
            notes.append((start, end, match["title"], body))
    return notes


def box_equivalents(lines: list[str]) -> None:
    for start, end, title, body in reversed(equivalent_notes(lines)):
        lines[start:end] = [
            f".. admonition:: {title}",
            "   :class: equivalent",
            "",
            *("   " + line for line in body),
        ]


@functools.cache
def _all_modules(package: str = "jaxlearn") -> tuple[str, ...]:
    root = importlib.import_module(package)
    return (package, *(m.name for m in pkgutil.walk_packages(root.__path__, package + ".")))


def defining_comment(name: str, obj: object) -> list[str]:
    """The ``#:`` comment of ``name`` in whichever module of the package assigns it."""
    for modname in _all_modules():
        module = importlib.import_module(modname)
        if vars(module).get(name) is not obj:
            continue
        docs = ModuleAnalyzer.for_module(modname).find_attr_docs()
        if ("", name) in docs:
            return list(docs[("", name)])
    return []


def process_docstring(app, what, name, obj, options, lines) -> None:
    if what == "data" and (not lines or _is_type_doc(obj, lines)):
        lines[:] = defining_comment(name.rsplit(".", 1)[-1], obj)
    box_equivalents(lines)


def skip_member(app, what, name, obj, skip, options):
    """Skip NamedTuple fields (their accessors are ``collections._tuplegetter`` objects)."""
    return True if what == "class" and type(obj).__name__ == "_tuplegetter" else None


def _is_type_doc(obj: object, lines: list[str]) -> bool:
    """True when autodoc fell back to the docstring of the constant's type (``dict`` ...)."""
    type_doc = inspect.getdoc(type(obj)) or ""
    return bool(lines) and lines[0].strip() != "" and lines[0].strip() in type_doc


def setup(app):
    # After napoleon (priority 500), which turns Google sections into reST first.
    app.connect("autodoc-process-docstring", process_docstring, priority=600)
    app.connect("autodoc-skip-member", skip_member)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
