"""The eight Rhetorical Structure Theory relations that weave a distractor into a query (paper Sec. 3.1).

Each relation has a one-line definition (used in the LLM prompt) and a few offline templates that fuse a
phrase of the distractor with the original question. :func:`parse_relations` reads the ``--relations`` option
and :class:`RelationSampler` draws relations with those weights, balanced over a run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from lore_rag.data.schema import RELATIONS
from lore_rag.errors import ConfigError

__all__ = ["DEFINITIONS", "RELATIONS", "TEMPLATES", "RelationSampler", "normalize_relation", "parse_relations"]

#: What each relation does to the query, in the words the rewrite prompt uses.
DEFINITIONS: dict[str, str] = {
    "Sequential": "orders events in time: the distractor's fact comes before or after the asked-about one",
    "Transitional": "moves from the distractor's topic over to the actual question",
    "Supplementary": "adds the distractor's fact as extra background next to the question",
    "Contrastive": "sets the distractor's fact against the question (unlike, whereas, rather than)",
    "Causal": "presents the distractor's fact as a reason or cause leading into the question",
    "Parallel": "puts the distractor's case side by side with the asked-about one (similarly, likewise)",
    "Hypothetical": "frames the distractor's fact as a supposition or a possible confusion (suppose, if)",
    "Explanatory": "explains or elaborates with the distractor's fact before asking (given that, since)",
}

#: Offline rewrite templates. ``{entity}`` is the distractor's title or subject, ``{fact}`` a short clause from
#: the distractor, ``{question}`` the original question (first letter lower-cased when that is safe).
TEMPLATES: dict[str, tuple[str, ...]] = {
    "Sequential": (
        "After reading that {fact}, {question}",
        "First, {fact}; next, {question}",
    ),
    "Transitional": (
        "Turning from {entity} to the matter at hand: {question}",
        "Moving on from the fact that {fact}: {question}",
    ),
    "Supplementary": (
        "{Fact}; in addition, {question}",
        "Besides {entity}, {question}",
    ),
    "Contrastive": (
        "Unlike {entity}, {question}",
        "Although {fact}, {question}",
    ),
    "Causal": (
        "Because {fact}, {question}",
        "Since {fact}, one may wonder: {question}",
    ),
    "Parallel": (
        "Just as {fact}, {question}",
        "In the same vein as {entity}, {question}",
    ),
    "Hypothetical": (
        "Suppose {fact}: {question}",
        "If you are thinking of {entity}, set it aside: {question}",
    ),
    "Explanatory": (
        "Given that {fact}, {question}",
        "Knowing that {fact}, {question}",
    ),
}


def normalize_relation(name: str) -> str | None:
    """Return the canonical spelling of a relation name (any case, surrounding spaces), or ``None`` if unknown."""
    wanted = name.strip().lower()
    for relation in RELATIONS:
        if relation.lower() == wanted:
            return relation
    return None


def parse_relations(spec: str | Iterable[str] | Mapping[str, float] | None) -> dict[str, float]:
    """Read relation weights from the ``--relations`` option.

    ``None``/``"all"`` (all eight, equal), ``"Causal,Contrastive"`` (only these, equal) or
    ``"Causal=2,Parallel=1"`` (weighted); also a list or a mapping.

    Raises:
        ConfigError: for an unknown relation name or a weight that is not a positive number.
    """
    if spec is None or (isinstance(spec, str) and spec.strip().lower() in ("", "all")):
        return {r: 1.0 for r in RELATIONS}
    items: list[tuple[str, float]] = []
    if isinstance(spec, Mapping):
        items = [(str(k), float(v)) for k, v in spec.items()]
    else:
        parts: list[str] = spec.split(",") if isinstance(spec, str) else [str(p) for p in spec]
        for part in parts:
            text = part.strip()
            if not text:
                continue
            name, _, weight = text.partition("=")
            try:
                items.append((name, float(weight) if weight.strip() else 1.0))
            except ValueError:
                raise ConfigError(f"--relations: weight {weight!r} of {name.strip()!r} is not a number") from None
    weights: dict[str, float] = {}
    for label, value in items:
        relation = normalize_relation(label)
        if relation is None:
            raise ConfigError(f"--relations: unknown relation {label.strip()!r} (known: {', '.join(RELATIONS)})")
        if not value > 0:
            raise ConfigError(f"--relations: weight of {relation} must be positive, got {value}")
        weights[relation] = value
    if not weights:
        raise ConfigError("--relations: no relation given")
    return weights


@dataclass
class RelationSampler:
    """Draws relations with the given weights, keeping a run's spread close to them.

    Each draw takes the relation whose count lags its share the most, with ties (and the very first draws)
    broken by a seeded random choice, so 800 questions over 8 equal relations get 100 each, not 80–120.

    Args:
        weights: Relation to positive weight (from :func:`parse_relations`).
    """

    weights: dict[str, float]

    def __post_init__(self) -> None:
        total = sum(self.weights.values())
        self.relations = list(self.weights)
        self.shares = np.asarray([self.weights[r] / total for r in self.relations])
        self.counts: Counter[str] = Counter()

    def observe(self, relation: str) -> None:
        """Count a relation already used (rows of an earlier, resumed run)."""
        if relation in self.weights:
            self.counts[relation] += 1

    def draw(self, rng: np.random.Generator) -> str:
        """Draw the next relation."""
        n = sum(self.counts[r] for r in self.relations) + 1
        deficit = self.shares * n - np.asarray([self.counts[r] for r in self.relations])
        best = np.flatnonzero(deficit >= deficit.max() - 1e-9)
        choice = self.relations[int(rng.choice(best))]
        self.counts[choice] += 1
        return choice

    def allowed(self) -> list[str]:
        """Return the relations this sampler may draw."""
        return list(self.relations)
