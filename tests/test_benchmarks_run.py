"""benchmarks/run.py writes results only when asked: the quick run is a smoke test that leaves the
work tree clean (the real sections are exercised by `.ci/run`)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
run = importlib.import_module("benchmarks.run")  # benchmarks/ is not a package on sys.path


@pytest.fixture
def one_fake_section(monkeypatch):
    """benchmarks.run with one instant section instead of the real ones."""
    fake = types.ModuleType("fake_section")
    fake.rows = lambda quick=False: [{"case": "x", "ms": 1.5 if quick else 2.5}]
    monkeypatch.setitem(sys.modules, "fake_section", fake)
    monkeypatch.setattr(run, "SECTIONS", {"fake": "fake_section"})


def test_the_quick_run_writes_nothing(one_fake_section, tmp_path, capsys):
    committed = ROOT / "benchmarks" / "results.json"
    before = committed.read_bytes() if committed.exists() else None
    results = run.main(["--quick"])
    assert results["sections"]["fake"]["rows"] == [{"case": "x", "ms": 1.5}]
    assert "JSON:" not in capsys.readouterr().out
    assert (committed.read_bytes() if committed.exists() else None) == before
    status = subprocess.run(["git", "status", "--porcelain", "benchmarks"], cwd=ROOT,
                            capture_output=True, text=True)  # fmt: skip
    assert "results.json" not in status.stdout


def test_json_is_written_where_asked(one_fake_section, tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    run.main(["--json", str(path)])
    assert json.loads(path.read_text())["sections"]["fake"]["rows"] == [{"case": "x", "ms": 2.5}]
    # --save means the committed file; redirect it to a temporary copy for the test.
    monkeypatch.setattr(run, "__file__", str(tmp_path / "run.py"))
    run.main(["--save"])
    assert (tmp_path / "results.json").exists()
