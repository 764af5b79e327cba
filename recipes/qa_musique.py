"""MuSiQue end to end: does LORE retrieval give the LLM better answers than raw retrieval?

Takes the MuSiQue-Ans questions of ``../shared/data/raw/musique_ans_train_sample.jsonl`` (100 questions, 20
paragraphs each, 2-4 of them gold; the original, undisturbed questions), lets the raw all-MiniLM-L6-v2 and a LORE
checkpoint each pick the top 4 paragraphs, asks one LLM for a short answer from them, and prints retrieval
P@4 / N1@4 and answer EM / F1 per retriever, naming the reader. EM and F1 follow MuSiQue's own script (SQuAD v2.0
rules), taking the best over ``answer`` and ``answer_aliases`` when rows carry aliases. The raw files have no
distractor tier, so N1@4 is 0 by construction and P@4 is the retrieval number to read.

Caution: the bundled training set holds rewritten versions of these 100 questions (same paragraphs), so the
default checkpoint has seen them; the comparison is in-domain, not held out. Train without them (``lore-rag train
--train ...``) for a clean one.

Run (offline: bundled model, bundled SmolLM2-135M served by a local llama.cpp server)::

    python recipes/qa_musique.py                           # 40 questions, default checkpoint
    python recipes/qa_musique.py --checkpoint runs/lore/best --limit 100

Without ``--checkpoint`` the default LORE checkpoint in ``~/.cache/lore-rag/checkpoints/default`` is used, and
trained there first on the bundled data when missing. Every flag of ``lore-rag qa-eval`` works too;
``recipes/configs/qa_musique.yaml`` holds the defaults. An interrupted run resumes when started again.

Runtime on a 2-core CPU (SmolLM2-135M reader, 40 questions, both retrievers), measured: 13 min wall, of which
62 LLM calls at about 12.0 s each, with the 2 cores shared by other jobs at load average 12; the LLM
calls are nearly all of it, so an unloaded machine takes a few minutes (plus training the default checkpoint
once, see recipes/qa_hotpotqa.py).

Expected table (offline default; SmolLM2-135M is too weak a reader for its EM/F1 to tell retrievers apart)::

    **MuSiQue**: 40 questions, queries as in the file, top-4 from each question's own candidates;
    reader (LLM): `smollm2-135m-instruct`; F1 as in the squad2 script

    | retriever | P@4 | N1@4 | EM | F1 | F1 wins / ties / losses vs raw |
    |---|---:|---:|---:|---:|---:|
    | raw | 69.6 | 0.0 | 0.0 | 5.8 | – |
    | lore | 68.3 | 0.0 | 0.0 | 6.0 | 2 / 38 / 0 |

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
DATA = SHARED_DATA / "raw" / "musique_ans_train_sample.jsonl"
CONFIG = HERE / "configs" / "qa_musique.yaml"


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
