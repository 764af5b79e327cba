"""2WikiMultiHopQA end to end: does LORE retrieval give the LLM better answers than raw retrieval?

Takes the 2WikiMultiHopQA dev questions of ``../shared/data/raw/2wikimultihopqa_dev.jsonl`` (657 questions, 10
paragraphs each, 2 or 4 gold; the original, undisturbed questions), lets the raw all-MiniLM-L6-v2 and a LORE
checkpoint each pick the top 3 paragraphs, asks one LLM for a short answer from them, and prints retrieval
P@3 / N1@3 and answer EM / F1 (the 2WikiMultiHopQA script's rules, a copy of HotpotQA's) per retriever, naming
the reader. The raw file has no distractor tier, so N1@3 is 0 by construction and P@3 is the retrieval number.

Caution: the bundled training set holds rewritten versions of these 657 questions (same paragraphs), so the
default checkpoint has seen them; the comparison is in-domain, not held out. Train without them (``lore-rag train
--train ...``) for a clean one.

Run (offline: bundled model, bundled SmolLM2-135M served by a local llama.cpp server)::

    python recipes/qa_2wikimultihopqa.py                   # 40 questions, default checkpoint
    python recipes/qa_2wikimultihopqa.py --checkpoint runs/lore/best --limit 657 --setting open

Without ``--checkpoint`` the default LORE checkpoint in ``~/.cache/lore-rag/checkpoints/default`` is used, and
trained there first on the bundled data when missing. Every flag of ``lore-rag qa-eval`` works too;
``recipes/configs/qa_2wikimultihopqa.yaml`` holds the defaults. An interrupted run resumes when started again.

Runtime on a 2-core CPU (SmolLM2-135M reader, 40 questions, both retrievers), measured: 6 min wall, of which
56 LLM calls at about 6.5 s each, with the 2 cores shared by other jobs at load average 12; the LLM
calls are nearly all of it, so an unloaded machine takes a few minutes (plus training the default checkpoint
once, see recipes/qa_hotpotqa.py).

Expected table (offline default; SmolLM2-135M is too weak a reader for its EM/F1 to tell retrievers apart)::

    **2WikiMultiHopQA**: 40 questions, queries as in the file, top-3 from each question's own candidates;
    reader (LLM): `smollm2-135m-instruct`; F1 as in the hotpotqa script

    | retriever | P@3 | N1@3 | EM | F1 | F1 wins / ties / losses vs raw |
    |---|---:|---:|---:|---:|---:|
    | raw | 65.0 | 0.0 | 5.0 | 14.7 | – |
    | lore | 65.6 | 0.0 | 5.0 | 11.6 | 2 / 34 / 4 |

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
DATA = SHARED_DATA / "raw" / "2wikimultihopqa_dev.jsonl"
CONFIG = HERE / "configs" / "qa_2wikimultihopqa.yaml"


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
