"""Fine-tune LORE on your own corpus: a CSV of questions, chunks and labels -> a checkpoint -> an evaluation table.

Each step is one lore-rag function (and one CLI command, printed as it runs):

1. convert    the CSV (one line per question-chunk pair) to raw rows           lore-rag convert table ...
2. split      hold out a share of the questions (by id hash, stable)
3. build-data mine distractors and rewrite the queries (offline templates by  lore-rag build-data ...
              default; ``build.offline: false`` in the config uses the LLM endpoint)
4. train      tune the query encoder on the training rows                     lore-rag train ...
5. evaluate   raw model vs. checkpoint on the held-out rows (rewritten and original queries) and on the
              bundled HotpotQA validation set; Markdown table printed and written to WORK/results.md

Runs offline on the bundled sample (48 2WikiMultiHopQA questions from lore_rag/data/bundled/train.jsonl.gz, as
sample_questions.csv: 39 for training, 9 held out). Runtime: about 15 minutes on the 2-core machine while it was
shared with other jobs (most of it embedding chunks once, cached under ~/.cache/lore-rag; later runs are faster).
Expected table on the sample (4 epochs over 39 questions, seed 0):

    | data | model | rewritten P@3 | rewritten N1@3 | original P@3 |
    | held-out (9 q) | raw all-MiniLM-L6-v2 | 58.3 | 88.9 | 63.9 |
    | held-out (9 q) | LORE checkpoint | 52.8 | 77.8 | 77.8 |
    | HotpotQA validation (bundled) | raw all-MiniLM-L6-v2 | 57.4 | 95.2 | 72.4 |
    | HotpotQA validation (bundled) | LORE checkpoint | 63.0 | 88.8 | 73.7 |

Nine held-out questions make that part noise (one question moves P@3 by 5-11 points); the 196 HotpotQA questions
show the direction: fewer distractors in the top 3, more gold. A real corpus needs hundreds of questions (see
docs/build_data.md for 946).

    python recipes/finetune_own_corpus/run.py                       # the bundled sample
    python recipes/finetune_own_corpus/run.py --table ours.csv --work-dir runs/ours
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def load_config(path: Path) -> dict[str, Any]:
    from lore_rag.config import load_config_file

    return load_config_file(path)


def split(raw: Path, train: Path, heldout: Path, share: float) -> tuple[int, int]:
    """Write the raw rows into train / held-out files by a stable hash of the question id."""
    from lore_rag.data.builder.mining import stable_seed
    from lore_rag.data.io import read_examples, write_examples

    examples = read_examples(raw, require_positive=False)
    is_held = [stable_seed("heldout", e.id) / 2**63 < share for e in examples]
    held = [e for e, h in zip(examples, is_held, strict=False) if h]
    kept = [e for e, h in zip(examples, is_held, strict=False) if not h]
    write_examples(kept, train)
    write_examples(held, heldout)
    return len(kept), len(held)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(HERE / "config.yaml"), help="recipe config (YAML)")
    parser.add_argument("--table", help="your CSV / TSV / JSONL (overrides the config)")
    parser.add_argument("--work-dir", help="output folder (overrides the config)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    from lore_rag.data.builder import BuildConfig, build_data
    from lore_rag.data.converters import TableMapping, convert_to_file
    from lore_rag.data.io import read_examples
    from lore_rag.defaults import bundled_validation_path, cache_dir
    from lore_rag.evaluation.candidates import evaluate_candidates
    from lore_rag.models.doc_cache import DocEmbeddingCache
    from lore_rag.models.encoder import LoreEncoder
    from lore_rag.training.trainer import TrainConfig, train

    config_path = Path(args.config)
    config = load_config(config_path)
    table = Path(args.table) if args.table else (config_path.parent / config.get("table", "sample_questions.csv"))
    work = Path(args.work_dir or config.get("work_dir", "lore-own-corpus"))
    columns = config.get("columns", {})

    # 1. convert
    raw_all = work / "raw" / "all.jsonl"
    flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in columns.items())
    print(f"[1/5] lore-rag convert table {table} {flags} -o {raw_all}")
    counts = convert_to_file("table", table, raw_all, mapping=TableMapping(**columns), dataset=config.get("dataset"))
    print(f"      {counts['rows']} questions, {counts['chunks']} chunks")

    # 2. split
    raw_train, raw_held = work / "raw" / "train.jsonl", work / "raw" / "heldout.jsonl"
    n_train, n_held = split(raw_all, raw_train, raw_held, float(config.get("heldout", 0.25)))
    print(f"[2/5] split: {n_train} training questions, {n_held} held out")

    # 3. build-data
    build = dict(config.get("build", {}))
    lore_train, lore_held = work / "lore" / "train.jsonl", work / "lore" / "heldout.jsonl"
    for source, target in ((raw_train, lore_train), (raw_held, lore_held)):
        mode = "--offline" if build.get("offline", True) else ""
        print(f"[3/5] lore-rag build-data {source} -o {target} {mode}")
        report = build_data(
            BuildConfig(inputs=[str(source)], output=str(target), overwrite=True, show_progress=False, **build)
        )
        for line in report.lines()[1:]:
            print("      " + line)

    # 4. train
    options = dict(config.get("train", {}))
    checkpoint_dir = work / "checkpoint"
    print(
        f"[4/5] lore-rag train --train {lore_train} --validation {lore_held} --output {checkpoint_dir} "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in options.items())
    )
    result = train(
        TrainConfig(
            train_files=[str(lore_train)],
            validation_file=str(lore_held),
            output_dir=str(checkpoint_dir),
            show_progress=False,
            **options,
        )
    )
    print(f"      best checkpoint: {result.best}")

    # 5. evaluate
    print("[5/5] evaluate: raw model vs checkpoint")
    sets = {
        f"held-out ({n_held} q)": read_examples(lore_held),
        "HotpotQA validation (bundled)": read_examples(bundled_validation_path()),
    }
    raw = LoreEncoder.raw()
    encoders = {"raw all-MiniLM-L6-v2": raw, "LORE checkpoint": LoreEncoder.from_checkpoint(result.best)}
    # both share the original document encoder: embed each chunk once, cached on disk across runs
    docs = DocEmbeddingCache(raw.document_model, cache_dir("doc_embeddings"), show_progress=False)
    lines = ["| data | model | rewritten P@3 | rewritten N1@3 | original P@3 |", "|---|---|---|---|---|"]
    for data_name, examples in sets.items():
        for model_name, encoder in encoders.items():
            m = evaluate_candidates(encoder, examples, embed_documents=docs.embed)
            lines.append(
                f"| {data_name} | {model_name} | {m['rewritten']['P@3']:.1f} | {m['rewritten']['N1@3']:.1f} "
                f"| {m['original']['P@3']:.1f} |"
            )
    table_md = "\n".join(lines)
    (work / "results.md").write_text(table_md + "\n", encoding="utf-8")
    print()
    print(table_md)
    print("\n(P@3: share of gold chunks in the top 3, higher is better; N1@3: share of distractors, lower is better)")


if __name__ == "__main__":
    main()
