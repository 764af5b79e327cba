"""Training throughput: lore-rag's trainer vs a loop that re-encodes the frozen document side every step.

The paper's released code embeds every candidate chunk again with the (frozen) document encoder at each
step. lore-rag embeds each chunk once and reuses the vectors. Both paths below use the same model, data,
batch size, loss, optimiser and clipping, in one process, one after the other; examples/s counts training
queries.

    python benchmarks/bench_training.py [--steps N] [--batch-size 32] [--train FILE] [--no-anchor-row] [--bf16-row]
        [--group-row]

Prints a Markdown table with two timings per path: the training steps alone (forward, backward, optimiser; for the
reference loop this includes its re-encoding, which is part of its steps) and end to end (loading the model,
embedding documents, the steps and saving a checkpoint). Trainer rows: cold (empty document cache, so every chunk is
embedded once) and warm (cache filled by the cold run, as for every later run, seed or epoch), both in fp32
(``--no-bf16``); optionally cold and warm with bf16 autocast (``--bf16-row``; bf16 document vectors have their own
cache) and warm with batches of similar query length (``--group-row``: ``--group-by-length``, with and without
bf16); and one epoch of ``lore-rag train``'s defaults (bf16 where the CPU has it), which do more work than the
reference: the plain questions as extra rows (twice the steps), 64 mined negatives per row and the original-query
anchor (a second query batch per step).
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
from lore_rag.training.trainer import TrainConfig, train

LR = 1e-5


def _pad(batch, encoded):
    """``[batch, max_chunks, dim]`` document vectors, tiers and mask from one flat block of chunk vectors."""
    width = max(len(e.chunks) for e in batch)
    docs = torch.zeros(len(batch), width, encoded.shape[1])
    tiers = torch.zeros(len(batch), width, dtype=torch.long)
    mask = torch.zeros(len(batch), width, dtype=torch.bool)
    offset = 0
    for i, e in enumerate(batch):
        n = len(e.chunks)
        docs[i, :n] = torch.from_numpy(encoded[offset : offset + n])
        tiers[i, :n] = torch.tensor([int(t) for t in e.tiers])
        mask[i, :n] = True
        offset += n
    return docs, tiers, mask


def _embed_queries(model, texts):
    features = model.preprocess(texts)
    features = {k: v for k, v in features.items() if isinstance(v, torch.Tensor)}
    return torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)


def reencoding_train(examples, steps: int, batch_size: int, *, alpha: float = 1.0, beta: float = 3.0):
    """Reference-style training: document vectors recomputed (without gradient) at every step.

    Returns:
        (the frozen base model, the trained query model, seconds in the training steps).
    """
    base = load_model(None)
    base.eval()
    query_model = copy.deepcopy(base)
    query_model.max_seq_length = 128
    query_model.train()
    optimizer = torch.optim.AdamW(query_model.parameters(), lr=LR, weight_decay=0.01)
    steps_start = time.perf_counter()
    for step in range(steps):
        batch = examples[step * batch_size : (step + 1) * batch_size]
        flat = [c for e in batch for c in e.chunks]
        with torch.no_grad():
            encoded = base.encode(flat, convert_to_numpy=True, normalize_embeddings=True, batch_size=64)
        docs, tiers, mask = _pad(batch, encoded)
        q = _embed_queries(query_model, [e.query for e in batch])
        scores = torch.einsum("bd,bcd->bc", q, docs)
        loss = compute_loss(scores, tiers, mask, alpha=alpha, beta=beta)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(query_model.parameters(), 1.0)
        optimizer.step()
    query_model.eval()
    return base, query_model, time.perf_counter() - steps_start


def reencoding_loop(examples, steps: int, batch_size: int, out: Path) -> tuple[float, float]:
    """The reference-style loop of one LORE epoch, with loading and saving.

    Returns:
        (seconds in the training steps, seconds end to end).
    """
    start = time.perf_counter()
    _, query_model, steps_seconds = reencoding_train(examples, steps, batch_size)
    query_model.save(str(out))
    return steps_seconds, time.perf_counter() - start


#: The reference loop's work: the paper's loss on the rewritten rows only. ``lore-rag train``'s defaults add plain
#: rows, mined negatives and the anchor; the "default settings" row measures those.
LIKE_FOR_LIKE = {"beta": 3.0, "anchor_weight": 0.0, "include_original": False, "mined_negatives": 0}


def trainer_run(
    train_file: Path, steps: int | None, batch_size: int, cache: Path, out: Path, *, defaults: bool = False, **kw
):
    """One :func:`train` call (through ``SentenceTransformerTrainer``); returns its per-phase timings.

    ``defaults``: ``lore-rag train``'s own settings (one epoch of them) instead of the reference loop's work.
    """
    settings = {} if defaults else {**LIKE_FOR_LIKE, "max_steps": steps}
    result = train(
        TrainConfig(
            train_files=[str(train_file)],
            output_dir=str(out),
            batch_size=batch_size,
            lr=LR,
            cache_dir=str(cache),
            save_steps=None,
            resume=False,
            show_progress=False,
            **{**settings, **kw},
        )
    )
    return result.timings


def _cpu_timed(cpu: dict[str, float], key: str, fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, recording its CPU seconds (all threads of this process) in ``cpu[key]``.

    CPU time barely moves when other jobs share the machine, where wall time can double: the CPU columns are the
    ones to trust on a busy machine (this process runs torch on every core it has, so on an idle machine wall time
    is about CPU time / threads).
    """
    start = time.process_time()
    out = fn(*args, **kwargs)
    cpu[key] = time.process_time() - start
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=None, help="optimiser steps (default: one epoch of --train)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--train", default=str(bundled_train_path()))
    parser.add_argument("--no-anchor-row", action="store_true", help="skip the row of lore-rag train's defaults")
    parser.add_argument("--bf16-row", action="store_true", help="add a warm row with bf16 autocast (CPU with AMX)")
    parser.add_argument("--group-row", action="store_true", help="add warm rows with --group-by-length")
    args = parser.parse_args()
    rows = read_examples(args.train)
    if args.steps:
        rows = rows[: args.steps * args.batch_size]
    n = len(rows)
    steps = (n + args.batch_size - 1) // args.batch_size
    work = Path(tempfile.mkdtemp(prefix="lore-bench-"))
    try:
        data = work / "train.jsonl"
        write_examples(rows, data)
        cache = work / "cache"
        load_model(None)  # imports and file cache warm before anything is timed
        cpu: dict[str, float] = {}
        ref_steps, ref_total = _cpu_timed(cpu, "ref", reencoding_loop, rows, steps, args.batch_size, work / "run-ref")
        fp32 = {"bf16": False}  # the fp32 rows say so: the default is bf16 where the CPU has it
        cold = _cpu_timed(cpu, "cold", trainer_run, data, steps, args.batch_size, cache, work / "run-cold", **fp32)
        warm = _cpu_timed(cpu, "warm", trainer_run, data, steps, args.batch_size, cache, work / "run-warm", **fp32)
        bf16_cold = bf16 = None
        if args.bf16_row:  # --bf16 embeds documents in bf16, cached apart: its first run is cold again
            bf16_cold = _cpu_timed(
                cpu, "bf16-cold", trainer_run, data, steps, args.batch_size, cache, work / "run-bf16c", bf16=True
            )
            bf16 = _cpu_timed(
                cpu, "bf16", trainer_run, data, steps, args.batch_size, cache, work / "run-bf16", bf16=True
            )
        grouped = {}
        if args.group_row:
            for key, extra in (("grouped", fp32), ("grouped-bf16", {"bf16": True})):
                if key == "grouped" or args.bf16_row:
                    grouped[key] = _cpu_timed(
                        cpu,
                        key,
                        trainer_run,
                        data,
                        steps,
                        args.batch_size,
                        cache,
                        work / f"run-{key}",
                        group_by_length=True,
                        **extra,
                    )
        default = (
            None
            if args.no_anchor_row
            else _cpu_timed(
                cpu, "default", trainer_run, data, None, args.batch_size, cache, work / "run-def", defaults=True
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    chunks = sum(len(e.chunks) for e in rows)
    unique = len({c for e in rows for c in e.chunks})
    print(
        f"{steps} steps x batch {args.batch_size} ({n} queries, {chunks} candidate chunks, one epoch), "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads\n"
    )
    print(
        "| path | steps s | examples/s | speed-up (steps) | end-to-end s | speed-up (end to end) "
        "| end-to-end CPU s | speed-up (CPU) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    table = [("re-encoding loop (reference-style)", ref_steps, ref_total, cpu["ref"], n)]
    table.append(("lore-rag trainer, cold document cache, fp32", cold["steps"], cold["total"], cpu["cold"], n))
    table.append(("lore-rag trainer, warm document cache, fp32", warm["steps"], warm["total"], cpu["warm"], n))
    if bf16_cold is not None and bf16 is not None:
        name = "lore-rag trainer, cold, `--bf16` (bf16 document cache empty)"
        table.append((name, bf16_cold["steps"], bf16_cold["total"], cpu["bf16-cold"], n))
        table.append(("lore-rag trainer, warm, `--bf16` (autocast)", bf16["steps"], bf16["total"], cpu["bf16"], n))
    labels = {"grouped": "`--group-by-length`", "grouped-bf16": "`--group-by-length --bf16`"}
    for key, timings in grouped.items():
        table.append((f"lore-rag trainer, warm, {labels[key]}", timings["steps"], timings["total"], cpu[key], n))
    if default is not None:
        rows_seen = 2 * n if TrainConfig().include_original else n
        name = (
            f"lore-rag trainer, warm, `lore-rag train` defaults ({TrainConfig().precision} here; more work: see below)"
        )
        table.append((name, default["steps"], default["total"], cpu["default"], rows_seen))
    for name, step_s, total_s, cpu_s, examples in table:
        print(
            f"| {name} | {step_s:.1f} | {examples / step_s:.1f} | {ref_steps / step_s:.1f}x "
            f"| {total_s:.1f} | {ref_total / total_s:.1f}x | {cpu_s:.0f} | {cpu['ref'] / cpu_s:.1f}x |"
        )
    print(
        f"\ncold trainer: {cold['embed_documents']:.1f}s embedding the {unique} distinct chunks once, "
        f"{cold['load']:.1f}s loading, {cold['save']:.1f}s saving (checkpoint, history, plot)"
    )
    if bf16_cold is not None:
        print(f"cold --bf16 trainer: {bf16_cold['embed_documents']:.1f}s embedding them in bf16")
    if default is not None:
        # `lore-rag train` with no arguments trains InfoNCE then LORE (its defaults) from one cache: one cold run and
        # one warm; the reference loop re-encodes in both (without the defaults' extra work, which favours it)
        # the defaults train in bf16 where the CPU has it, and then embed their documents in bf16 too
        first = bf16_cold if TrainConfig().precision == "bf16" and bf16_cold is not None else cold
        first_cpu = cpu["bf16-cold" if first is bf16_cold else "cold"]
        ours = first["embed_documents"] + 2 * default["total"]
        ours_cpu = first_cpu * first["embed_documents"] / first["total"] + 2 * cpu["default"]
        print(
            "Default pipeline's training (InfoNCE + LORE, 1 epoch each, empty cache): re-encoding "
            f"{2 * ref_total:.0f}s vs lore-rag embedding once + twice its defaults {ours:.0f}s "
            f"({2 * ref_total / ours:.1f}x); "
            f"CPU {2 * cpu['ref']:.0f}s vs {ours_cpu:.0f}s ({2 * cpu['ref'] / ours_cpu:.1f}x)"
        )
    print(
        "Paper protocol (3 seeds x 1 epoch, one loss): re-encoding "
        f"{3 * ref_total:.0f}s vs trainer cold + 2 warm {cold['total'] + 2 * warm['total']:.0f}s "
        f"({3 * ref_total / (cold['total'] + 2 * warm['total']):.1f}x), from the rows above"
    )


if __name__ == "__main__":
    main()
