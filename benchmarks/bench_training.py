"""Training throughput: lore-rag's trainer vs a loop that re-encodes the frozen document side every step.

The paper's released code embeds every candidate chunk again with the (frozen) document encoder at each
step. lore-rag embeds each chunk once and reuses the vectors. Both paths below use the same model, data,
batch size, loss and optimiser, in one process, one after the other; examples/s counts training queries.

    python benchmarks/bench_training.py [--steps 8] [--batch-size 32] [--train FILE]

Prints a Markdown table: cold (empty document cache, includes embedding every chunk once), warm (cache
filled by an earlier run), and the re-encoding loop.
"""

from __future__ import annotations

import argparse
import copy
import shutil
import tempfile
import time
from pathlib import Path

import torch

from lore_rag.data.io import read_examples, write_examples
from lore_rag.defaults import bundled_train_path
from lore_rag.losses.tiered_infonce import compute_loss
from lore_rag.models.encoder import load_model
from lore_rag.training.collate import collate
from lore_rag.training.trainer import TrainConfig, _embed_queries_train, train


def reencoding_loop(examples, steps: int, batch_size: int, lr: float) -> float:
    """Reference-style loop: document vectors recomputed (without gradient) at every step."""
    base = load_model(None)
    base.eval()
    query_model = copy.deepcopy(base)
    query_model.max_seq_length = 128
    query_model.train()
    optimizer = torch.optim.AdamW(query_model.parameters(), lr=lr, weight_decay=0.01)
    start = time.perf_counter()
    for step in range(steps):
        batch = examples[step * batch_size : (step + 1) * batch_size]
        flat = [c for e in batch for c in e.chunks]
        with torch.no_grad():
            encoded = base.encode(flat, convert_to_numpy=True, normalize_embeddings=True, batch_size=64)
        vectors, offset = [], 0
        for e in batch:
            vectors.append(encoded[offset : offset + len(e.chunks)])
            offset += len(e.chunks)
        cands = collate(batch, vectors)
        q = _embed_queries_train(query_model, [e.query for e in batch], "cpu")
        scores = torch.einsum("bd,bcd->bc", q, cands.doc_vectors)
        loss = compute_loss(scores, cands.tiers, cands.mask)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(query_model.parameters(), 1.0)
        optimizer.step()
    return time.perf_counter() - start


def trainer_run(train_file: Path, steps: int, batch_size: int, lr: float, cache: Path, out: Path) -> float:
    start = time.perf_counter()
    train(
        TrainConfig(
            train_files=[str(train_file)],
            output_dir=str(out),
            max_steps=steps,
            batch_size=batch_size,
            lr=lr,
            anchor_weight=0.0,
            cache_dir=str(cache),
            save_steps=None,
            resume=False,
            show_progress=False,
        )
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--train", default=str(bundled_train_path()))
    args = parser.parse_args()
    rows = read_examples(args.train)[: args.steps * args.batch_size]
    n = len(rows)
    steps = (n + args.batch_size - 1) // args.batch_size
    work = Path(tempfile.mkdtemp(prefix="lore-bench-"))
    try:
        data = work / "train.jsonl"
        write_examples(rows, data)
        cold = trainer_run(data, steps, args.batch_size, 1e-5, work / "cache", work / "run-cold")
        warm = trainer_run(data, steps, args.batch_size, 1e-5, work / "cache", work / "run-warm")
        ref = reencoding_loop(rows, steps, args.batch_size, 1e-5)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    chunks = sum(len(e.chunks) for e in rows)
    print(f"{steps} steps x batch {args.batch_size} ({n} queries, {chunks} candidate chunks), torch threads {torch.get_num_threads()}\n")
    print("| path | seconds | examples/s | speed-up vs re-encoding |")
    print("|---|---:|---:|---:|")
    for name, seconds in (
        ("re-encoding loop (reference-style)", ref),
        ("lore-rag trainer, cold document cache", cold),
        ("lore-rag trainer, warm document cache", warm),
    ):
        print(f"| {name} | {seconds:.1f} | {n / seconds:.1f} | {ref / seconds:.1f}x |")
    print("\nTrainer times include loading the model and saving the checkpoint; a run of one epoch re-uses the cache for")
    print("every later step, epoch, seed and run, so the warm figure is what repeated training costs.")


if __name__ == "__main__":
    main()
