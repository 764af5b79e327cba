"""MS MARCO end to end: does LORE retrieval give the LLM better answers than raw retrieval?

Takes the MS MARCO QnA v1.1 questions of ``../shared/data/raw/msmarco_v1.1_train_sample.jsonl`` (200 web
questions, 3-10 passages each, ``is_selected`` as the gold label; rows with no selected passage or no answer are
left out), lets the raw all-MiniLM-L6-v2 and a LORE checkpoint each pick the top 2 passages, asks one LLM for a
short answer, and prints retrieval P@2 / N1@2 and answer EM / F1 (SQuAD v1.1 rules, best over the answers) per
retriever, naming the reader. MS MARCO answers are free-form sentences, so EM stays near 0 for a short-answer
reader: read F1. MS MARCO is not in the bundled training data, so this comparison is held out.

MS MARCO's terms allow non-commercial research use only: this recipe reads the data from ``../shared`` (or
``--data``) and lore-rag never ships a copy.

Run (offline: bundled model, bundled SmolLM2-135M served by a local llama.cpp server)::

    python recipes/qa_msmarco.py                           # 40 questions, default checkpoint
    python recipes/qa_msmarco.py --data /path/to/msmarco.jsonl --checkpoint runs/lore/best --limit 200

Without ``--checkpoint`` the default LORE checkpoint in ``~/.cache/lore-rag/checkpoints/default`` is used, and
trained there first on the bundled data when missing. Every flag of ``lore-rag qa-eval`` works too;
``recipes/configs/qa_msmarco.yaml`` holds the defaults. An interrupted run resumes when started again.

Runtime on a 2-core CPU (SmolLM2-135M reader, 40 questions, both retrievers), measured: 6 min wall, of which
43 LLM calls at about 8.6 s each, with the 2 cores shared by other jobs at load average 12; the LLM
calls are nearly all of it, so an unloaded machine takes a few minutes (plus training the default checkpoint
once, see recipes/qa_hotpotqa.py).

Expected table (offline default; SmolLM2-135M is too weak a reader for its EM/F1 to tell retrievers apart)::

    **MS MARCO**: 40 questions, queries as in the file, top-2 from each question's own candidates;
    reader (LLM): `smollm2-135m-instruct`; F1 as in the squad script

    | retriever | P@2 | N1@2 | EM | F1 | F1 wins / ties / losses vs raw |
    |---|---:|---:|---:|---:|---:|
    | raw | 58.8 | 0.0 | 2.5 | 21.6 | – |
    | lore | 58.8 | 0.0 | 2.5 | 23.1 | 3 / 37 / 0 |

With a real LLM: add ``--llm-base-url URL --llm-model NAME`` (OpenAI ``https://api.openai.com/v1`` with
``OPENAI_API_KEY``; vLLM ``http://localhost:8000/v1``; Ollama ``http://localhost:11434/v1``) or ``--llm-gguf FILE``,
as shown in ``recipes/qa_hotpotqa.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lore_rag.demo import ensure_default_checkpoint
from lore_rag.errors import LoreError
from lore_rag.evaluation.qa_args import parse_recipe_args, run_qa_eval_from_args
from lore_rag.evaluation.qa_run import plot_qa_results

HERE = Path(__file__).resolve().parent
SHARED_DATA = HERE.parent / ".." / "shared" / "data"
DATA = SHARED_DATA / "raw" / "msmarco_v1.1_train_sample.jsonl"
CONFIG = HERE / "configs" / "qa_msmarco.yaml"


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_recipe_args(__doc__.split("\n\n")[0], DATA, CONFIG, argv, checkpoint=ensure_default_checkpoint)
        result = run_qa_eval_from_args(args)
        print(result.table())
        print(f"\nper-question wins and losses: {result.output_dir}/per_question.csv")
        if args.plot:
            print(f"plot written to {plot_qa_results([result], args.plot)}")
    except LoreError as exc:
        print(f"{Path(__file__).name}: error: {exc}", file=sys.stderr)
        return 1
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
