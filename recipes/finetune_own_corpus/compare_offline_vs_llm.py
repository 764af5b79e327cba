"""How much weaker is offline-built LORE data than LLM-written data? Train on each, evaluate both on HotpotQA.

1. Builds offline LORE data (``lore-rag build-data --offline``) from the same raw questions the LLM-written
   ``shared/data/lore/train.jsonl`` was made from (2WikiMultiHopQA dev, MS MARCO sample, MuSiQue sample).
2. Trains the query encoder on each with identical settings (the trainer's defaults unless changed below),
   for every seed.
3. Evaluates the raw model and both checkpoints on ``shared/data/lore/validation_hotpotqa.jsonl`` with the
   paper's candidate protocol (the trainer's own step-0 and final evaluations) and prints a Markdown table
   (mean ± std over seeds).

MS MARCO rows are used for this measurement only (non-commercial research terms); nothing here is shipped.
Runtime on the 2-core machine while shared with other jobs: about 40 minutes to embed the ~9,700 chunks once
(cached in OUT/cache), then about 20 minutes per training (30 steps of 32 queries per epoch). Expected table
(seeds 0 1): see docs/build_data.md (rewritten N1@3 about 63 offline-built vs 54 LLM-written, from 95 raw).

    python recipes/finetune_own_corpus/compare_offline_vs_llm.py --seeds 0 1 --out /tmp/lore-compare
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
RAW = [
    SHARED / "raw" / n
    for n in ("2wikimultihopqa_dev.jsonl", "msmarco_v1.1_train_sample.jsonl", "musique_ans_train_sample.jsonl")
]
LLM_TRAIN = SHARED / "lore" / "train.jsonl"
VALIDATION = SHARED / "lore" / "validation_hotpotqa.jsonl"
METRICS = ("P@3", "N1@3", "P@5", "N1@5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="lore-compare", help="work folder (runs already in it are reused)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument(
        "--only",
        choices=("offline-built", "LLM-written"),
        help="train only on this data (run two processes side by side, then one without --only to print the table)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    from lore_rag.data.builder import BuildConfig, build_data
    from lore_rag.data.io import read_examples
    from lore_rag.training.trainer import TrainConfig, train

    out = Path(args.out)
    offline = out / "offline_train.jsonl"
    report = build_data(
        BuildConfig(inputs=[str(p) for p in RAW], output=str(offline), offline=True, show_progress=False)
    )
    print("\n".join(report.lines()))
    n_validation = len(read_examples(VALIDATION))
    results: dict[str, dict[str, dict]] = {}
    for name in ("offline-built", "LLM-written"):
        path = out / f"results-{name}.json"
        if path.exists():
            for key, (base, final) in json.loads(path.read_text()).items():
                results.setdefault("raw model", {})[key] = base
                results.setdefault(name, {})[key] = final
    for seed in args.seeds:
        for name, data in (("offline-built", offline), ("LLM-written", LLM_TRAIN)):
            key = f"seed{seed}-epochs{args.epochs}-lr{args.lr:g}"
            if key in results.get(name, {}) or (args.only and name != args.only):
                continue
            # The trainer evaluates the base model (step 0) and the final checkpoint on the validation file,
            # with the same cached document vectors: both rows of the table come from that.
            run = train(
                TrainConfig(
                    train_files=[str(data)],
                    validation_file=str(VALIDATION),
                    output_dir=str(out / f"{name}-{key}"),
                    epochs=args.epochs,
                    lr=args.lr,
                    seed=seed,
                    cache_dir=str(out / "cache"),
                    show_progress=False,
                )
            )
            base = run.history["evals"][0]
            final = run.history["evals"][-1]
            results.setdefault("raw model", {})[key] = base
            results.setdefault(name, {})[key] = final
            path = out / f"results-{name}.json"
            saved = json.loads(path.read_text()) if path.exists() else {}
            saved[key] = [base, final]
            path.write_text(json.dumps(saved, indent=1))

    wanted = {f"seed{seed}-epochs{args.epochs}-lr{args.lr:g}" for seed in args.seeds}

    def cell(runs: dict[str, dict], column: str) -> str:
        values = [r[column] for k, r in runs.items() if k in wanted]
        if not values:
            return "–"
        if len(set(values)) == 1:  # one seed, or the untrained model
            return f"{values[0]:.1f}"
        return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"

    columns = [f"rewritten/{m}" for m in METRICS] + ["original/P@3", "original/P@5"]
    print(
        f"\nvalidation: {VALIDATION.name} ({n_validation} rows), seeds {args.seeds}, epochs {args.epochs}, "
        f"lr {args.lr}\n"
    )
    print("| training data | " + " | ".join(c.replace("/", " ") for c in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name in ("raw model", "offline-built", "LLM-written"):
        if name in results:
            print(f"| {name} | " + " | ".join(cell(results[name], c) for c in columns) + " |")


if __name__ == "__main__":
    main()
