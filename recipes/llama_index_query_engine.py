"""Drop the LORE embedding into a LlamaIndex query engine over an existing Chroma index, the raw model beside it.

What it does:

1. builds (once) a Chroma index of the HotpotQA validation paragraphs with ``lore-rag``'s indexer and the raw
   all-MiniLM-L6-v2 (re-runs add nothing; point ``--store`` at your own index to skip this);
2. opens that same collection from LlamaIndex twice: ``Settings.embed_model = LoreEmbedding("raw")`` and
   ``LoreEmbedding(CHECKPOINT)``; nothing is re-indexed, because a LORE checkpoint keeps the original document
   encoder;
3. asks each query engine the distractor-laden questions and prints, side by side, the retrieved paragraphs
   (gold ones marked) and the answers of one LLM (the bundled SmolLM2-135M on a local llama.cpp server, or your
   endpoint via ``OPENAI_BASE_URL``).

Run::

    python recipes/llama_index_query_engine.py --checkpoint runs/lore/best
    python recipes/llama_index_query_engine.py --checkpoint runs/lore/best --no-llm   # retrieval only, no LLM

Without ``--checkpoint`` the raw model sits on both sides (train one with ``lore-rag train``). Runtime on a
2-core CPU: about 3 minutes the first time (embedding ~300 paragraphs), then about 1 minute (model and LLM
start-up, 3 questions x 2 engines). Prints, per question, the two top-3 lists and two answers; the small bundled
LLM's answers are often wrong, the retrieval columns are the point.

Needs ``pip install 'lore-rag[llama-index,llm]'``.
"""

from __future__ import annotations

import argparse
import contextlib
import textwrap

from llama_index.core import Settings, VectorStoreIndex
from llama_index.core.llms import MockLLM

from lore_rag.data.io import read_examples
from lore_rag.data.schema import Tier
from lore_rag.defaults import bundled_validation_path, home_dir
from lore_rag.integrations.llama_index import LoreEmbedding, LoreLLM, lore_vector_store
from lore_rag.models.encoder import LoreEncoder
from lore_rag.retrieval import ChromaStore, chunk_id, raw_counterpart


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="LORE checkpoint folder (default: raw model on both sides)")
    parser.add_argument("--store", default=str(home_dir() / "recipes" / "chroma"), help="Chroma store folder")
    parser.add_argument("--collection", default="hotpotqa-validation")
    parser.add_argument("--rows", type=int, default=30, help="validation rows whose paragraphs are indexed")
    parser.add_argument("--questions", type=int, default=3, help="questions to ask")
    parser.add_argument("--no-llm", action="store_true", help="retrieval only: no answer synthesis")
    args = parser.parse_args()

    examples = read_examples(bundled_validation_path())[: args.rows]
    lore = LoreEncoder.load(args.checkpoint) if args.checkpoint else LoreEncoder.raw(name="raw (no checkpoint)")
    raw = raw_counterpart(lore)  # shares the document encoder: one index serves both

    # 1. an existing index, built with the original model (skip this with your own --store / --collection)
    store = ChromaStore(args.store, collection=args.collection)
    chunks = list(dict.fromkeys(c for e in examples for c in e.chunks))
    added = store.add_texts(chunks, raw)
    print(f"{store.describe()}: {store.count()} paragraphs ({added} added now)")

    # 2. LlamaIndex over that collection, once per embedding. Only llama-index-core is installed, so the embed
    #    model and the LLM are set explicitly (the defaults would be OpenAI classes).
    llm_context = contextlib.nullcontext(None)
    if not args.no_llm:
        from lore_rag.llm import connect

        llm_context = connect(max_tokens=48)
    with llm_context as client:
        engines = {}
        for label, encoder in (("raw", raw), ("LORE", lore)):
            Settings.embed_model = LoreEmbedding(encoder=encoder)
            Settings.llm = LoreLLM(client) if client is not None else MockLLM()  # MockLLM: retrieval only
            index = VectorStoreIndex.from_vector_store(lore_vector_store(store, Settings.embed_model))
            engines[label] = index.as_query_engine(
                similarity_top_k=3, response_mode="compact" if client is not None else "no_text"
            )

        # 3. the same questions through both engines
        for example in examples[: args.questions]:
            gold = {chunk_id(c) for c, t in zip(example.chunks, example.tiers, strict=True) if t == Tier.POSITIVE}
            print("\n" + "=" * 100 + f"\nQ: {example.query}\n   (gold answer: {example.answer})")
            for label, engine in engines.items():
                response = engine.query(example.query)
                print(f"\n  [{label}]")
                for node in response.source_nodes:
                    mark = "GOLD" if chunk_id(node.node.get_content()) in gold else "    "
                    snippet = textwrap.shorten(node.node.get_content(), 80)
                    print(f"    {mark} {node.score:.3f} {snippet}")
                if client is not None:
                    print(f"    answer: {str(response).strip()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
