"""The peer as a baseline: sentence-transformers' MultipleNegativesRankingLoss, whole model, index rebuilt.

What a team would try instead of LORE: fine-tune the *whole* embedding model (query and document side) with
``MultipleNegativesRankingLoss`` through ``SentenceTransformerTrainer`` on the same training rows (each rewritten
query with each of its positive chunks; in-batch negatives plus, per pair, ``--hard-negatives`` of the row's other
chunks, distractors and ordinary negatives alike since MNRL knows no tiers), then re-embed every chunk with the tuned
model (the index must be rebuilt: its document side changed). It is scored exactly like ``lore-rag tradeoff`` scores
a point: each question's own candidates and one exact index of all chunks of the file, rewritten and plain
questions, with paired bootstrap intervals against the raw model; LORE checkpoints given with ``--checkpoint`` are
scored beside it (their documents stay embedded by the base model).

Independent of ``lore_rag.training``: the trainer here is sentence-transformers' own.

    python benchmarks/bench_mnrl.py --eval ../shared/data/lore/test_hotpotqa.jsonl \\
        --plain ../shared/data/raw/hotpotqa_dev_distractor.jsonl --checkpoint lore-output/lore
    python benchmarks/bench_mnrl.py --train-rows 32 --max-steps 2 --eval-rows 10    # a quick check

The full run (757 bundled rows, about 1,800 query-positive pairs, 1 epoch, batch 32) prints its training and
re-indexing time. It was not run on this repository's shared 2-core CPU yet: two steps of a tiny configuration took
73 s there under load, so the full run needs a quieter machine (issue 12 quotes ~25x LORE's training time).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lore_rag.data.io import read_examples  # noqa: E402
from lore_rag.data.schema import Example, Tier  # noqa: E402
from lore_rag.evaluation.bootstrap import format_interval  # noqa: E402
from lore_rag.evaluation.tradeoff import KEY_METRICS, TradeoffSets, evaluate_point, intervals  # noqa: E402


def pairs(examples: list[Example], hard_negatives: int, seed: int) -> dict[str, list[str]]:
    """Columns ``anchor``, ``positive``, ``negative_1``... : one row per (rewritten query, positive chunk).

    Rows with fewer non-positive chunks than ``hard_negatives`` are left out (MNRL needs the same number of
    columns in every row).
    """
    rng = random.Random(seed)
    columns: dict[str, list[str]] = {"anchor": [], "positive": []}
    for i in range(hard_negatives):
        columns[f"negative_{i + 1}"] = []
    for example in examples:
        positives = [c for c, t in zip(example.chunks, example.tiers) if t == Tier.POSITIVE]
        others = [c for c, t in zip(example.chunks, example.tiers) if t != Tier.POSITIVE]
        if len(others) < hard_negatives:
            continue
        for positive in positives:
            columns["anchor"].append(example.query)
            columns["positive"].append(positive)
            for i, negative in enumerate(rng.sample(others, hard_negatives)):
                columns[f"negative_{i + 1}"].append(negative)
    return columns


def train_mnrl(args: argparse.Namespace, examples: list[Example], output: Path) -> tuple[object, float, int]:
    """Fine-tune the whole model; returns the model, training seconds and optimiser steps."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from lore_rag.models.encoder import load_model

    model = load_model(args.base_model)
    model.max_seq_length = args.max_seq_length
    data = Dataset.from_dict(pairs(examples, args.hard_negatives, args.seed))
    with tempfile.TemporaryDirectory(prefix="mnrl-") as tmp:
        training_args = SentenceTransformerTrainingArguments(
            output_dir=tmp,
            num_train_epochs=args.epochs,
            max_steps=args.max_steps or -1,
            per_device_train_batch_size=args.batch_size,
            learning_rate=args.lr,
            warmup_steps=0.1,  # a float is a ratio of the steps (transformers v5)
            seed=args.seed,
            batch_sampler="no_duplicates",
            save_strategy="no",
            logging_steps=10,
            report_to="none",
            use_cpu=True,
            dataloader_num_workers=0,
            disable_tqdm=True,
        )
        trainer = SentenceTransformerTrainer(
            model=model, args=training_args, train_dataset=data, loss=MultipleNegativesRankingLoss(model)
        )
        started = time.perf_counter()
        state = trainer.train()
        seconds = time.perf_counter() - started
    model.save(str(output))
    (output / "mnrl_training.json").write_text(
        json.dumps(
            {"seconds": seconds, "steps": state.global_step, "pairs": len(data), "settings": vars(args)},
            indent=2,
            default=str,
        )
    )
    return model, seconds, int(state.global_step)


def main() -> int:
    """Train (or reuse) the MNRL model, score it beside raw and the given checkpoints, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", nargs="+", help="tiered training files (default: the bundled training set)")
    parser.add_argument("--eval", dest="eval_file", help="tiered file to score on (default: bundled validation)")
    parser.add_argument("--plain", help="raw file of plain questions; only the ids of --eval are used")
    parser.add_argument("--checkpoint", nargs="*", default=[], help="LORE checkpoints to score beside MNRL")
    parser.add_argument("--base-model", default=None, help="base model (default: bundled all-MiniLM-L6-v2)")
    parser.add_argument("--output", default="mnrl-output", help="folder for the tuned model and its timing")
    parser.add_argument("--reuse", action="store_true", help="reuse the model in --output when it is there")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--hard-negatives", type=int, default=1, help="of the row's other chunks, per pair")
    parser.add_argument("--max-seq-length", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-rows", type=int, default=None, help="use only the first N training rows")
    parser.add_argument("--eval-rows", type=int, default=None, help="score only the first N rows")
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--json", help="write every number here")
    args = parser.parse_args()

    from lore_rag.defaults import bundled_train_path, bundled_validation_path, cache_dir
    from lore_rag.models.doc_cache import DocEmbeddingCache
    from lore_rag.models.encoder import LoreEncoder, load_model

    train_rows = [e for path in (args.train or [str(bundled_train_path())]) for e in read_examples(path)]
    train_rows = train_rows[: args.train_rows] if args.train_rows else train_rows
    evaluation = read_examples(args.eval_file or str(bundled_validation_path()))[: args.eval_rows]
    plain = None
    if args.plain:
        wanted = {e.id for e in evaluation}
        plain = [e for e in read_examples(args.plain) if e.id in wanted]
    sets = TradeoffSets.build(evaluation, plain)
    texts = list(dict.fromkeys(c for e in sets.rewritten + sets.plain for c in e.chunks))

    output = Path(args.output)
    record = output / "mnrl_training.json"
    if args.reuse and record.is_file():
        tuned = load_model(output)
        info = json.loads(record.read_text())
        seconds, steps = float(info["seconds"]), int(info["steps"])
    else:
        tuned, seconds, steps = train_mnrl(args, train_rows, output)

    raw = LoreEncoder.raw(args.base_model)
    base_cache = DocEmbeddingCache(raw.document_model, cache_dir("doc_embeddings"), show_progress=False)
    base_cache.embed(texts)
    points = {"raw": evaluate_point(raw, sets, base_cache.embed)}
    for path in args.checkpoint:
        encoder = LoreEncoder.from_checkpoint(path, document_model=raw.document_model)
        points[encoder.name if encoder.name not in points else path] = evaluate_point(encoder, sets, base_cache.embed)
    mnrl = LoreEncoder(tuned, name="MNRL")  # both sides tuned
    mnrl_cache = DocEmbeddingCache(tuned, None, show_progress=False)  # in memory: this *is* the index rebuild
    started = time.perf_counter()
    mnrl_cache.embed(texts)
    reindex = time.perf_counter() - started
    points["MNRL (whole model, index rebuilt)"] = evaluate_point(mnrl, sets, mnrl_cache.embed)

    cis = intervals(points, "raw", list(KEY_METRICS), n_resamples=args.bootstrap)
    header = "| model | " + " | ".join(KEY_METRICS) + " |"
    rule = "|---|" + "---:|" * len(KEY_METRICS)
    print(
        f"MNRL: {steps} steps on {len(train_rows)} rows in {seconds:.0f} s; re-embedding {len(texts)} chunks "
        f"took {reindex:.0f} s ({len(sets.rewritten)} rewritten, {len(sets.plain)} plain questions)\n"
    )
    print(header + "\n" + rule)
    for name in points:
        cells = [
            f"{cis[name][m]['mean'].estimate:.3f}" if "MRR" in m else f"{cis[name][m]['mean'].estimate:.1f}"
            for m in KEY_METRICS
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nPaired difference vs raw, 95 % bootstrap interval:\n")
    print(header + "\n" + rule)
    for name in list(points)[1:]:
        cells = [format_interval(cis[name][m]["diff"], digits=3 if "MRR" in m else 1) for m in KEY_METRICS]
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "training_seconds": seconds,
                    "steps": steps,
                    "reindex_seconds": reindex,
                    "chunks": len(texts),
                    "points": {
                        n: {m: {k: v.to_dict() for k, v in e.items()} for m, e in by.items()} for n, by in cis.items()
                    },
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
