"""Page content computed from the code at build time, so it cannot drift from it.

- ``.. jaxlearn-relations::`` (reST, so inside ``{eval-rst}`` on a Markdown page): for each rule
  in ``jaxlearn.RULES``, the book's update (the ``.. math::`` of its docstring) beside its optax
  equivalent (the docstring's ``optax ...:`` paragraph), then the tests in
  ``tests/test_optim_optax.py`` that call the rule, each with its source.
- ``{jaxlearn-cli-help}``: the ``jaxlearn`` command's ``--help``, and the options of its
  experiments (printed once for each distinct set), straight from its argument parser.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import inspect
import os
import textwrap
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from jaxlearn_docstrings import equivalent_notes
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

RELATIONS_TESTS = "tests/test_optim_optax.py"


def math_block(doc: str) -> list[str]:
    """The LaTeX of the docstring's first ``.. math::`` directive, dedented."""
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(".. math::"):
            body = [line[len(".. math::") :].strip()]
            for following in lines[i + 1 :]:
                if following.strip() and not following.startswith(" "):
                    break
                body.append(following)
            return textwrap.dedent("\n".join(body)).strip().splitlines()
    return []


def tests_calling(path: Path, rule: str) -> list[ast.FunctionDef]:
    """The test functions of ``path`` whose body calls ``jl.<rule>``."""
    tree = ast.parse(path.read_text())
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            calls = {
                n.attr
                for n in ast.walk(node)
                if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
                and n.value.id == "jl"
            }  # fmt: skip
            if rule in calls:
                found.append(node)
    return found


class RelationsDirective(SphinxDirective):
    def run(self) -> list[nodes.Node]:
        import jaxlearn
        from jaxlearn.plots.style import RULE_LABELS

        tests = Path(self.env.srcdir).parent / RELATIONS_TESTS
        self.env.note_dependency(str(tests))
        rel = os.path.relpath(tests, Path(self.env.srcdir) / Path(self.env.docname).parent)
        lines: list[str] = []
        for name, rule in jaxlearn.RULES.items():
            doc = inspect.getdoc(rule) or ""
            doc_lines = doc.splitlines()
            title = RULE_LABELS.get(name, name)
            lines += [title, "-" * len(title), ""]
            lines += [".. container:: relation", ""]
            lines += ["   .. container:: relation-side", ""]
            lines += [f"      .. rubric:: The book: :func:`jaxlearn.{name}`", ""]
            lines += ["      .. math::", ""] + [f"         {m}" for m in math_block(doc)] + [""]
            lines += ["   .. container:: relation-side", ""]
            notes = equivalent_notes(doc_lines)
            if not notes:
                lines += ["      .. rubric:: optax", "", "      No optax equivalent is stated.", ""]
            for _, _, note_title, body in notes:
                lines += [f"      .. rubric:: {note_title}", ""]
                lines += [f"      {b}" for b in body] + [""]
            proofs = tests_calling(tests, name)
            if not proofs:
                lines += [f"No test in ``{RELATIONS_TESTS}`` calls ``jl.{name}``.", ""]
            else:
                lines += [f"Proven in ``{RELATIONS_TESTS}`` by:", ""]
            for test in proofs:
                summary = ast.get_docstring(test) or ""
                lines += [
                    ".. raw:: html",
                    "",
                    f"   <details class=\"proof\"><summary><code>{test.name}</code> "
                    f"{_html_escape(summary)}</summary>",
                    "",
                    f".. literalinclude:: {rel}",
                    f"   :pyobject: {test.name}",
                    "",
                    ".. raw:: html",
                    "",
                    "   </details>",
                    "",
                ]
        container = nodes.section()  # a throwaway parent; its children are returned
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source="<relations>"), container)
        return container.children


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class CliHelpDirective(SphinxDirective):
    def run(self) -> list[nodes.Node]:
        from jaxlearn.cli import build_parser

        with _columns(88):
            parser = build_parser()
            blocks = [("", parser.format_help())]
            groups: dict[str, list[str]] = {}
            subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
            for action in subcommands:
                for name, sub in action.choices.items():
                    options = sub.format_help().split("\n\n", 1)[-1]  # drop the usage line
                    groups.setdefault(options, []).append(name)
        for options, names in groups.items():
            blocks.append((f"jaxlearn {{{','.join(names)}}} --help", options))
        out = []
        for heading, text in blocks:
            if heading:
                out.append(nodes.paragraph("", "", nodes.literal(heading, heading)))
            out.append(nodes.literal_block(text, text, language="text"))
        return out


@contextlib.contextmanager
def _columns(width: int):
    """argparse wraps to $COLUMNS: fix it so the page does not depend on the terminal."""
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def setup(app):
    app.add_directive("jaxlearn-relations", RelationsDirective)
    app.add_directive("jaxlearn-cli-help", CliHelpDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
