"""The benchmark scripts run end to end on a tiny workload and print their tables (numbers are not judged here)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lore_rag.data.io import read_examples, write_examples

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def _run(script: str, *args: str, timeout: int = 900) -> str:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _table(stdout: str) -> dict[str, list[str]]:
    """Markdown table rows of ``stdout`` keyed by their first cell."""
    rows = {}
    for line in stdout.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def test_training_benchmark_times_both_paths(tmp_path, shared_data):
    rows = read_examples(shared_data / "lore" / "train.jsonl")[:8]
    write_examples(rows, tmp_path / "train.jsonl")
    out = _run("bench_training.py", "--train", str(tmp_path / "train.jsonl"), "--batch-size", "4", "--group-row")
    table = _table(out)
    assert "2 steps x batch 4 (8 queries" in out
    ref = table["re-encoding loop (reference-style)"]
    assert ref[2] == "1.0x"
    defaults = next(name for name in table if name.startswith("lore-rag trainer, warm, `lore-rag train` defaults ("))
    assert defaults.endswith(" here; more work: see below)")
    for name in (
        "lore-rag trainer, cold document cache, fp32",
        "lore-rag trainer, warm document cache, fp32",
        "lore-rag trainer, warm, `--group-by-length`",
        defaults,
    ):
        seconds, per_second, speedup, total, total_speedup, cpu, cpu_speedup = table[name]
        assert float(seconds) > 0 and float(per_second) > 0 and float(total) > 0 and float(cpu) > 0
        for ratio in (speedup, total_speedup, cpu_speedup):
            assert re.fullmatch(r"\d+\.\dx", ratio)
    distinct = len({c for e in rows for c in e.chunks})
    assert f"embedding the {distinct} distinct chunks once" in out


def test_pipeline_benchmark_times_the_default_pipeline_against_the_reference():
    out = _run("bench_pipeline.py", "--train-rows", "8", "--validation-rows", "6")
    table = _table(out)
    assert "8 training rows" in out and "6 validation questions" in out
    reference = table["reference-style (re-encodes candidates at every step and evaluation)"]
    assert reference[2:] == ["1.0x", "1.0x"]
    ours = next(cells for name, cells in table.items() if name.startswith("`lore-rag train` default"))
    wall, cpu, wall_ratio, cpu_ratio = ours
    assert float(wall) > 0 and float(cpu) > 0
    assert re.fullmatch(r"\d+\.\dx", wall_ratio) and re.fullmatch(r"\d+\.\dx", cpu_ratio)
    # both sides trained comparable models, and ours reports both protocols
    assert "LORE rewritten: P@3" in out and "corpus-wide" in out and "paired difference from raw" in out


def test_retrieval_benchmark_runs_embedded_and_server():
    out = _run("bench_retrieval.py", "--chunks", "40", "--queries", "4", "--slice", "20", "--documents", "8")
    table = _table(out)
    ratio = table["index / bare encode throughput (target >= 0.9x)"]
    assert len(ratio) == 2 and all(re.fullmatch(r"\d+\.\d+x", r) for r in ratio)
    documents = table["documents: chunk in tokens + index / bare encode of the chunks (target >= 0.9x)"]
    assert re.fullmatch(r"\d+\.\d+x", documents[0])
    assert any(k.startswith("LORE / raw latency") for k in table)
