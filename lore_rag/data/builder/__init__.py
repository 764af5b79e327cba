"""Build tiered LORE data (P / N1 / N2) from raw rows: mine distractors, rewrite queries with an LLM or offline.

Paper Sec. 3.1: for each question, tempting non-relevant chunks (similar to the query) are offered to an LLM,
which picks one of eight RST relations and rewrites the question so that it weaves in the distractor's content
while keeping its information need and answer. The chunks it used become distractors (N1), the other
non-relevant chunks plain negatives (N2).

* :mod:`~lore_rag.data.builder.mining`: BM25 / embedding similarity, distractor sampling.
* :mod:`~lore_rag.data.builder.relations`: the eight relations, weights, balanced sampling, offline templates.
* :mod:`~lore_rag.data.builder.prompts`: the rewrite prompt and reply schema.
* :mod:`~lore_rag.data.builder.checks`: the checks every rewrite must pass.
* :mod:`~lore_rag.data.builder.rewrite_llm` / :mod:`~lore_rag.data.builder.rewrite_offline`: the two rewriters.
* :mod:`~lore_rag.data.builder.runner`: :func:`build_data`, resumable and concurrent.
"""

from __future__ import annotations

from lore_rag.data.builder.checks import REASONS, Rewrite, RewriteChecker, RewriteRejected
from lore_rag.data.builder.mining import BM25, MINING_METHODS, DistractorMiner, tokenize
from lore_rag.data.builder.relations import DEFINITIONS, RELATIONS, TEMPLATES, RelationSampler, parse_relations
from lore_rag.data.builder.runner import BuildConfig, BuildReport, build_data, load_inputs, read_done, sidecar_paths

__all__ = [
    "BM25",
    "DEFINITIONS",
    "MINING_METHODS",
    "REASONS",
    "RELATIONS",
    "TEMPLATES",
    "BuildConfig",
    "BuildReport",
    "DistractorMiner",
    "RelationSampler",
    "Rewrite",
    "RewriteChecker",
    "RewriteRejected",
    "build_data",
    "load_inputs",
    "parse_relations",
    "read_done",
    "sidecar_paths",
    "tokenize",
]
