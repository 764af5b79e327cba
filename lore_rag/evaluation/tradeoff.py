"""The distractor / normal-retrieval trade-off of a tuned query encoder, made visible and chosen by a stated rule.

A LORE checkpoint moves the query encoder away from its base model: distractors drop out of the top k, and plain
questions may lose some recall. Interpolating the weights, θ(r) = (1 − r)·θ_base + r·θ_tuned, gives every point in
between without retraining (r = 0 is the base model, r = 1 the checkpoint). Only the query side changes; the
document side stays the base model, so the cached document vectors serve every ratio and a point costs one pass
over the validation queries.

Each ratio is evaluated in both protocols, on rewritten and plain questions:

* ``candidates/VIEW/METRIC``: each question's own candidates (paper protocol): ``P@k``, ``N1@k``;
* ``corpus/VIEW/METRIC``: one exact index of all chunks of the file: ``P@k``, ``MRR@10``, ``nDCG@10``, ``N1@k``,
  ``N1count@k``, ``N1any@k``;

with ``VIEW`` ``rewritten`` (queries with distractors woven in) or ``plain`` (the questions as asked).

A rule picks the ratio, for example ``corpus/plain/P@10>=raw-0; min candidates/rewritten/N1@3``: constraints
(``METRIC OP BOUND``, ``OP`` one of ``>= <= > <``, ``BOUND`` a number, or ``raw`` / ``tuned`` plus or minus a
number: the value at r = 0 or r = 1) keep the ratios that meet them all, and one objective (``min METRIC`` or
``max METRIC``) picks among those; ties go to the smaller ratio (closer to the base model).
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lore_rag.config import help_field as _help
from lore_rag.data.schema import Example
from lore_rag.errors import ConfigError, DataError, ModelError
from lore_rag.evaluation.bootstrap import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    Interval,
    bootstrap_mean,
    paired_bootstrap,
)
from lore_rag.evaluation.candidates import DEFAULT_KS, per_question_metrics, score_candidates, view_subsets
from lore_rag.evaluation.corpus import corpus_task, exact_corpus_per_query
from lore_rag.evaluation.tradeoff_file import TRADEOFF_JSON, TRADEOFF_PNG, summary_dict
from lore_rag.evaluation.tradeoff_plot import format_tradeoff_table, plot_tradeoff, ratio_label
from lore_rag.evaluation.tradeoff_rule import (
    PROTOCOLS,
    VIEWS,
    Choice,
    Constraint,
    Rule,
    choose,
    normalise_metric,
    parse_rule,
)

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from lore_rag.models.encoder import LoreEncoder

__all__ = [
    "PROTOCOLS",
    "VIEWS",
    "Choice",
    "Constraint",
    "Interpolator",
    "PointResult",
    "Rule",
    "TradeoffConfig",
    "TradeoffResult",
    "TradeoffSets",
    "choose",
    "evaluate_point",
    "interpolate_state",
    "intervals",
    "normalise_metric",
    "parse_rule",
    "ratio_label",
    "run_tradeoff",
    "write_interpolated",
]

logger = logging.getLogger(__name__)

# --- interpolation --------------------------------------------------------------------------------------------


def interpolate_state(base: Mapping[str, Any], tuned: Mapping[str, Any], ratio: float) -> dict[str, Any]:
    """``(1 − ratio)·base + ratio·tuned`` for every floating-point tensor; other tensors are taken from ``tuned``.

    Raises:
        ModelError: when the two state dicts do not have the same tensors (e.g. a LoRA adapter against a full model).
    """
    if set(base) != set(tuned):
        missing = sorted(set(base) ^ set(tuned))[:3]
        raise ModelError(f"the checkpoint and its base model have different weights ({', '.join(missing)}, ...)")
    out: dict[str, Any] = {}
    for name, t in tuned.items():
        b = base[name]
        if tuple(b.shape) != tuple(t.shape):
            raise ModelError(f"weight {name}: shape {tuple(t.shape)} in the checkpoint, {tuple(b.shape)} in the base")
        out[name] = (b + (t - b) * ratio).to(t.dtype) if t.is_floating_point() else t.clone()
    return out


class Interpolator:
    """Query encoders between a checkpoint's base model (r = 0) and the checkpoint (r = 1).

    Args:
        encoder: The checkpoint as a :class:`LoreEncoder` (tuned query side, base document side).
    """

    def __init__(self, encoder: LoreEncoder) -> None:
        if encoder.is_raw:
            raise ConfigError("trade-off: the model given is a raw model; give a tuned checkpoint")
        self.encoder = encoder
        self._base = {k: v.detach().clone() for k, v in encoder.document_model.state_dict().items()}
        self._tuned = {k: v.detach().clone() for k, v in encoder.query_model.state_dict().items()}
        interpolate_state(self._base, self._tuned, 0.0)  # checks the two match before any work
        self._work: SentenceTransformer = copy.deepcopy(encoder.query_model)

    def model(self, ratio: float) -> SentenceTransformer:
        """The query model at ``ratio`` (one shared working copy: use it before asking for another ratio)."""
        import torch

        with torch.no_grad():
            self._work.load_state_dict(interpolate_state(self._base, self._tuned, float(ratio)))
        self._work._lore_fingerprint = None  # type: ignore[attr-defined,assignment]
        return self._work

    def encoder_at(self, ratio: float) -> LoreEncoder:
        """A :class:`LoreEncoder` with the query model at ``ratio`` and the checkpoint's document model."""
        from lore_rag.models.encoder import LoreEncoder

        return LoreEncoder(
            self.model(ratio),
            self.encoder.document_model,
            name=f"{self.encoder.name}@{ratio:g}",
            manifest=self.encoder.manifest,
            batch_size=self.encoder.batch_size,
        )


# --- evaluation of one point ----------------------------------------------------------------------------------


@dataclass
class PointResult:
    """One model's metrics on the trade-off sets.

    Attributes:
        per_query: ``{"PROTOCOL/VIEW/METRIC": per-question values}``.
        means: ``{"PROTOCOL/VIEW/METRIC": mean}``.
    """

    per_query: dict[str, np.ndarray]
    means: dict[str, float]


@dataclass
class TradeoffSets:
    """The questions every point is scored on, prepared once.

    Attributes:
        rewritten: Rows with a rewritten ``query`` (their ``original_query`` is the plain view when no plain file).
        plain: Plain questions (as asked): an explicit file, or the original queries of ``rewritten``.
    """

    rewritten: list[Example]
    plain: list[Example]

    @classmethod
    def build(cls, examples: Sequence[Example], plain: Sequence[Example] | None = None) -> TradeoffSets:
        """From a rewritten (LORE) file and, optionally, a file of plain questions.

        Raises:
            DataError: when there are no rewritten rows, or no plain question.
        """
        views = view_subsets(examples, ("rewritten", "original"))
        if "rewritten" not in views:
            raise DataError("trade-off: the validation file has no rewritten rows (no 'original_query' in any row)")
        plain_rows = list(plain) if plain is not None else views.get("original", [])
        if plain is not None:
            plain_rows = view_subsets(plain_rows, ("original",)).get("original", [])
        plain_rows = [e for e in plain_rows if e.n_positive]
        if not plain_rows:
            raise DataError("trade-off: no plain question with a positive chunk")
        return cls(list(views["rewritten"]), plain_rows)


def evaluate_point(
    encoder: LoreEncoder,
    sets: TradeoffSets,
    embed_documents: Any,
    *,
    ks: Sequence[int] = DEFAULT_KS,
) -> PointResult:
    """Both protocols, both views, for one encoder; documents come from ``embed_documents`` (the cache).

    The corpus-wide index of a view is all chunks of its file, searched exactly.
    """
    per_query: dict[str, np.ndarray] = {}
    for view, rows, field_name in (("rewritten", sets.rewritten, "query"), ("plain", sets.plain, "query")):
        vectors = encoder.embed_queries([e.query for e in rows], show_progress=False)
        scores = score_candidates(vectors, rows, embed_documents)
        for metric, values in per_question_metrics(scores, rows, ks).items():
            if view == "plain" and metric.startswith("N1"):
                continue
            per_query[f"candidates/{view}/{metric}"] = values
        task = corpus_task(rows, query_field=field_name)
        keep = {id(e) for e in task.examples}
        task_vectors = vectors[[i for i, e in enumerate(rows) if id(e) in keep]]
        corpus = exact_corpus_per_query(task, task_vectors, embed_documents(task.texts), ks=ks)
        for metric, values in corpus.items():
            if view == "plain" and metric.startswith("N1"):
                continue
            per_query[f"corpus/{view}/{metric}"] = values
    return PointResult(per_query, {k: float(v.mean()) for k, v in per_query.items()})


def intervals(
    points: Mapping[str, PointResult],
    baseline: str,
    metrics: Sequence[str],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> dict[str, dict[str, dict[str, Interval]]]:
    """For each point and metric, the mean's interval (``"mean"``) and the paired difference from ``baseline``.

    Returns:
        ``{point: {metric: {"mean": Interval, "diff": Interval}}}`` (no ``"diff"`` for the baseline itself).
    """
    base = points[baseline]
    out: dict[str, dict[str, dict[str, Interval]]] = {}
    for name, point in points.items():
        out[name] = {}
        for metric in metrics:
            entry = {
                "mean": bootstrap_mean(
                    point.per_query[metric], n_resamples=n_resamples, confidence=confidence, seed=seed
                )
            }
            if name != baseline:
                entry["diff"] = paired_bootstrap(
                    point.per_query[metric],
                    base.per_query[metric],
                    n_resamples=n_resamples,
                    confidence=confidence,
                    seed=seed,
                )
            out[name][metric] = entry
    return out


def check_ratios(ratios: Sequence[float]) -> list[float]:
    """Sorted distinct ratios; each finite (extrapolation beyond [0, 1] is allowed up to 2, and down to -1).

    Raises:
        ConfigError: for no ratio or one that is not a finite number in [-1, 2].
    """
    if not ratios:
        raise ConfigError("--ratios: give at least one ratio")
    out = set()
    for r in ratios:
        if not math.isfinite(r) or not -1.0 <= r <= 2.0:
            raise ConfigError(f"--ratios: {r} is not a number in [-1, 2] (0 = base model, 1 = the checkpoint)")
        out.add(float(r))
    return sorted(out)


def checkpoint_label(path: str | Path) -> str:
    """A short label for a checkpoint folder in plots (its last two meaningful path parts)."""
    parts = [p for p in Path(path).parts if p not in ("best", "last")]
    return "/".join(parts[-2:]) if parts else str(path)


# --- the whole run --------------------------------------------------------------------------------------------

#: Metrics every trade-off table and plot shows (besides the rule's own).
KEY_METRICS = (
    "candidates/plain/P@3",
    "candidates/rewritten/P@3",
    "candidates/rewritten/N1@3",
    "candidates/rewritten/N1@5",
    "corpus/plain/P@10",
    "corpus/plain/MRR@10",
    "corpus/rewritten/P@10",
    "corpus/rewritten/N1@3",
)
DEFAULT_RATIOS = (0.0, 0.25, 0.5, 0.625, 0.75, 0.875, 1.0)
#: Chosen on validation_hotpotqa.jsonl (docs/tradeoff.md): with -1 instead of -1.5 only the base model qualified.
DEFAULT_RULE = "corpus/plain/P@10>=raw-1.5; candidates/plain/P@3>=raw-0.5; min candidates/rewritten/N1@3"


@dataclass
class TradeoffConfig:
    """Settings of one trade-off run (each field is a ``lore-rag tradeoff`` flag)."""

    checkpoint: str = _help("tuned checkpoint: a training output folder or its best/", "lore-output/lore")
    validation_file: str | None = _help("tiered JSONL file to choose on; default: bundled HotpotQA validation", None)
    plain_file: str | None = _help(
        "file of plain questions (raw rows) for the plain view; default: the validation rows' original_query", None
    )
    ratios: list[float] = _help(
        "interpolation ratios (0 = base model, 1 = the checkpoint; 0 and 1 are always added)",
        default_factory=lambda: list(DEFAULT_RATIOS),
    )
    rule: str = _help(
        "how to choose: 'METRIC OP BOUND; ...; min|max METRIC', METRIC = PROTOCOL/VIEW/NAME, BOUND a number or "
        "raw/tuned plus or minus a number",
        DEFAULT_RULE,
    )
    compare: list[str] = _help("other checkpoints on the same base, drawn as points", default_factory=list)
    output_dir: str = _help("folder for tradeoff.png, tradeoff.md, tradeoff.json and checkpoint/", "lore-tradeoff")
    ks: list[int] = _help("cut-offs", default_factory=lambda: list(DEFAULT_KS))
    bootstrap: int = _help("bootstrap resamples for the intervals (>= 1000)", DEFAULT_RESAMPLES)
    confidence: float = _help("confidence of the intervals", DEFAULT_CONFIDENCE)
    bootstrap_seed: int = _help("seed of the resampling", 0)
    write_checkpoint: bool = _help("write the chosen ratio's query encoder to OUTPUT/checkpoint", True)
    cache_dir: str | None = _help("document-embedding cache folder; default: the lore-rag cache", None)
    device: str | None = _help("torch device", None)
    show_progress: bool = _help("progress bars while embedding documents", True)

    def __post_init__(self) -> None:
        self.ratios = check_ratios(sorted(set(self.ratios) | {0.0, 1.0}))
        if not self.ks or any(int(k) < 1 for k in self.ks):
            raise ConfigError(f"--ks: cut-offs must be positive integers, got {self.ks}")
        self.ks = sorted({int(k) for k in self.ks})
        if int(self.bootstrap) < 1000:
            raise ConfigError(f"--bootstrap: at least 1000 resamples, got {self.bootstrap}")
        if not (math.isfinite(self.confidence) and 0 < self.confidence < 1):
            raise ConfigError(f"--confidence: must be between 0 and 1, got {self.confidence}")
        parse_rule(self.rule, self.ks)  # fail before loading anything


@dataclass
class TradeoffResult:
    """What :func:`run_tradeoff` measured and chose.

    Attributes:
        ratios: ``{ratio: PointResult}``.
        others: ``{label: PointResult}`` for the ``compare`` checkpoints.
        intervals: As :func:`intervals`, keyed by point label (``r=0.75`` or a checkpoint label).
        choice: The rule's decision.
        checkpoint: The folder written for the chosen ratio (``None`` when none was chosen or writing is off).
        seconds_per_point: Mean wall time of evaluating one ratio (queries re-encoded, documents from the cache).
        files: Paths written: ``png``, ``md``, ``json``.
    """

    ratios: dict[float, PointResult]
    others: dict[str, PointResult]
    intervals: dict[str, dict[str, dict[str, Interval]]]
    choice: Choice
    rule: Rule
    checkpoint: Path | None
    seconds_per_point: float
    files: dict[str, Path] = field(default_factory=dict)
    table: str = ""


def run_tradeoff(config: TradeoffConfig) -> TradeoffResult:
    """Evaluate the interpolation curve, choose a ratio by ``config.rule``, plot it and write the checkpoint.

    Raises:
        ConfigError: for a bad rule or settings; ModelError for a checkpoint that cannot be interpolated;
            DataError for unusable data.
    """
    import time

    from lore_rag.models.encoder import LoreEncoder

    rule = parse_rule(config.rule, config.ks)
    validation, sets = _read_sets(config)
    encoder = LoreEncoder.load(config.checkpoint, device=config.device)
    if encoder.is_raw:
        raise ConfigError(f"--checkpoint {config.checkpoint}: a raw model; give a tuned checkpoint")
    embed_documents = _document_cache(config, encoder, sets)
    interpolator = Interpolator(encoder)
    ratios: dict[float, PointResult] = {}
    started = time.perf_counter()
    for ratio in config.ratios:
        ratios[ratio] = evaluate_point(interpolator.encoder_at(ratio), sets, embed_documents, ks=config.ks)
        logger.info("%s: %s", ratio_label(ratio), {m: round(ratios[ratio].means[m], 1) for m in KEY_METRICS})
    per_point = (time.perf_counter() - started) / len(config.ratios)
    others: dict[str, PointResult] = {}
    for path in config.compare:
        other = LoreEncoder.from_checkpoint(path, document_model=encoder.document_model, device=config.device)
        others[checkpoint_label(other.manifest.get("path", path))] = evaluate_point(
            other, sets, embed_documents, ks=config.ks
        )
    choice = choose(rule, {r: p.means for r, p in ratios.items()})
    metrics = list(dict.fromkeys([*KEY_METRICS, *rule.metrics]))
    metrics = [m for m in metrics if m in ratios[0.0].per_query]
    points = {ratio_label(r): p for r, p in ratios.items()} | others
    cis = intervals(
        points,
        ratio_label(0.0),
        metrics,
        n_resamples=config.bootstrap,
        confidence=config.confidence,
        seed=config.bootstrap_seed,
    )
    result = TradeoffResult(ratios, others, cis, choice, rule, None, per_point)
    result.table = format_tradeoff_table(result, metrics)
    _write_outputs(config, result, interpolator, validation, sets)
    return result


def _read_sets(config: TradeoffConfig) -> tuple[str, TradeoffSets]:
    """The validation file's path (the bundled one by default) and the question sets read from it."""
    from lore_rag.data.io import read_examples
    from lore_rag.defaults import bundled_validation_path

    validation = config.validation_file or str(bundled_validation_path())
    sets = TradeoffSets.build(
        read_examples(validation), read_examples(config.plain_file) if config.plain_file else None
    )
    return validation, sets


def _document_cache(config: TradeoffConfig, encoder: LoreEncoder, sets: TradeoffSets) -> Any:
    """Embed every chunk of ``sets`` once with the document model; return the cache's ``embed`` for the points."""
    from lore_rag.defaults import cache_dir
    from lore_rag.models.doc_cache import DocEmbeddingCache

    folder = config.cache_dir or cache_dir("doc_embeddings")
    cache = DocEmbeddingCache(
        encoder.document_model, folder, show_progress=config.show_progress, precision=encoder.precision
    )
    cache.embed(list(dict.fromkeys(c for e in sets.rewritten + sets.plain for c in e.chunks)))
    return cache.embed


def _write_outputs(
    config: TradeoffConfig, result: TradeoffResult, interpolator: Interpolator, validation: str, sets: TradeoffSets
) -> None:
    """Write the plot, the table, the chosen ratio's checkpoint (when asked) and the JSON summary to the output."""
    from lore_rag.evaluation.report import write_json

    encoder = interpolator.encoder
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    result.files["png"] = plot_tradeoff(
        result, out / TRADEOFF_PNG, title=f"{checkpoint_label(encoder.manifest['path'])} on {Path(validation).name}"
    )
    (out / "tradeoff.md").write_text(result.table + "\n", encoding="utf-8")
    result.files["md"] = out / "tradeoff.md"
    choice = result.choice
    if choice.ratio is not None and config.write_checkpoint:
        result.checkpoint = write_interpolated(
            interpolator,
            choice.ratio,
            out / "checkpoint",
            rule=result.rule,
            validation=validation,
            means=result.ratios[choice.ratio].means,
        )
    summary = summary_dict(
        result,
        checkpoint=str(encoder.manifest["path"]),
        checkpoint_fingerprint=_fingerprint(encoder.query_model),
        validation_file=str(validation),
        plain_file=config.plain_file,
        n_rewritten=len(sets.rewritten),
        n_plain=len(sets.plain),
    )
    result.files["json"] = write_json(summary, out / TRADEOFF_JSON)


def write_interpolated(
    interpolator: Interpolator,
    ratio: float,
    folder: Path,
    *,
    rule: Rule,
    validation: str,
    means: Mapping[str, float],
) -> Path:
    """Save the query model at ``ratio`` as a checkpoint; the manifest and the model card record the ratio."""
    from lore_rag.models.checkpoint import save_checkpoint

    source = interpolator.encoder.manifest
    manifest = {k: v for k, v in source.items() if k not in ("path", "format", "created")}
    name = f"{source.get('name') or interpolator.encoder.name}@{ratio:g}"
    manifest["name"] = name
    manifest["interpolation"] = {
        "ratio": ratio,
        "formula": "(1 - ratio) * base + ratio * tuned, query encoder only",
        "tuned_checkpoint": str(source.get("path")),
        "tuned_fingerprint": _fingerprint(interpolator.encoder.query_model),
        "rule": rule.text,
        "chosen_on": str(validation),
        "validation_metrics": dict(means),
    }
    written = save_checkpoint(interpolator.model(ratio), folder, manifest)
    card = written / "README.md"
    note = (
        f"\n\n## LORE interpolation\n\nThis query encoder is `{ratio:g}` of the way from the base model "
        f"`{source.get('base_model')}` (0) to the tuned checkpoint `{source.get('path')}` (1), weight by weight: "
        f"(1 − r)·θ_base + r·θ_tuned. Documents stay embedded by the base model. The ratio was chosen on "
        f"`{Path(validation).name}` by the rule `{rule.text}`.\n"
    )
    previous = card.read_text(encoding="utf-8") if card.is_file() else f"# {name}\n"
    card.write_text(previous.rstrip() + note, encoding="utf-8")
    return written


def _fingerprint(model: SentenceTransformer) -> str:
    from lore_rag.models.encoder import model_fingerprint

    return model_fingerprint(model)
