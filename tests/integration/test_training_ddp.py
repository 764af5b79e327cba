"""Two processes on CPU (torchrun, gloo): each rank trains on its own batches, rank 0 writes one checkpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lore_rag.data.io import read_examples, write_examples
from lore_rag.models.checkpoint import read_manifest
from lore_rag.models.encoder import LoreEncoder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("ddp-data")
    write_examples(read_examples(shared_data / "lore" / "train.jsonl")[:32], root / "train.jsonl")
    write_examples(read_examples(shared_data / "lore" / "validation_hotpotqa.jsonl")[:12], root / "val.jsonl")
    return root


def _train(data, out, *launcher, batch_size):
    args = [
        "train", "--train", str(data / "train.jsonl"), "--validation", str(data / "val.jsonl"),
        "--output", str(out), "--no-compare", "--batch-size", str(batch_size), "--lr", "5e-5",
        "--cache-dir", str(data / "cache"), "--no-show-progress", "--device", "cpu",
    ]  # fmt: skip
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    done = subprocess.run([*launcher, "-m", "lore_rag", *args], capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    return done


@pytest.fixture(scope="module")
def single(data, tmp_path_factory):
    """The same global batch (8) in one process: the reference both launchers are compared with."""
    out = tmp_path_factory.mktemp("single") / "run"
    _train(data, out, sys.executable, batch_size=8)
    return out


TORCHRUN = (sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2")
# accelerate's --cpu means one process; --multi_gpu is its torch.distributed launcher, gloo when there is no GPU
ACCELERATE = (
    sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
    "--mixed_precision", "no", "--dynamo_backend", "no",
)  # fmt: skip


@pytest.mark.parametrize("launcher", [TORCHRUN, ACCELERATE], ids=["torchrun", "accelerate-launch"])
def test_two_processes_split_the_batches_and_match_one_process(data, single, tmp_path, launcher):
    ddp = tmp_path / "ddp"
    done = _train(data, ddp, *launcher, batch_size=4)

    # 32 rows and their 32 plain questions, 4 per rank and step, 2 ranks: one epoch is 8 steps (16 in one process
    # with batch 4)
    history = json.loads((ddp / "history.json").read_text())
    assert [s["step"] for s in history["steps"]] == list(range(1, 9)), done.stderr[-2000:]
    state = json.loads((ddp / "checkpoints" / "checkpoint-8" / "trainer_state.json").read_text())
    assert state["epoch"] == pytest.approx(1.0) and state["global_step"] == 8
    # rank 0 alone wrote the checkpoint and its files (no per-rank copies)
    assert sorted(p.name for p in ddp.iterdir() if p.is_dir()) == ["best", "checkpoints", "last"]
    assert (ddp / "checkpoints" / "checkpoint-8" / "rng_state_1.pth").is_file()  # both ranks' RNG for resume
    m_ddp, m_single = read_manifest(ddp / "last"), read_manifest(single / "last")
    assert m_ddp["step"] == m_single["step"] == 8
    for view in ("rewritten", "original"):
        for metric in ("P@3", "P@5"):
            assert abs(m_ddp["metrics"][view][metric] - m_single["metrics"][view][metric]) <= 10.0, (view, metric)
    encoder = LoreEncoder.from_checkpoint(ddp)
    assert encoder.embed_queries(["a question"]).shape == (1, 384)
