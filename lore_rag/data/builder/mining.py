"""Surface-similarity mining: a small BM25 in numpy, embedding similarity, and distractor sampling.

The paper's distractors are chunks that *look* relevant (they share words or topic with the query) but do
not answer it. :class:`DistractorMiner` ranks each question's non-relevant chunks by BM25 or embedding
similarity to the query and samples candidates with a preference for the top of that ranking.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from lore_rag.data.schema import Example, Tier
from lore_rag.errors import ConfigError

if TYPE_CHECKING:
    from lore_rag.models.encoder import LoreEncoder

__all__ = [
    "BM25",
    "MINING_METHODS",
    "STOPWORDS",
    "DistractorMiner",
    "embedding_top_k",
    "stable_seed",
    "tokenize",
]

logger = logging.getLogger(__name__)

#: Ways to rank non-relevant chunks by similarity to the query.
MINING_METHODS = ("bm25", "embedding", "hybrid", "random")

#: A short English stop-word list: words that make BM25 matches meaningless.
STOPWORDS = frozenset(
    """a an and are as at be been but by can could did do does for from had has have he her hers him his how i if
    in into is it its me my no not of on or our she so than that the their them then there these they this those
    to was we were what when where which while who whom whose why will with would you your yes""".split()
)

_TOKEN = re.compile(r"\w+", re.UNICODE)


def tokenize(text: str, *, stopwords: frozenset[str] = STOPWORDS) -> list[str]:
    """Lower-cased word tokens of ``text`` without stop words."""
    return [t for t in _TOKEN.findall(text.lower()) if t not in stopwords]


def stable_seed(*parts: object) -> int:
    """Return a 63-bit seed from ``parts`` that is the same in every process (unlike ``hash``)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") >> 1


class BM25:
    """Okapi BM25 over a fixed list of documents, with an inverted index held in numpy arrays.

    ``idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))`` and
    ``score(q, d) = sum_t qtf * idf(t) * tf (k1 + 1) / (tf + k1 (1 - b + b |d| / avgdl))``.

    Args:
        documents: The texts to index.
        k1: Term-frequency saturation.
        b: Length normalisation.
        tokenizer: Text to tokens; :func:`tokenize` unless given.
    """

    def __init__(
        self,
        documents: Sequence[str],
        *,
        k1: float = 1.5,
        b: float = 0.75,
        tokenizer: Callable[[str], list[str]] = tokenize,
    ) -> None:
        self.k1 = k1
        self.b = b
        self.tokenizer = tokenizer
        self.vocab: dict[str, int] = {}
        doc_ids: list[int] = []
        term_ids: list[int] = []
        freqs: list[int] = []
        lengths = np.zeros(len(documents), dtype=np.float64)
        for d, text in enumerate(documents):
            tokens = tokenizer(text)
            lengths[d] = len(tokens)
            for term, count in Counter(tokens).items():
                tid = self.vocab.setdefault(term, len(self.vocab))
                doc_ids.append(d)
                term_ids.append(tid)
                freqs.append(count)
        self.n_docs = len(documents)
        self.lengths = lengths
        self.avgdl = float(lengths.mean()) if len(documents) and lengths.sum() else 1.0
        terms = np.asarray(term_ids, dtype=np.int64)
        order = np.argsort(terms, kind="stable")
        self._docs = np.asarray(doc_ids, dtype=np.int64)[order]
        self._tf = np.asarray(freqs, dtype=np.float64)[order]
        df = np.bincount(terms, minlength=len(self.vocab)).astype(np.float64)
        self._ptr = np.concatenate([[0], np.cumsum(df)]).astype(np.int64)
        self.idf = np.log1p((self.n_docs - df + 0.5) / (df + 0.5))
        self._norm = k1 * (1.0 - b + b * lengths / self.avgdl)

    def scores(self, query: str, doc_ids: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """BM25 score of ``query`` against every document, or only against ``doc_ids`` (in that order)."""
        out = np.zeros(self.n_docs, dtype=np.float64)
        for term, qtf in Counter(self.tokenizer(query)).items():
            tid = self.vocab.get(term)
            if tid is None:
                continue
            start, end = self._ptr[tid], self._ptr[tid + 1]
            docs = self._docs[start:end]
            tf = self._tf[start:end]
            out[docs] += qtf * self.idf[tid] * tf * (self.k1 + 1.0) / (tf + self._norm[docs])
        if doc_ids is None:
            return out
        return out[np.asarray(doc_ids, dtype=np.int64)]

    def top_k(self, query: str, k: int) -> list[tuple[int, float]]:
        """Return the ``k`` best ``(document index, score)`` pairs, best first; ties keep document order."""
        scores = self.scores(query)
        k = min(k, self.n_docs)
        if k <= 0:
            return []
        order = np.argsort(-scores, kind="stable")[:k]
        return [(int(i), float(scores[i])) for i in order]


def embedding_top_k(
    encoder: LoreEncoder,
    queries: Sequence[str],
    documents: Sequence[str],
    k: int,
    *,
    show_progress: bool = True,
    batch_size: int = 1024,
) -> list[list[tuple[int, float]]]:
    """For each query, the ``k`` most cosine-similar documents as ``(index, score)``, best first."""
    docs = encoder.embed_documents(list(documents), show_progress=show_progress)
    qvecs = encoder.embed_queries(list(queries), show_progress=show_progress)
    k = min(k, len(documents))
    results: list[list[tuple[int, float]]] = []
    for start in range(0, len(qvecs), batch_size):
        sims = qvecs[start : start + batch_size] @ docs.T
        for row in sims:
            order = np.argsort(-row, kind="stable")[:k]
            results.append([(int(i), float(row[i])) for i in order])
    return results


class DistractorMiner:
    """Ranks each example's non-relevant chunks by similarity to its query and samples distractor candidates.

    BM25 statistics come from all distinct chunks of the examples given, so term weights reflect the whole
    collection rather than one question's handful of chunks.

    Args:
        examples: The examples that will be mined (their chunks form the BM25 collection).
        method: ``bm25``, ``embedding`` (cosine under ``encoder``), ``hybrid`` (mean of the two rank
            positions) or ``random``.
        encoder: Encoder for ``embedding`` / ``hybrid``; the bundled raw model when ``None``.
        show_progress: Progress bars while embedding.
    """

    def __init__(
        self,
        examples: Iterable[Example],
        *,
        method: str = "bm25",
        encoder: LoreEncoder | None = None,
        show_progress: bool = True,
    ) -> None:
        if method not in MINING_METHODS:
            raise ConfigError(f"unknown mining method {method!r} (choose from {', '.join(MINING_METHODS)})")
        self.method = method
        examples = list(examples)
        self._chunk_ids: dict[str, int] = {}
        for example in examples:
            for chunk in example.chunks:
                self._chunk_ids.setdefault(chunk, len(self._chunk_ids))
        texts = list(self._chunk_ids)
        self._bm25 = BM25(texts) if method in ("bm25", "hybrid") else None
        self._doc_vecs: np.ndarray | None = None
        self._query_vecs: dict[str, np.ndarray] = {}
        if method in ("embedding", "hybrid"):
            if encoder is None:
                from lore_rag.models.encoder import LoreEncoder

                encoder = LoreEncoder.raw()
            self._doc_vecs = encoder.embed_documents(texts, show_progress=show_progress)
            queries = sorted({e.original_query or e.query for e in examples})
            vecs = encoder.embed_queries(queries, show_progress=show_progress)
            self._query_vecs = dict(zip(queries, vecs, strict=False))

    def scores(self, example: Example, indices: Sequence[int]) -> np.ndarray:
        """Similarity of the example's query to its chunks ``indices`` (higher is more similar)."""
        query = example.original_query or example.query
        ids = np.asarray([self._chunk_ids[example.chunks[i]] for i in indices], dtype=np.int64)
        if self.method == "random" or len(ids) == 0:
            return np.zeros(len(ids))
        bm25 = self._bm25.scores(query, ids) if self._bm25 is not None else None
        cos = None
        if self._doc_vecs is not None:
            cos = self._doc_vecs[ids] @ self._query_vecs[query]
        if bm25 is not None and cos is not None:
            # mean of rank positions, negated so that higher is better
            ranks = _ranks(bm25) + _ranks(cos)
            return -ranks.astype(np.float64)
        return bm25 if bm25 is not None else np.asarray(cos, dtype=np.float64)

    def rank(self, example: Example) -> list[int]:
        """Return the example's non-relevant chunk indices, most similar to the query first."""
        negatives = [i for i, t in enumerate(example.tiers) if t != Tier.POSITIVE]
        if self.method == "random":
            return negatives
        scores = self.scores(example, negatives)
        order = np.argsort(-scores, kind="stable")
        return [negatives[i] for i in order]

    def sample(self, example: Example, n: int, rng: np.random.Generator, *, sharpness: float = 1.0) -> list[int]:
        """Sample ``n`` distractor candidates among the non-relevant chunks, preferring similar ones.

        The ``r``-th most similar chunk (0-based) is drawn with weight ``(r + 1) ** -sharpness``: 0 draws
        uniformly, large values take the top ``n``. The result keeps the similarity order.
        """
        ranked = self.rank(example)
        if self.method == "random":
            rng.shuffle(ranked)
            return ranked[:n]
        if n >= len(ranked):
            return ranked
        weights = (np.arange(len(ranked), dtype=np.float64) + 1.0) ** -float(sharpness)
        picked = rng.choice(len(ranked), size=n, replace=False, p=weights / weights.sum())
        return [ranked[i] for i in sorted(picked.tolist())]


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[order] = np.arange(len(values))
    return ranks
