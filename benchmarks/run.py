"""Run every benchmark section and print one table per section; save the JSON when asked.

    .venv/bin/python -m benchmarks.run [--quick] [--only optimizers batchnorm ...]
                                       [--save | --json PATH]

The tables are always printed. ``--save`` writes them to ``benchmarks/results.json`` (the
committed results that the README, benchmarks/README.md and notebook 8 quote); ``--json PATH``
writes them elsewhere. Without either nothing is written, so ``--quick`` is a smoke test that
leaves the work tree clean.

A section is a module ``benchmarks/bench_<name>.py``. Its protocol, for anyone adding one:
define ``rows(quick: bool = False) -> list[dict]`` (one dict per table row, the same keys in
every row; values numbers, strings or None) and optionally ``COLUMNS``, a list of
``(key, format)`` pairs for the printed table. Sections whose module is missing are skipped;
a section that fails is reported and the others still run. Add the section's name to
``SECTIONS`` below.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import platform
import sys
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):  # `python benchmarks/run.py`: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax

#: section name -> module; run in this order.
SECTIONS: dict[str, str] = {
    "optimizers": "benchmarks.bench_optimizers",
    "batchnorm": "benchmarks.bench_batchnorm",
    "train": "benchmarks.bench_train",
    "scaling": "benchmarks.bench_scaling",
    "native": "benchmarks.bench_native",
    "suite": "benchmarks.bench_suite",
}


def _batchnorm_adapter(mod, quick: bool) -> list[dict]:
    """Rows for ``bench_batchnorm``, which predates the ``rows()`` protocol (uses its helpers)."""
    repeats = 5 if quick else 50
    out = []
    for label, shape in mod.SHAPES.items():
        kx, kw = jax.random.split(jax.random.key(0))
        x = jax.random.normal(kx, shape) * 2.0 + 0.5
        w = jax.random.normal(kw, shape)
        params, steps = mod.make_steps(shape[-1])
        for name, fn in steps.items():
            ms = 1e3 * mod.time_call(fn, x, params, w, repeats=repeats)
            out.append({"shape": label, "implementation": name, "median ms": ms})
    return out


def section_rows(module_name: str, quick: bool) -> tuple[list[dict], list | None] | None:
    """Import a section and return ``(rows, columns)``; None when the module does not exist."""
    try:
        mod = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name is not None and module_name.startswith(err.name):
            return None
        raise
    columns = getattr(mod, "COLUMNS", None)
    if hasattr(mod, "rows"):
        return mod.rows(quick=quick), columns
    if all(hasattr(mod, a) for a in ("SHAPES", "make_steps", "time_call")):
        return _batchnorm_adapter(mod, quick), columns
    if hasattr(mod, "main"):  # last resort: its own printout, captured
        buf = io.StringIO()
        argv = sys.argv
        sys.argv = [module_name]
        try:
            with contextlib.redirect_stdout(buf):
                mod.main()
        finally:
            sys.argv = argv
        return [{"output": line} for line in buf.getvalue().splitlines()], None
    raise TypeError(f"{module_name} has neither rows(quick) nor main()")


def _fmt(value, spec: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and spec == "{}":
        return f"{value:.3g}"
    if "{" not in spec:  # a bare format spec such as ".3f" (bench_train, bench_scaling)
        spec = "{:" + spec + "}"
    try:
        return spec.format(value)
    except (ValueError, TypeError):
        return str(value)


def print_table(rows: list[dict], columns: list | None = None, out=None) -> str:
    """Print ``rows`` as a Markdown table (columns in order, or every key of the first row)."""
    if not rows:
        return ""
    cols = columns or [(k, "{}") for k in rows[0]]
    cells = [[_fmt(r.get(k), spec) for k, spec in cols] for r in rows]
    header = [k for k, _ in cols]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]

    def line(items):
        return "| " + " | ".join(x.ljust(w) for x, w in zip(items, widths)) + " |"

    text = "\n".join(
        [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        + [line(c) for c in cells]
    )
    print(text, file=out or sys.stdout, flush=True)
    return text


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats (smoke)")
    parser.add_argument("--only", nargs="*", default=None, help=f"sections ({', '.join(SECTIONS)})")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--save", action="store_true",
                       help="write the results to benchmarks/results.json")  # fmt: skip
    where.add_argument("--json", default=None, metavar="PATH", help="write the results to PATH")
    args = parser.parse_args(argv)
    json_path = Path(__file__).with_name("results.json") if args.save else None
    json_path = Path(args.json) if args.json else json_path
    meta = {
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0].device_kind),
        "cpu_count": __import__("os").cpu_count(),
        "python": platform.python_version(),
        "quick": args.quick,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    try:
        import optax

        meta["optax"] = optax.__version__
    except ImportError:
        pass
    print(" ".join(f"{k}={v}" for k, v in meta.items()))
    results: dict = {"meta": meta, "sections": {}}
    for name, module in SECTIONS.items():
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        try:
            got = section_rows(module, args.quick)
        except Exception:  # one broken section must not hide the others
            traceback.print_exc()
            results["sections"][name] = {"error": traceback.format_exc()}
            continue
        if got is None:
            print(f"\n## {name}: skipped ({module} not found)")
            continue
        rows, columns = got
        print(f"\n## {name} ({time.perf_counter() - t0:.0f} s)\n")
        table = print_table(rows, columns)
        results["sections"][name] = {"rows": rows, "table": table}
        if json_path is not None:  # after every section: a later failure keeps the earlier ones
            json_path.write_text(json.dumps(results, indent=1, default=str))
    if json_path is not None:
        json_path.write_text(json.dumps(results, indent=1, default=str))
        print(f"\nJSON: {json_path}")
    return results


if __name__ == "__main__":
    main()
