"""Drop the LORE embedding into a LangChain RAG chain (retriever | prompt | llm) over an existing Chroma index.

What it does:

1. builds (once) a Chroma index of the HotpotQA validation paragraphs with ``lore-rag``'s indexer and the raw
   all-MiniLM-L6-v2 (re-runs add nothing; point ``--store`` at your own index to skip this);
2. opens that same collection with ``langchain-chroma`` twice, once with ``LoreEmbeddings("raw")`` and once with
   ``LoreEmbeddings(CHECKPOINT)`` as ``embedding_function``: nothing is re-indexed, because a LORE checkpoint
   keeps the original document encoder;
3. runs the same LCEL chain ``retriever | format | prompt | llm | parser`` with each retriever and prints the
   retrieved paragraphs (gold ones marked, with scores) and the answers of one LLM (the bundled SmolLM2-135M on a
   local llama.cpp server, or your endpoint via ``OPENAI_BASE_URL``).

Run::

    python recipes/langchain_rag_chain.py --checkpoint runs/lore/best
    python recipes/langchain_rag_chain.py --checkpoint runs/lore/best --no-llm     # retrieval only

Without ``--checkpoint`` the raw model sits on both sides (train one with ``lore-rag train``). Runtime on a
2-core CPU: about 3 minutes the first time (embedding ~300 paragraphs), then about 1 minute. The small bundled
LLM's answers are often wrong; the retrieval columns are the point.

Needs ``pip install 'lore-rag[langchain,llm]'``.
"""

from __future__ import annotations

import argparse
import contextlib
import textwrap

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough

from lore_rag.data.io import read_examples
from lore_rag.data.schema import Tier
from lore_rag.defaults import bundled_validation_path, home_dir
from lore_rag.integrations.langchain import LoreChatModel, LoreEmbeddings, lore_chroma
from lore_rag.models.encoder import LoreEncoder
from lore_rag.retrieval import ChromaStore, raw_counterpart

PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", "Answer the question in a few words, using only this context:\n\n{context}"),
        ("human", "{question}"),
    ]
)


def format_docs(docs) -> str:
    return "\n\n".join(d.page_content for d in docs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="LORE checkpoint folder (default: raw model on both sides)")
    parser.add_argument("--store", default=str(home_dir() / "recipes" / "chroma"), help="Chroma store folder")
    parser.add_argument("--collection", default="hotpotqa-validation")
    parser.add_argument("--rows", type=int, default=30, help="validation rows whose paragraphs are indexed")
    parser.add_argument("--questions", type=int, default=3, help="questions to ask")
    parser.add_argument("--no-llm", action="store_true", help="retrieval only: no answer")
    args = parser.parse_args()

    examples = read_examples(bundled_validation_path())[: args.rows]
    lore = LoreEncoder.load(args.checkpoint) if args.checkpoint else LoreEncoder.raw(name="raw (no checkpoint)")
    raw = raw_counterpart(lore)  # shares the document encoder: one index serves both

    # 1. an existing index, built with the original model
    store = ChromaStore(args.store, collection=args.collection)
    added = store.add_texts(list(dict.fromkeys(c for e in examples for c in e.chunks)), raw)
    print(f"{store.describe()}: {store.count()} paragraphs ({added} added now)")

    # 2. the same collection through langchain-chroma, with each embedding (swap the embedding, nothing else)
    vectorstores = {
        "raw": lore_chroma(store, LoreEmbeddings(encoder=raw)),
        "LORE": lore_chroma(store, LoreEmbeddings(encoder=lore)),
    }
    retrievers = {name: vs.as_retriever(search_kwargs={"k": 3}) for name, vs in vectorstores.items()}

    llm_context = contextlib.nullcontext(None)
    if not args.no_llm:
        from lore_rag.llm import connect

        llm_context = connect(max_tokens=48)
    with llm_context as client:
        for example in examples[: args.questions]:
            gold = {c for c, t in zip(example.chunks, example.tiers, strict=True) if t == Tier.POSITIVE}
            print("\n" + "=" * 100 + f"\nQ: {example.query}\n   (gold answer: {example.answer})")
            for name, retriever in retrievers.items():
                print(f"\n  [{name}]")
                for doc, score in vectorstores[name].similarity_search_with_relevance_scores(example.query, k=3):
                    mark = "GOLD" if doc.page_content in gold else "    "
                    print(f"    {mark} {score:.3f} {textwrap.shorten(doc.page_content, 80)}")
                if client is not None:
                    # 3. an LCEL chain: retriever | format | prompt | llm | parser
                    chain = (
                        {"context": retriever | format_docs, "question": RunnablePassthrough()}
                        | PROMPT
                        | LoreChatModel(client=client)
                        | StrOutputParser()
                    )
                    print(f"    answer: {chain.invoke(example.query).strip()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
