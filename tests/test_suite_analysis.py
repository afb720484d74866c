"""From a suite result to verdicts, a report page and shipped references: the analysis reads
the right numbers, identical optimizers are never told apart, a hopeless one is called worse,
and the references are refused when they do not fit."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from jaxlearn.suite import Target, run
from jaxlearn.suite.analysis import analyze
from jaxlearn.suite.problems import get
from jaxlearn.suite.references import ReferenceMismatch, load_references
from jaxlearn.suite.report import verdict_table, write_report

PROBLEMS = [  # short runs, with targets Adam reaches in them
    dataclasses.replace(get("quadratic").quick(), steps=60, eval_every=10,
                        target=Target("loss", "min", 300.0)),
    dataclasses.replace(get("book_function").quick(), steps=60, eval_every=10,
                        target=Target("f", "min", 6.0)),
]  # fmt: skip


@pytest.fixture(scope="module")
def result():
    # "adam@constant" is Adam itself under another name: the same trials, the same runs
    return run(["adam", "adam@constant", "sgd:lr=1e-5"], problems=PROBLEMS, budget=3, seeds=3,
               log=None, progress=False)  # fmt: skip


@pytest.fixture(scope="module")
def analysis(result):
    return analyze(result, baseline="adam", n_resamples=999)


def test_an_optimizer_against_itself_is_not_distinguishable(analysis):
    for measure in ("final", "steps"):
        for problem, c in analysis[measure]["adam@constant"].items():
            assert c["difference"] == 0 and c["p_value"] == 1, (measure, problem)
            assert c["verdict"] == "not distinguishable"
            assert c["prob_improvement"] == 0.5


def test_a_hopeless_optimizer_is_called_worse(result, analysis):
    final = analysis["final"]["sgd:lr=1e-5"]
    assert {c["verdict"] for c in final.values()} == {"worse"}
    # the numbers are the test finals of the evaluation runs
    quad = result["cells"]["quadratic"]
    a = np.array(quad["sgd:lr=1e-5"]["eval"]["final"]["test"])
    b = np.array(quad["adam"]["eval"]["final"]["test"])
    assert final["quadratic"]["difference"] == pytest.approx((a - b).mean())


def test_profiles_and_scores_cover_every_optimizer(result, analysis):
    assert set(analysis["score"]) == set(result["optimizers"])
    assert analysis["score"]["adam"] == analysis["score"]["adam@constant"]
    assert analysis["score"]["sgd:lr=1e-5"] < analysis["score"]["adam"]
    assert analysis["iqm"]["sgd:lr=1e-5"]["iqm"] < analysis["iqm"]["adam"]["iqm"]


def test_tuning_curves_and_sensitivity_read_every_trial(result, analysis):
    curve = analysis["tuning"]["quadratic"]["adam"]
    assert len(curve["mean"]) == 3
    finals = np.array(result["cells"]["quadratic"]["adam"]["tune"]["final"], float)
    assert curve["mean"][-1] <= finals.mean()  # a loss: the best of 3 draws beats the average
    lrs = analysis["sensitivity"]["quadratic"]["adam"]["learning_rate"]
    assert lrs == [h["lr"] for h in result["cells"]["quadratic"]["adam"]["tune"]["hyperparams"]]
    assert "sgd:lr=1e-5" not in analysis["sensitivity"]["quadratic"]  # its rate is pinned


def test_the_verdict_table_names_each_problem(result, analysis):
    text = "\n".join(str(r) for r in verdict_table(result, analysis))
    assert "SGD lr=1e-05 against Adam" in text
    assert text.count("worse") >= 2 and "quadratic" in text and "book_function" in text


def test_the_report_is_one_page_that_needs_no_network(result, analysis, tmp_path):
    path = write_report(result, analysis, tmp_path)
    page = path.read_text()
    assert page.startswith("<!doctype html>")
    assert len(re.findall(r'src="data:image/png;base64,', page)) >= 8
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched from anywhere
    assert "not distinguishable" in page and "worse" in page


def test_the_analysis_refuses_an_unknown_baseline(result):
    with pytest.raises(ValueError, match="baseline 'optax:lion' is not among"):
        analyze(result, baseline="optax:lion")


def test_references_of_another_budget_are_refused_with_the_fix():
    with pytest.raises(ReferenceMismatch, match="--rerun-references"):
        load_references(PROBLEMS, budget=3, seeds=2, quick=True)


@pytest.mark.parametrize("quick", [True, False], ids=["quick", "full"])
def test_the_shipped_references_are_this_versions(quick):
    """Every shipped cell has the configuration hash this version computes (protocol, problem
    name and version, space, K, E) and its problem's current definition: a change to a problem
    or a default space without new references (or a version bump) fails here."""
    from jaxlearn.suite import PROBLEMS
    from jaxlearn.suite.references import REFERENCE_RULES, _read
    from jaxlearn.suite.store import problem_fingerprint

    shipped = _read(quick)
    assert shipped is not None, "jaxlearn/suite/references/ lacks its file"
    problems = [p.quick() if quick else p for p in PROBLEMS.values()]
    k, e = shipped["config"]["budget"], shipped["config"]["seeds"]
    assert (k, e) == ((4, 2) if quick else (16, 5))
    loaded = load_references(problems, k, e, quick)  # raises on any stale cell
    for problem in problems:
        for spec in REFERENCE_RULES:
            cell = loaded["cells"][problem.name][spec]
            assert cell["fingerprint"] == problem_fingerprint(problem), (problem.name, spec)
            if cell["eval"] is not None:  # None only when every trial diverged
                assert len(cell["eval"]["final"]["test"]) == e
