"""What a suite run says: the verdict table in the terminal, and one report page on disk.

:func:`verdict_table` prints, for every optimizer against the baseline, each problem's
difference in final test metric and in steps to target with their intervals, P(A better than
B), the Holm-adjusted p-value and the verdict, then the cross-problem scores.
:func:`write_report` writes ``report.html``: one self-contained page (its figures embedded, no
network) with the run's table, the verdicts, the performance profile, the IQM, and per problem
the validation curves, the tuning curves and the learning-rate sensitivity.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from jaxlearn._files import atomic_path
from jaxlearn.experiments.report import Report
from jaxlearn.suite.results import count, table

__all__ = ["verdict_table", "write_report"]


def _label(result: dict, spec: str) -> str:
    return result["optimizers"][spec]["label"]


def _interval(c: dict, digits: str) -> str:
    low, high = c["ci"]
    return f"{c['difference']:+{digits}} [{low:+{digits}}, {high:+{digits}}]"


def verdict_table(result: dict, analysis: dict) -> list[Report]:
    """One table per optimizer against the baseline, and the cross-problem scores."""
    baseline = analysis["baseline"]
    reports = []
    for spec, finals in analysis["final"].items():
        steps = analysis["steps"][spec]
        rows = []
        for problem, c in finals.items():
            s = steps[problem]
            metric = result["problems"][problem]["target"]["metric"]
            rows.append([
                problem, f"{metric}: {_interval(c, '.3g')}", f"{c['prob_improvement']:.2f}",
                f"{c['p_holm']:.2g}", c["verdict"], _interval(s, ".0f"), f"{s['p_holm']:.2g}",
                s["verdict"],
            ])  # fmt: skip
        reports.append(Report(
            f"{_label(result, spec)} against {_label(result, baseline)} "
            f"({result['config']['seeds']} paired seeds; Holm over {count(len(rows), 'problem')}, "
            f"α = {analysis['alpha']:g})",
            ["problem", "Δ final test (A − B) [95% CI]", "P(A>B)", "p", "final",
             "Δ steps to target [95% CI]", "p", "speed"],
            rows,
            ["Δ final: mean difference of the test metric after the last step; a diverged run "
             "counts as its metric at step 0",
             "Δ steps: mean difference of the steps to the validation target; a missed target "
             "counts as the step budget (so Δ is understated, never overstated)",
             "p: paired t-test, Holm-adjusted; P(A>B): Mann-Whitney U / (n·m)"],
        ))  # fmt: skip
    score_rows = [
        [_label(result, spec), f"{analysis['score'][spec]:.3f}",
         f"{analysis['iqm'][spec]['iqm']:.3f} [{analysis['iqm'][spec]['ci'][0]:.3f}, "
         f"{analysis['iqm'][spec]['ci'][1]:.3f}]"]
        for spec in result["optimizers"]
    ]  # fmt: skip
    reports.append(Report(
        f"Across {count(len(analysis['problems']), 'problem')}",
        ["optimizer", "profile score (τ ≤ 4)", "IQM normalised test score [95% CI]"],
        score_rows,
        ["profile score: AlgoPerf's integrated performance profile of steps to target "
         "(1: fastest everywhere)",
         "normalised score: (start − value)/(start − target); 1 = the target, 0 = step 0"],
    ))  # fmt: skip
    return reports


def _png(fig) -> str:
    from jaxlearn.plots.style import pyplot

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    pyplot().close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _figure(fig, caption: str) -> str:
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{_png(fig)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")  # fmt: skip


def _table(report: Report) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in report.header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
        for row in report.rows
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
    return (f"<h3>{html.escape(report.title)}</h3><table><tr>{head}</tr>{body}</table>"
            f"<ul class='notes'>{notes}</ul>")  # fmt: skip


_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:13px;margin:.5em 0}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}
figure{margin:1em 0}img{max-width:100%}figcaption{font-size:12px;color:#555}
.notes{font-size:12px;color:#555}code{background:#f3f3f3;padding:0 3px}
"""


def write_report(result: dict, analysis: dict, out: str | Path) -> Path:
    """``OUT/report.html``: the run's page (see the module docstring); returns its path."""
    from jaxlearn.plots.suite import plot_suite_curves
    from jaxlearn.plots.verdicts import (
        plot_iqm,
        plot_performance_profile,
        plot_sensitivity,
        plot_tuning_curves,
        plot_verdicts,
    )

    labels = {spec: _label(result, spec) for spec in result["optimizers"]}

    def relabel(mapping: dict[str, Any]) -> dict[str, Any]:
        return {labels[k]: v for k, v in mapping.items()}

    config, prov = result["config"], result["provenance"]
    parts = [
        f"<h1>Optimizer suite: {html.escape(', '.join(labels.values()))}</h1>",
        f"<p>{count(len(result['problems']), 'problem')}; K = {config['budget']} "
        f"quasi-random tuning trials per optimizer and problem on the validation split; "
        f"the chosen setting re-run "
        f"on E = {config['seeds']} fresh paired seeds"
        f"{' (quick variants)' if config['quick'] else ''}. "
        f"Baseline: <b>{html.escape(labels[analysis['baseline']])}</b>. Protocol "
        f"{result['protocol']}, configuration {config['hash']}.</p>",
        f"<p class='notes'>jaxlearn {prov['jaxlearn']}, jax {prov['jax']}, optax "
        f"{prov['optax']}, scipy {prov['scipy']}; {html.escape(prov['machine'])}, "
        f"{html.escape(prov['devices'])}; {prov['date']}.</p>",
        "<h2>Verdicts</h2>",
    ]  # fmt: skip
    for report in verdict_table(result, analysis):
        parts.append(_table(report))
    base = labels[analysis["baseline"]]
    for spec, finals in analysis["final"].items():
        for measure, values in (("final test metric", finals),
                                ("steps to target", analysis["steps"][spec])):  # fmt: skip
            if values:
                fig = plot_verdicts(values, optimizer=labels[spec], baseline=base, measure=measure)
                parts.append(_figure(fig, f"{labels[spec]} against {base}: {measure}"))
    parts.append("<h2>Across problems</h2>")
    profile = {**analysis["profile"], "ratio": relabel(analysis["profile"]["ratio"])}
    parts.append(_figure(plot_performance_profile(profile, scores=relabel(analysis["score"])),
                         "performance profile on steps to target"))  # fmt: skip
    parts.append(_figure(plot_iqm(relabel(analysis["iqm"])), "IQM of normalised test scores"))
    parts.append("<h2>The runs</h2>")
    parts.append(_table(table(result)))
    for problem in result["cells"]:
        info = result["problems"][problem]
        metric, higher = info["target"]["metric"], info["target"]["mode"] == "max"
        parts.append(f"<h3>{html.escape(problem)}: {html.escape(info['description'])}</h3>")
        parts.append(_figure(plot_suite_curves(result, problem), "validation curves"))
        if analysis["tuning"][problem]:
            parts.append(_figure(plot_tuning_curves(relabel(analysis["tuning"][problem]),
                                                    problem=problem, metric=metric),
                                 "tuning curves"))  # fmt: skip
        if analysis["sensitivity"][problem]:
            parts.append(_figure(plot_sensitivity(relabel(analysis["sensitivity"][problem]),
                                                  problem=problem, metric=metric,
                                                  higher_is_better=higher),
                                 "learning-rate sensitivity: every trial"))  # fmt: skip
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>jaxlearn suite</title>"
            f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>")  # fmt: skip
    path = Path(out) / "report.html"
    with atomic_path(path) as tmp:
        tmp.write_text(page)
    return path
