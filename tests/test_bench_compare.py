"""bench.compare against a baseline: a ratio worse by more than the tolerance fails the comparison, in the
direction the ratio reads (lower is better for a time ratio); every baseline entry names a runnable bench."""

from __future__ import annotations

import json
import subprocess
import sys

from bench import compare
from bench.harness import REPO, Results


def write(path, ratios: dict) -> str:
    path.write_text(json.dumps({"ratios": ratios}))
    return str(path)


def test_a_ratio_worse_than_the_tolerance_fails_and_names_it(tmp_path, capsys):
    baseline = write(
        tmp_path / "baseline.json",
        {
            "dedup.vs_datatrove": {"value": 10.0, "higher_is_better": True, "date": "2026-11-24", "machine": "2 cores"},
            "report.vs_reread": {"value": 0.5, "higher_is_better": False},
            "langid.vs_datatrove": {"value": 2.0},
        },
    )
    steady = write(
        tmp_path / "steady.json",
        {
            "dedup.vs_datatrove": {"value": 8.0},
            "report.vs_reread": {"value": 0.6},
            "langid.vs_datatrove": {"value": 2.2},
        },
    )
    assert compare.main([steady, "--baseline", baseline]) == 0  # -20% and -17% are within 25%

    worse = write(
        tmp_path / "worse.json",
        {"dedup.vs_datatrove": {"value": 12.0}, "report.vs_reread": {"value": 0.8}, "new.ratio": {"value": 1.0}},
    )
    assert compare.main([worse, "--baseline", baseline]) == 1
    out = capsys.readouterr().out
    [line] = [line for line in out.splitlines() if "WORSE" in line]
    assert line.startswith("report.vs_reread")  # a time ratio that went up is worse; dedup's rise is better
    assert "new.ratio" in out and "1 baseline ratios not measured" in out
    assert compare.main([worse, "--baseline", baseline, "--tolerance", "0.5"]) == 0


def test_a_run_written_by_the_harness_compares_with_the_shipped_baseline(tmp_path):
    results = Results()
    results.add("paragraph_dedup.vs_datatrove", 0.5, "docs/s, curate / datatrove")  # a sixth of the baseline's 2.94
    results.write(tmp_path / "run.json")
    run = subprocess.run(
        [sys.executable, "-m", "bench.compare", str(tmp_path / "run.json")], cwd=REPO, capture_output=True, text=True
    )
    assert run.returncode == 1 and "paragraph_dedup.vs_datatrove" in run.stdout and "WORSE" in run.stdout
    assert json.loads((tmp_path / "run.json").read_text())["machine"]["cpus"] >= 1


def test_every_baseline_ratio_says_when_where_and_how_it_was_measured():
    baseline = json.loads((REPO / "bench" / "baseline.json").read_text())["ratios"]
    results = (REPO / "bench" / "RESULTS.md").read_text()
    for key, entry in baseline.items():
        assert entry["value"] > 0 and entry["date"].startswith("20") and "load average" in entry["machine"], key
        module = entry["command"].split()[2]  # python -m bench.<name> ...
        assert module.startswith("bench.") and (REPO / "bench" / f"{module.split('.')[1]}.py").exists(), key
        assert f"## {entry['results_section']}" in results, key
