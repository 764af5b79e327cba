"""The rule that picks a trade-off point: constraints on metrics, then one objective.

Grammar (see docs/tradeoff.md)::

    rule        := clause (";" clause)*          exactly one objective, any number of constraints
    constraint  := METRIC OP BOUND               OP: >=  <=  >  <
    objective   := ("min" | "max") METRIC
    METRIC      := PROTOCOL "/" VIEW "/" NAME     candidates|corpus / rewritten|plain / P@k, N1@k, MRR@10, ...
    BOUND       := NUMBER | ("raw" | "tuned") [("+" | "-") NUMBER]

``raw`` is the value at ratio 0 (the base model), ``tuned`` at ratio 1 (the checkpoint). Ratios that meet every
constraint are kept and the objective picks one; ties go to the smaller ratio.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from lore_rag.errors import ConfigError
from lore_rag.evaluation.candidates import DEFAULT_KS

__all__ = ["PROTOCOLS", "VIEWS", "Choice", "Constraint", "Rule", "choose", "normalise_metric", "parse_rule"]

PROTOCOLS = ("candidates", "corpus")
VIEWS = ("rewritten", "plain")
_VIEW_ALIASES = {"original": "plain", "plain": "plain", "rewritten": "rewritten"}
_METRIC = re.compile(r"^(P|N1|N1count|N1any)@(\d+)$|^(MRR|nDCG)@10$")
_CONSTRAINT = re.compile(r"^(?P<metric>[^<>=\s]+)\s*(?P<op>>=|<=|>|<)\s*(?P<bound>.+)$")
_BOUND = re.compile(
    r"^(?:(?P<ref>raw|tuned)\s*(?:(?P<sign>[+-])\s*(?P<delta>\d+(?:\.\d*)?|\.\d+))?|(?P<num>[+-]?\d+(?:\.\d*)?|[+-]?\.\d+))$"
)


@dataclass(frozen=True)
class Constraint:
    """``metric op bound``; the bound is a number, or the value at r = 0 (``raw``) or r = 1 (``tuned``) plus delta."""

    metric: str
    op: str
    ref: str | None
    delta: float
    text: str

    def bound(self, by_ratio: Mapping[float, Mapping[str, float]]) -> float:
        """The bound's value given every ratio's metrics (``raw`` is r = 0, ``tuned`` r = 1)."""
        if self.ref is None:
            return self.delta
        ratio = 0.0 if self.ref == "raw" else 1.0
        if ratio not in by_ratio:
            raise ConfigError(f"--rule: {self.text!r} refers to {self.ref}, so the ratios must include {ratio:g}")
        return float(by_ratio[ratio][self.metric]) + self.delta

    def holds(self, value: float, bound: float) -> bool:
        """Whether ``value`` meets the constraint (with a tolerance of 1e-9 for float noise)."""
        eps = 1e-9
        return {
            ">=": value >= bound - eps,
            "<=": value <= bound + eps,
            ">": value > bound + eps,
            "<": value < bound - eps,
        }[self.op]


@dataclass(frozen=True)
class Rule:
    """Constraints, then one objective: ``goal`` (``min`` or ``max``) of ``objective``."""

    constraints: tuple[Constraint, ...]
    goal: str
    objective: str
    text: str

    @property
    def metrics(self) -> list[str]:
        """Every metric the rule reads."""
        return [c.metric for c in self.constraints] + [self.objective]


def normalise_metric(name: str, ks: Sequence[int] = DEFAULT_KS) -> str:
    """``PROTOCOL/VIEW/METRIC`` checked and in canonical form (``original`` becomes ``plain``).

    Raises:
        ConfigError: naming what is wrong in one line.
    """
    parts = name.strip().split("/")
    if len(parts) != 3:
        raise ConfigError(f"--rule: metric {name!r}: write PROTOCOL/VIEW/METRIC, e.g. candidates/rewritten/N1@3")
    protocol, view, metric = parts
    if protocol not in PROTOCOLS:
        raise ConfigError(f"--rule: metric {name!r}: protocol must be one of {', '.join(PROTOCOLS)}")
    if view not in _VIEW_ALIASES:
        raise ConfigError(f"--rule: metric {name!r}: view must be one of {', '.join(VIEWS)}")
    match = _METRIC.match(metric)
    if not match:
        raise ConfigError(f"--rule: metric {name!r}: metric must be P@k, N1@k, N1count@k, N1any@k, MRR@10 or nDCG@10")
    if match.group(2) is not None and int(match.group(2)) not in ks:
        raise ConfigError(f"--rule: metric {name!r}: k={match.group(2)} is not among the cut-offs {list(ks)}")
    if protocol == "candidates" and not metric.startswith(("P@", "N1@")):
        raise ConfigError(f"--rule: metric {name!r}: the candidates protocol has P@k and N1@k only")
    if _VIEW_ALIASES[view] == "plain" and metric.startswith("N1"):
        raise ConfigError(f"--rule: metric {name!r}: plain questions have no distractors; use the rewritten view")
    return f"{protocol}/{_VIEW_ALIASES[view]}/{metric}"


def parse_rule(text: str, ks: Sequence[int] = DEFAULT_KS) -> Rule:
    """Parse ``"CONSTRAINT; ...; min|max METRIC"`` (see the module docstring).

    Raises:
        ConfigError: a one-line message naming the clause that is wrong.
    """
    clauses = [c.strip() for c in text.split(";") if c.strip()]
    if not clauses:
        raise ConfigError("--rule: empty; e.g. 'corpus/plain/P@10>=raw-0; min candidates/rewritten/N1@3'")
    constraints: list[Constraint] = []
    objective: tuple[str, str] | None = None
    for clause in clauses:
        words = clause.split()
        if words[0] in ("min", "max"):
            if objective is not None:
                raise ConfigError(f"--rule: {clause!r}: only one objective (min/max) is allowed")
            if len(words) != 2:
                raise ConfigError(f"--rule: {clause!r}: write 'min METRIC' or 'max METRIC'")
            objective = (words[0], normalise_metric(words[1], ks))
            continue
        match = _CONSTRAINT.match(clause)
        if not match:
            raise ConfigError(f"--rule: {clause!r}: not 'METRIC >= BOUND' (or <=, >, <) nor 'min|max METRIC'")
        bound = _BOUND.match(match.group("bound").strip())
        if not bound:
            raise ConfigError(f"--rule: {clause!r}: the bound must be a number, 'raw', 'raw-1.5', 'tuned+2' or alike")
        if bound.group("num") is not None:
            ref, delta = None, float(bound.group("num"))
        else:
            ref = bound.group("ref")
            delta = float(bound.group("delta") or 0.0) * (-1.0 if bound.group("sign") == "-" else 1.0)
        constraints.append(
            Constraint(normalise_metric(match.group("metric"), ks), match.group("op"), ref, delta, clause)
        )
    if objective is None:
        raise ConfigError(f"--rule: {text!r}: add an objective, e.g. '; min candidates/rewritten/N1@3'")
    return Rule(tuple(constraints), objective[0], objective[1], text)


@dataclass
class Choice:
    """What :func:`choose` decided.

    Attributes:
        ratio: The chosen ratio, ``None`` when no ratio meets every constraint.
        feasible: Ratios that meet every constraint.
        failed: ``{ratio: [constraint text that fails, with value and bound]}``.
    """

    ratio: float | None
    feasible: list[float]
    failed: dict[float, list[str]] = field(default_factory=dict)


def choose(
    rule: Rule, by_ratio: Mapping[float, Mapping[str, float]], *, candidates: Iterable[float] | None = None
) -> Choice:
    """Apply ``rule`` to ``{ratio: {metric: value}}``.

    ``candidates``: the keys that may be chosen (default: all); the others only serve as ``raw`` / ``tuned`` bounds.
    """
    bounds = [(c, c.bound(by_ratio)) for c in rule.constraints]
    feasible: list[float] = []
    failed: dict[float, list[str]] = {}
    for ratio in sorted(by_ratio if candidates is None else candidates):
        values = by_ratio[ratio]
        misses = [
            f"{c.metric} = {values[c.metric]:.2f}, needs {c.op} {b:.2f}"
            for c, b in bounds
            if not c.holds(float(values[c.metric]), b)
        ]
        if misses:
            failed[ratio] = misses
        else:
            feasible.append(ratio)
    if not feasible:
        return Choice(None, [], failed)
    sign = 1.0 if rule.goal == "min" else -1.0
    best = min(feasible, key=lambda r: (sign * float(by_ratio[r][rule.objective]), r))
    return Choice(best, feasible, failed)
