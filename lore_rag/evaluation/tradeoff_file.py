"""``tradeoff.json``, the summary ``lore-rag tradeoff`` writes beside its plot: written here, and read back.

The writer (:func:`summary_dict`) and the reader (:func:`read_tradeoff`) live together so the format has one
definition. The reader checks every field it uses and names the file and the field of anything wrong, so a
program that shows a trade-off (the app's Summary tab) can show one line instead of failing.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lore_rag.errors import ConfigError, DataError
from lore_rag.evaluation.bootstrap import Interval
from lore_rag.evaluation.candidates import DEFAULT_KS
from lore_rag.evaluation.tradeoff_plot import ratio_label, tradeoff_tables
from lore_rag.evaluation.tradeoff_rule import Rule, parse_rule

if TYPE_CHECKING:
    from lore_rag.evaluation.tradeoff import TradeoffResult

__all__ = ["TRADEOFF_JSON", "TRADEOFF_PNG", "TradeoffSummary", "read_tradeoff", "summary_dict"]

#: File names inside a ``lore-rag tradeoff`` output folder.
TRADEOFF_JSON = "tradeoff.json"
TRADEOFF_PNG = "tradeoff.png"

_BASE = ratio_label(0.0)
_CUTOFF = re.compile(r"@(\d+)$")
_INTERVAL_NUMBERS = ("estimate", "low", "high", "std_error", "confidence")


def summary_dict(
    result: TradeoffResult,
    *,
    checkpoint: str,
    checkpoint_fingerprint: str,
    validation_file: str,
    plain_file: str | None,
    n_rewritten: int,
    n_plain: int,
) -> dict[str, Any]:
    """What ``tradeoff.json`` holds for ``result``: every point's means and intervals, the rule and its choice.

    Args:
        result: The run's result.
        checkpoint: The tuned checkpoint folder (r = 1).
        checkpoint_fingerprint: Its query encoder's weight fingerprint (how a reader matches the file to a model).
        validation_file: The file the ratio was chosen on.
        plain_file: The file of plain questions, or ``None`` (the validation rows' original questions).
        n_rewritten: Rewritten questions scored.
        n_plain: Plain questions scored.
    """
    choice = result.choice
    points = {ratio_label(r): p for r, p in result.ratios.items()} | result.others
    return {
        "checkpoint": checkpoint,
        "checkpoint_fingerprint": checkpoint_fingerprint,
        "validation_file": validation_file,
        "plain_file": plain_file,
        "rule": result.rule.text,
        "chosen_ratio": choice.ratio,
        "feasible_ratios": choice.feasible,
        "failed": {ratio_label(r): v for r, v in choice.failed.items()},
        "written_checkpoint": str(result.checkpoint) if result.checkpoint else None,
        "seconds_per_point": result.seconds_per_point,
        "n_rewritten": n_rewritten,
        "n_plain": n_plain,
        "points": {name: p.means for name, p in points.items()},
        "intervals": {
            name: {m: {k: v.to_dict() for k, v in e.items()} for m, e in by_metric.items()}
            for name, by_metric in result.intervals.items()
        },
    }


@dataclass(frozen=True)
class TradeoffSummary:
    """A ``tradeoff.json`` read back.

    Attributes:
        path: The JSON file.
        checkpoint: The tuned checkpoint (r = 1) as the run named it (possibly relative to where it ran).
        checkpoint_fingerprint: Its query encoder's fingerprint (``None`` in files written before it was recorded).
        validation_file: The file the ratio was chosen on.
        plain_file: The file of plain questions (``None``: the validation rows' original questions).
        rule: The rule that chose.
        chosen_ratio: The chosen ratio, ``None`` when no ratio met the constraints.
        feasible_ratios: Ratios that met every constraint.
        failed: ``{point label: [failing constraint, ...]}``.
        written_checkpoint: The checkpoint written for the chosen ratio, if any.
        n_rewritten: Rewritten questions scored.
        n_plain: Plain questions scored.
        intervals: ``{point: {metric: {"mean": Interval, "diff": Interval}}}``, the base model (``r=0``) first.
    """

    path: Path
    checkpoint: str
    checkpoint_fingerprint: str | None
    validation_file: str
    plain_file: str | None
    rule: Rule
    chosen_ratio: float | None
    feasible_ratios: list[float]
    failed: dict[str, list[str]]
    written_checkpoint: str | None
    n_rewritten: int
    n_plain: int
    intervals: dict[str, dict[str, dict[str, Interval]]]

    @property
    def folder(self) -> Path:
        """The output folder the file is in."""
        return self.path.parent

    @property
    def plot(self) -> Path | None:
        """The folder's ``tradeoff.png``, when it is there."""
        png = self.folder / TRADEOFF_PNG
        return png if png.is_file() else None

    @property
    def metrics(self) -> list[str]:
        """The metrics the file has intervals for, in its order."""
        return list(self.intervals[_BASE])

    def table(self, metrics: Sequence[str] | None = None) -> str:
        """The Markdown tables ``lore-rag tradeoff`` printed (means, then paired differences; chosen row marked)."""
        return tradeoff_tables(
            self.intervals,
            list(metrics) if metrics is not None else self.metrics,
            rule=self.rule,
            chosen=self.chosen_ratio,
            feasible=self.feasible_ratios,
            failed=self.failed,
        )


def read_tradeoff(path: str | os.PathLike[str]) -> TradeoffSummary:
    """Read a ``lore-rag tradeoff`` output: its folder, or the ``tradeoff.json`` in it.

    Raises:
        DataError: naming the file (and the field) when it is missing, not JSON, or lacks what a summary needs.
    """
    file = Path(path).expanduser()
    if file.is_dir():
        file = file / TRADEOFF_JSON
    where = str(file)
    if not file.is_file():
        raise DataError("no such file (run `lore-rag tradeoff --checkpoint CKPT --output DIR` to write it)", path=where)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read it: {exc}", path=where) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})", path=where) from None
    if not isinstance(data, dict):
        raise DataError(f"expected a JSON object, got {type(data).__name__}", path=where)
    intervals = _intervals(data, where)
    chosen = _field(data, "chosen_ratio", where)
    if chosen is not None:
        chosen = _number(chosen, "chosen_ratio", where)
        if ratio_label(chosen) not in intervals:
            raise DataError(f"{ratio_label(chosen)} is not a point of 'intervals'", path=where, field="chosen_ratio")
    return TradeoffSummary(
        path=file,
        checkpoint=_text(data, "checkpoint", where),
        checkpoint_fingerprint=_optional(data, "checkpoint_fingerprint", _string, where),
        validation_file=_text(data, "validation_file", where),
        plain_file=_optional(data, "plain_file", _string, where),
        rule=_rule(data, intervals, where),
        chosen_ratio=chosen,
        feasible_ratios=[_number(v, f"feasible_ratios[{i}]", where) for i, v in enumerate(_list(data, where))],
        failed=_failed(data, where),
        written_checkpoint=_optional(data, "written_checkpoint", _string, where),
        n_rewritten=_count(data, "n_rewritten", where),
        n_plain=_count(data, "n_plain", where),
        intervals=intervals,
    )


# --- field checks ---------------------------------------------------------------------------------------------


def _field(data: Mapping[str, Any], name: str, where: str) -> Any:
    if name not in data:
        raise DataError("missing", path=where, field=name)
    return data[name]


def _string(value: Any, name: str, where: str) -> str:
    if not isinstance(value, str):
        raise DataError(f"expected text, got {json.dumps(value)[:40]}", path=where, field=name)
    return value


def _text(data: Mapping[str, Any], name: str, where: str) -> str:
    value = _string(_field(data, name, where), name, where)
    if not value.strip():
        raise DataError("empty", path=where, field=name)
    return value


def _number(value: Any, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(f"expected a finite number, got {json.dumps(value)[:40]}", path=where, field=name)
    return float(value)


def _optional(data: Mapping[str, Any], name: str, check: Any, where: str) -> Any:
    value = data.get(name)
    return None if value is None else check(value, name, where)


def _count(data: Mapping[str, Any], name: str, where: str) -> int:
    value = _field(data, name, where)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DataError(f"expected a count, got {json.dumps(value)[:40]}", path=where, field=name)
    return value


def _list(data: Mapping[str, Any], where: str) -> list[Any]:
    value = _field(data, "feasible_ratios", where)
    if not isinstance(value, list):
        raise DataError("expected a list of ratios", path=where, field="feasible_ratios")
    return value


def _failed(data: Mapping[str, Any], where: str) -> dict[str, list[str]]:
    value = data.get("failed") or {}
    if not isinstance(value, dict) or not all(
        isinstance(v, list) and all(isinstance(s, str) for s in v) for v in value.values()
    ):
        raise DataError("expected {point: [constraint, ...]}", path=where, field="failed")
    return {str(k): list(v) for k, v in value.items()}


def _rule(data: Mapping[str, Any], intervals: Mapping[str, Any], where: str) -> Rule:
    """The rule, parsed with the cut-offs the file's metrics use (a run may have set its own ``--ks``)."""
    text = _text(data, "rule", where)
    ks = {int(m.group(1)) for metric in intervals[_BASE] if (m := _CUTOFF.search(metric))} | set(DEFAULT_KS)
    try:
        return parse_rule(text, sorted(ks))
    except ConfigError as exc:
        raise DataError(str(exc).removeprefix("--rule: "), path=where, field="rule") from None


def _interval(value: Any, name: str, where: str) -> Interval:
    if not isinstance(value, dict):
        raise DataError("expected an interval object", path=where, field=name)
    numbers = {k: _number(_field(value, k, where), f"{name}.{k}", where) for k in _INTERVAL_NUMBERS}
    seeds = value.get("n_seeds", [1])
    if not isinstance(seeds, list) or not all(isinstance(s, int) for s in seeds):
        raise DataError("expected a list of counts", path=where, field=f"{name}.n_seeds")
    return Interval(
        estimate=numbers["estimate"],
        low=numbers["low"],
        high=numbers["high"],
        std_error=numbers["std_error"],
        n_questions=int(_number(_field(value, "n_questions", where), f"{name}.n_questions", where)),
        n_seeds=tuple(seeds),
        n_resamples=int(_number(_field(value, "n_resamples", where), f"{name}.n_resamples", where)),
        confidence=numbers["confidence"],
    )


def _intervals(data: Mapping[str, Any], where: str) -> dict[str, dict[str, dict[str, Interval]]]:
    """``intervals``: every point has the base model's metrics, each a ``mean`` (and, but for r=0, a ``diff``)."""
    raw = _field(data, "intervals", where)
    if not isinstance(raw, dict) or not raw:
        raise DataError("expected {point: {metric: {mean, diff}}}, not empty", path=where, field="intervals")
    if _BASE not in raw or not isinstance(raw[_BASE], dict) or not raw[_BASE]:
        raise DataError(f"no metrics of the base model ({_BASE})", path=where, field="intervals")
    metrics = list(raw[_BASE])
    out: dict[str, dict[str, dict[str, Interval]]] = {}
    for point in [_BASE, *(p for p in raw if p != _BASE)]:
        by_metric = raw[point]
        if not isinstance(by_metric, dict):
            raise DataError("expected {metric: {mean, diff}}", path=where, field=f"intervals.{point}")
        out[point] = {}
        for metric in metrics:
            name = f"intervals.{point}.{metric}"
            entry = by_metric.get(metric)
            if not isinstance(entry, dict):
                raise DataError("missing" if entry is None else "expected {mean, diff}", path=where, field=name)
            out[point][metric] = {"mean": _interval(entry.get("mean"), f"{name}.mean", where)}
            if point != _BASE:
                out[point][metric]["diff"] = _interval(entry.get("diff"), f"{name}.diff", where)
    return out
