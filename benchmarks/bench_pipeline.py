"""The cold default pipeline against the same job done the reference way, in one run.

``lore-rag train`` with no arguments trains InfoNCE and LORE on the bundled data and evaluates the raw model and
both checkpoints on the bundled validation set, rewritten and original questions, in both protocols (each
question's own candidates, and one index of all chunks). This script times exactly that call, from an empty
document cache, against a reference-style pipeline that does what the paper's released scripts do
(mazehart/Lore-RAG ``2_TrainModels/models.py`` and ``3_Test/evaluate.py``: ``DualEncoderModel.forward`` embeds every
query's candidate chunks with the frozen document encoder at each training step and again for each evaluated model
and query set): two training epochs (InfoNCE, LORE) and the candidate-set evaluation of raw, InfoNCE and LORE on
both views. The reference side does less work than ours (the paper's rows only: no plain questions as extra rows, no
mined negatives, no original-query anchor; no corpus-wide evaluation, no checkpoints with both sides, no model card),
which favours it. ``lore-rag train`` trains in bf16 autocast where the device computes bf16 natively (CPUs with
AVX512-BF16 / AMX, GPUs with bf16) and in fp32 elsewhere; ``--fp32-row`` times ours a second time, from another
empty cache, with ``--no-bf16`` (fp32 everywhere), where the default chose bf16.

    python benchmarks/bench_pipeline.py [--train-rows N] [--validation-rows N] [--fp32-row]

Prints wall and CPU seconds of each side and their ratio, and each side's validation numbers (rewritten P@3 and
N1@3) to show that both trained comparable models.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_training import reencoding_train  # noqa: E402

from lore_rag.data.io import read_examples, write_examples  # noqa: E402
from lore_rag.defaults import bundled_train_path, bundled_validation_path  # noqa: E402
from lore_rag.evaluation.candidates import per_question_metrics  # noqa: E402
from lore_rag.models.encoder import load_model  # noqa: E402
from lore_rag.training.pipeline import train_and_evaluate  # noqa: E402
from lore_rag.training.trainer import TrainConfig  # noqa: E402

BATCH = 32
EVAL_BATCH = 16  # the released evaluate.py's default


def reencoding_eval(query_model, base, examples, view: str) -> dict[str, float]:
    """Candidate-set P@3 / N1@3 with every question's candidates embedded again, as the reference evaluation does."""
    rows = [e if view == "rewritten" else e.as_original() for e in examples if view == "rewritten" or e.original_query]
    scores = []
    with torch.no_grad():
        for start in range(0, len(rows), EVAL_BATCH):
            batch = rows[start : start + EVAL_BATCH]
            queries = query_model.encode([e.query for e in batch], convert_to_numpy=True, normalize_embeddings=True)
            for q, e in zip(queries, batch):
                docs = base.encode(e.chunks, convert_to_numpy=True, normalize_embeddings=True, batch_size=64)
                scores.append(docs @ q)
    values = per_question_metrics(scores, rows, ks=(3,))
    return {name: float(np.mean(v)) for name, v in values.items()}


def reference_pipeline(train_rows, validation) -> tuple[float, float, dict[str, dict[str, float]]]:
    """Two re-encoding training epochs and the re-encoding evaluation of raw, InfoNCE and LORE on both views."""
    wall, cpu = time.perf_counter(), time.process_time()
    steps = (len(train_rows) + BATCH - 1) // BATCH
    models = {}
    for name, alpha, beta in (("InfoNCE", 1.0, 1.0), ("LORE", 1.0, 3.0)):
        base, models[name], _ = reencoding_train(train_rows, steps, BATCH, alpha=alpha, beta=beta)
    models = {"raw": base, **models}
    numbers = {
        f"{name} {view}": reencoding_eval(m, base, validation, view)
        for name, m in models.items()
        for view in ("rewritten", "original")
    }
    return time.perf_counter() - wall, time.process_time() - cpu, numbers


def lore_rag_pipeline(train_file: Path, validation_file: Path, work: Path, *, bf16: bool | None = None):
    """``lore-rag train`` with no arguments (here with the files named), from an empty document cache in ``work``.

    ``bf16``: ``None`` is the default (bf16 where the device has it), ``False`` is ``--no-bf16``.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    config = TrainConfig(
        train_files=[str(train_file)],
        validation_file=str(validation_file),
        output_dir=str(work / "lore-output"),
        cache_dir=str(work / "cache"),
        show_progress=False,
        bf16=bf16,
    )
    result = train_and_evaluate(config, losses=("infonce", "lore"), seeds=(0,), corpus=True)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-rows", type=int, default=None, help="first N bundled training rows (default: all)")
    parser.add_argument("--validation-rows", type=int, default=None, help="first N validation rows (default: all)")
    parser.add_argument(
        "--fp32-row",
        action="store_true",
        help="also time ours with --no-bf16 (another empty cache) where bf16 is the default",
    )
    args = parser.parse_args()
    train_rows = read_examples(bundled_train_path())[: args.train_rows]
    validation = read_examples(bundled_validation_path())[: args.validation_rows]
    load_model(None)  # imports and file cache warm before anything is timed
    precision = TrainConfig().precision  # what the default chooses on this machine
    with tempfile.TemporaryDirectory(prefix="lore-bench-") as tmp:
        work = Path(tmp)
        write_examples(train_rows, work / "train.jsonl")
        write_examples(validation, work / "validation.jsonl")
        ref_wall, ref_cpu, ref_numbers = reference_pipeline(train_rows, validation)
        our_wall, our_cpu, result = lore_rag_pipeline(work / "train.jsonl", work / "validation.jsonl", work)
        fp32 = (
            lore_rag_pipeline(work / "train.jsonl", work / "validation.jsonl", work / "fp32", bf16=False)
            if args.fp32_row and precision == "bf16"
            else None
        )
    print(
        f"{len(train_rows)} training rows (1 epoch each of InfoNCE and LORE, batch {BATCH}), {len(validation)} "
        f"validation questions; torch {torch.__version__}, {torch.get_num_threads()} threads\n"
    )
    print("| pipeline | wall s | CPU s | speed-up (wall) | speed-up (CPU) |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| reference-style (re-encodes candidates at every step and evaluation) | {ref_wall:.0f} | {ref_cpu:.0f} "
        "| 1.0x | 1.0x |"
    )
    print(
        f"| `lore-rag train` default ({precision} here), empty document cache (+ plain rows, mined negatives, "
        f"anchor, corpus-wide evaluation) | {our_wall:.0f} | {our_cpu:.0f} | {ref_wall / our_wall:.1f}x "
        f"| {ref_cpu / our_cpu:.1f}x |"
    )
    if fp32 is not None:
        print(
            f"| `lore-rag train --no-bf16` (fp32), empty document cache | {fp32[0]:.0f} | {fp32[1]:.0f} "
            f"| {ref_wall / fp32[0]:.1f}x | {ref_cpu / fp32[1]:.1f}x |"
        )
    print("\nReference side's validation numbers (candidate sets):")
    for name, values in ref_numbers.items():
        print(f"  {name}: " + ", ".join(f"{k} {v:.1f}" for k, v in values.items()))
    print(f"\nlore-rag side's tables ({precision}):")
    for table in result.tables.values():
        print(table)
    if fp32 is not None:
        print("\nlore-rag side's tables with --no-bf16 (fp32):")
        for table in fp32[2].tables.values():
            print(table)


if __name__ == "__main__":
    main()
