"""benchmarks/bench_mnrl.py: a real (tiny) MNRL whole-model fine-tune, the index rebuilt, scored beside raw."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lore_rag.data.schema import Example, Tier

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))


def test_pairs_are_query_positive_and_the_rows_other_chunks():
    from bench_mnrl import pairs

    rows = [
        Example(
            query="q",
            chunks=["p1", "p2", "d", "n"],
            tiers=[Tier.POSITIVE, Tier.POSITIVE, Tier.DISTRACTOR, Tier.NEGATIVE],
        ),
        Example(query="short", chunks=["p"], tiers=[Tier.POSITIVE]),
    ]
    columns = pairs(rows, hard_negatives=2, seed=0)
    assert columns["anchor"] == ["q", "q"] and columns["positive"] == ["p1", "p2"]
    for a, b in zip(columns["negative_1"], columns["negative_2"]):
        assert {a, b} == {"d", "n"}
    assert pairs(rows, hard_negatives=0, seed=0)["anchor"] == ["q", "q", "short"]


def test_bench_mnrl_trains_rebuilds_and_reports_paired_differences(tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1", LORE_RAG_HOME=str(tmp_path / "home"))
    out = tmp_path / "mnrl.json"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "bench_mnrl.py"),
            "--train-rows",
            "12",
            "--max-steps",
            "2",
            "--batch-size",
            "6",
            "--max-seq-length",
            "48",
            "--eval-rows",
            "6",
            "--bootstrap",
            "1000",
            "--output",
            str(tmp_path / "model"),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "MNRL: 2 steps on 12 rows" in done.stdout and "Paired difference vs raw" in done.stdout
    data = json.loads(out.read_text())
    assert data["steps"] == 2 and data["training_seconds"] > 0 and data["reindex_seconds"] > 0
    assert set(data["points"]) == {"raw", "MNRL (whole model, index rebuilt)"}
    assert (tmp_path / "model" / "config.json").is_file()  # the tuned model is kept for reuse
