"""The resumable builder: raw rows in, tiered LORE rows (P / N1 / N2) out, one durable line at a time.

For each question: skip it if it has no relevant or no non-relevant chunk; keep it as an original query
(P / N2, relation ``None``) unless it falls in ``--fraction``; otherwise sample distractor candidates among its
non-relevant chunks (preferring ones similar to the query), choose a relation, and rewrite (LLM or offline
templates). An accepted rewrite marks the used chunks N1 and the other non-relevant ones N2.

Output is append-only JSONL written and ``fsync``-ed row by row, keyed by example id. Questions given up on are
recorded with their reason in ``<output>.skipped.jsonl``; the options of the run in ``<output>.meta.json``. A
restart reads both (a truncated last line, left by a kill, is cut off and redone), skips what is done, and
goes on; ``retry_skipped`` retries the skipped ones, ``overwrite`` starts over.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lore_rag.concurrency import bounded_map
from lore_rag.config import non_negative_float, option, positive_int
from lore_rag.data.answers import gold_answers
from lore_rag.data.builder.checks import REASONS, Rewrite, RewriteChecker
from lore_rag.data.builder.mining import MINING_METHODS, DistractorMiner, stable_seed
from lore_rag.data.builder.relations import RelationSampler, parse_relations
from lore_rag.data.builder.rewrite_offline import offline_rewrite
from lore_rag.data.converters._common import content_id
from lore_rag.data.io import expand_paths, iter_json_rows
from lore_rag.data.jsonl_log import JsonlAppender, read_log
from lore_rag.data.schema import Example, Tier
from lore_rag.errors import ConfigError, DataError, LoreError
from lore_rag.runs import check_same_run, read_run_state, write_run_state

if TYPE_CHECKING:
    from lore_rag.llm import LLMClient
    from lore_rag.models.encoder import LoreEncoder

__all__ = ["BuildConfig", "BuildReport", "build_data", "load_inputs", "read_done", "sidecar_paths"]

logger = logging.getLogger(__name__)

#: Reasons a question is skipped before any rewrite is tried.
PRE_SKIPS = {"no_positive": "no relevant chunk", "no_negative": "every chunk is relevant"}
_META_KEYS = (
    "offline",
    "fraction",
    "seed",
    "relations",
    "relation_choice",
    "mining",
    "candidates",
    "max_distractors",
    "sharpness",
)


@dataclass
class BuildConfig:
    """Options of one build (the flags of ``lore-rag build-data``).

    Attributes:
        inputs: Raw JSONL files or folders (``lore-rag convert`` output, or ``shared/data/raw``).
        output: The LORE JSONL file to write (appended to and resumed).
        offline: Use the offline template rewriter instead of an LLM.
        fraction: Share of questions to rewrite; the others stay original queries (P / N2).
        relations: Allowed relations and weights: ``None`` (all eight), ``"Causal,Parallel"``, ``"Causal=2,..."``.
        relation_choice: ``assign`` (the builder draws a relation per question, balanced by weight, and asks for
            it) or ``llm`` (the model picks among the allowed relations).
        mining: How distractor candidates are ranked: ``bm25``, ``embedding``, ``hybrid`` or ``random``.
        candidates: Distractor candidates offered per question.
        max_distractors: Most distractors (N1) one rewrite may use.
        sharpness: Preference for the most similar candidates (0 uniform; larger favours the top more).
        seed: Seed of every random choice (per question, so results do not depend on order or concurrency).
        limit: Use only the first ``limit`` input questions.
        overwrite: Delete an existing output (and its side files) and start over.
        retry_skipped: On resume, retry questions recorded as skipped.
        max_attempts: Most LLM replies per question (the first plus re-asks).
        anchor_question: Constrain LLM queries to end with the original question (schema ``pattern``); helps
            small local models, which otherwise drop the question.
        concurrency: Questions in flight at once (LLM mode).
        min_keep: Smallest share of the original question's content words a rewrite must keep.
        max_query_chars: Longest rewritten query accepted.
        max_endpoint_failures: Stop after this many endpoint failures in a row (a resume retries them).
        show_progress: Show a progress bar.
    """

    inputs: list[str] = option("raw JSONL file(s) or folder(s)", flags=("inputs",), nargs="+", metavar="INPUT")
    output: str = option("output JSONL (appended to; resumed when present)", flags=("-o", "--output"))
    offline: bool = option("template rewrites, no LLM", False, action="store_true")
    fraction: float = option(
        "share of questions to rewrite; the rest stay original queries (P / N2) (default 1)",
        1.0,
        type=non_negative_float,
    )
    relations: str | dict[str, float] | list[str] | None = option(
        "allowed relations, optionally weighted: 'Causal,Parallel' or 'Causal=2,Parallel=1' (default: all eight, "
        "equal)",
        None,
    )
    relation_choice: str = option(
        "assign: draw a relation per question, balanced by weight; llm: let the model pick among the allowed ones "
        "(default assign)",
        "assign",
        choices=("assign", "llm"),
    )
    mining: str = option(
        "how distractor candidates are ranked by similarity to the query (default bm25)", "bm25", choices=MINING_METHODS
    )
    candidates: int = option("distractor candidates offered per question (4)", 4, type=positive_int)
    max_distractors: int = option("most distractors per rewrite (2)", 2, type=positive_int)
    sharpness: float = option(
        "preference for the most similar candidates (0 uniform, default 1)", 1.0, type=non_negative_float
    )
    seed: int = option("seed of all random choices (default 13)", 13)
    limit: int | None = option("use only the first N input questions (at least 1)", None, type=positive_int)
    overwrite: bool = option("delete an existing output and start over", False, action="store_true")
    retry_skipped: bool = option("on resume, retry questions skipped before", False, action="store_true")
    max_attempts: int = option("LLM replies per question incl. re-asks (3)", 3, type=positive_int)
    anchor_question: bool = option(
        "constrain LLM queries to end with the original question (grammar-constrained decoding)", False, cli=False
    )
    concurrency: int = option("questions in flight at once (LLM mode): the LLM client's concurrency", 4, cli=False)
    min_keep: float = option(
        "share of the question's content words a rewrite must keep (default 0.6)", 0.6, type=non_negative_float
    )
    max_query_chars: int = option("longest rewrite accepted (600)", 600, type=positive_int)
    max_endpoint_failures: int = option(
        "stop after this many endpoint failures in a row (default 8)", 8, type=positive_int
    )
    show_progress: bool = option("no progress bar", True, flags=("--no-progress",), action="store_false")

    def validate(self) -> None:
        """Raise :class:`ConfigError` for an option out of range."""
        if not self.inputs:
            raise ConfigError("build-data needs at least one input file")
        if not 0.0 <= self.fraction <= 1.0:
            raise ConfigError(f"--fraction must be between 0 and 1, got {self.fraction}")
        if self.relation_choice not in ("assign", "llm"):
            raise ConfigError(f"--relation-choice must be assign or llm, got {self.relation_choice!r}")
        if self.mining not in MINING_METHODS:
            raise ConfigError(f"--mining must be one of {', '.join(MINING_METHODS)}, got {self.mining!r}")
        for name in ("candidates", "max_distractors", "max_attempts", "concurrency", "max_endpoint_failures"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.limit is not None and self.limit < 0:
            raise ConfigError(f"--limit must not be negative, got {self.limit}")
        if str(self.output).endswith(".gz"):
            raise ConfigError(
                f"-o/--output {self.output}: build-data appends row by row: write a plain .jsonl (gzip it afterwards)"
            )


@dataclass
class BuildReport:
    """Counts of one build run, and of the whole output file after it.

    Attributes:
        output: The output file.
        questions: Input questions considered.
        already_done: Questions found done in the output when the run started.
        already_skipped: Questions found in the skipped file (not retried) when the run started.
        written: Rows written by this run.
        rewritten: Of those, rewritten with distractors.
        kept_original: Of those, kept as original queries (``fraction``).
        reasked: Rows written after at least one rejected reply (re-asked / retried).
        replies: Replies (LLM answers or offline attempts) examined by this run.
        rejections: Rejected replies by reason, this run.
        skipped: Questions skipped by this run, by reason.
        endpoint_failures: Questions that failed on the endpoint (not recorded; a resume retries them).
        repaired_tail: Whether a truncated last line was cut off at the start.
        relations: Relations of all rows in the output (``"original"`` for kept ones).
        total_rows: Rows in the output after the run.
        total_skipped: Questions in the skipped file after the run.
        seconds: Wall time.
        error: Why the run stopped early, if it did.
    """

    output: Path
    questions: int = 0
    already_done: int = 0
    already_skipped: int = 0
    written: int = 0
    rewritten: int = 0
    kept_original: int = 0
    reasked: int = 0
    replies: int = 0
    rejections: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    endpoint_failures: int = 0
    repaired_tail: bool = False
    relations: Counter[str] = field(default_factory=Counter)
    total_rows: int = 0
    total_skipped: int = 0
    seconds: float = 0.0
    error: str | None = None

    def lines(self) -> list[str]:
        """Return a human-readable summary, one line per item."""
        out = [
            f"output: {self.output} ({self.total_rows} rows; {self.total_skipped} skipped questions in "
            f"{sidecar_paths(self.output)[0].name})",
            f"this run: {self.written} rows written ({self.rewritten} rewritten, {self.kept_original} kept original) "
            f"from {self.questions} questions; {self.already_done} were already done, {self.already_skipped} "
            f"skipped before; {self.seconds:.1f} s",
            f"re-asked: {self.reasked} written rows needed more than one reply; {self.replies} replies examined, "
            f"{sum(self.rejections.values())} rejected",
        ]
        if self.rejections:
            out.append("rejected replies: " + ", ".join(f"{k} {v}" for k, v in self.rejections.most_common()))
        if self.skipped:
            out.append("skipped questions: " + ", ".join(f"{k} {v}" for k, v in self.skipped.most_common()))
        if self.endpoint_failures:
            out.append(f"endpoint failures: {self.endpoint_failures} (not recorded; run again to retry them)")
        if self.repaired_tail:
            out.append("a truncated last line (from an interrupted run) was removed and its question redone")
        total = sum(self.relations.values())
        if total:
            spread = ", ".join(f"{k} {v} ({v / total:.0%})" for k, v in sorted(self.relations.items()))
            out.append(f"relations: {spread}")
        if self.error:
            out.append(f"stopped early: {self.error}")
        return out


def sidecar_paths(output: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(skipped file, meta file)`` next to ``output``."""
    output = Path(output)
    return output.with_name(output.name + ".skipped.jsonl"), output.with_name(output.name + ".meta.json")


def read_done(path: str | os.PathLike[str], *, repair: bool = True) -> tuple[list[dict[str, Any]], bool]:
    """Rows of an append-only output file, tolerating a truncated last line (:func:`~lore_rag.data.jsonl_log.read_log`).

    Returns:
        ``(rows, repaired)``.

    Raises:
        DataError: for a malformed complete line (not a crash artefact), or a row without an ``id``.
    """

    def check(row: dict[str, Any], line_no: int) -> None:
        if not isinstance(row.get("id"), str):
            raise DataError("row without a string 'id'", path=str(path), line=line_no, field="id")

    return read_log(path, strict=True, repair=repair, check=check, hint="fix or delete it, or pass --overwrite")


@dataclass
class _Task:
    example: Example
    positives: list[int]
    candidates: list[int]
    relation: str | None
    rewrite: bool
    seed: int


@dataclass
class _Outcome:
    row: dict[str, Any] | None = None
    skip: str | None = None
    detail: str = ""
    relation: str | None = None
    rejections: list[str] = field(default_factory=list)
    replies: int = 0
    endpoint_error: str | None = None
    fatal: bool = False  # the endpoint refused us (HTTP 401/403): every further request would fail the same way


def _tiered_field(row: Any, example: Example) -> str | None:
    """The field that shows ``row`` was written by build-data (a relation, woven distractors, a rewritten query)."""
    if not isinstance(row, dict):
        return None
    if row.get("relation"):
        return "relation"
    if row.get("used_distractors"):
        return "used_distractors"
    original = row.get("original_query")
    if isinstance(original, str) and original.strip() and original.strip() != example.query.strip():
        return "original_query"
    return None


def load_inputs(config: BuildConfig) -> list[Example]:
    """The raw questions of ``config.inputs`` (first ``config.limit``), each with a unique id.

    Raises:
        DataError: for a malformed row, a row that is already tiered (a distractor label -1, a ``relation`` or an
            ``original_query``: build-data would relabel its woven distractor as N2), or no row at all.
    """
    examples: list[Example] = []
    seen: Counter[str] = Counter()
    files = expand_paths(config.inputs)
    for path in files:
        if config.limit is not None and len(examples) >= config.limit:
            break
        for line, row in iter_json_rows(path):
            if config.limit is not None and len(examples) >= config.limit:
                break
            example = Example.from_dict(row, source=str(path), line=line)
            tiered = _tiered_field(row, example)
            if tiered or any(t == Tier.DISTRACTOR for t in example.tiers):
                what = f"has a '{tiered}'" if tiered else "has distractor labels (-1)"
                raise DataError(
                    f"this row is already tiered LORE data ({what}); build-data takes raw rows with labels 1/0 "
                    "(as 'lore-rag convert' writes them): train on this file directly",
                    path=str(path),
                    line=line,
                    field=tiered or "labels",
                )
            if not example.id:
                example.id = content_id(example.query, example.chunks)
            seen[example.id] += 1
            if seen[example.id] > 1:
                example.id = f"{example.id}#{seen[example.id]}"
            examples.append(example)
    if not examples:
        raise DataError(f"no questions in {', '.join(map(str, files))}: the input holds no rows")
    return examples


def _meta(config: BuildConfig, model: str | None) -> dict[str, Any]:
    return {
        "format": "lore-rag-build/1",
        "offline": config.offline,
        "fraction": config.fraction,
        "seed": config.seed,
        "relations": parse_relations(config.relations),
        "relation_choice": config.relation_choice if not config.offline else "assign",
        "mining": config.mining,
        "candidates": config.candidates,
        "max_distractors": config.max_distractors,
        "sharpness": config.sharpness,
        "inputs": [str(p) for p in config.inputs],
        "model": model,
    }


def _check_meta(path: Path, meta: dict[str, Any]) -> None:
    old = read_run_state(path, hint="", error=None)
    if old is None:
        if path.exists():
            logger.warning("%s: unreadable; rewriting it", path)
        return
    check_same_run(
        path,
        old,
        meta,
        keys=_META_KEYS,
        saved_only=True,
        hint="resume with the same options, write to another output, or pass --overwrite to start over",
    )
    if old.get("model") and meta.get("model") and old["model"] != meta["model"]:
        logger.warning("resuming an output started with model %s using model %s", old["model"], meta["model"])


def _row(example: Example, positives: list[int], rewrite: Rewrite | None) -> dict[str, Any]:
    original = example.original_query or example.query
    used = sorted(rewrite.used) if rewrite else []
    tiers = [
        Tier.POSITIVE if i in positives else Tier.DISTRACTOR if i in used else Tier.NEGATIVE
        for i in range(len(example.chunks))
    ]
    out = Example(
        query=rewrite.query if rewrite else original,
        chunks=list(example.chunks),
        tiers=tiers,
        id=example.id,
        original_query=original,
        relation=rewrite.relation if rewrite else None,
        used_distractors=used,
        answer=example.answer,
        dataset=example.dataset,
        extra=dict(example.extra),
    )
    return out.to_dict()


def build_data(
    config: BuildConfig,
    *,
    client: LLMClient | None = None,
    encoder: LoreEncoder | None = None,
    examples: list[Example] | None = None,
) -> BuildReport:
    """Build (or resume building) a LORE training file from raw rows.

    Args:
        config: The options.
        client: The LLM client (LLM mode); when ``None``, :func:`lore_rag.llm.connect` opens the configured
            endpoint or the bundled local server for the duration of the run.
        encoder: Encoder for ``mining="embedding"``/``"hybrid"`` (the bundled raw model when ``None``).
        examples: The input questions as :func:`load_inputs` returns them (read from ``config.inputs`` when
            ``None``).

    Returns:
        The counts; ``report.error`` says why the run stopped early, if it did (run again to resume).

    Raises:
        ConfigError: for bad options or a resume with different options; DataError for bad input or output.
    """
    config.validate()
    if examples is None:
        examples = load_inputs(config)  # bad input fails here, before the output or an LLM is touched
    if not config.offline and client is None:
        from lore_rag.llm import connect, endpoint_configured

        # a configured endpoint takes our concurrency; the local llama.cpp server keeps its own (one at a time)
        options: dict[str, Any] = {"concurrency": config.concurrency} if endpoint_configured() else {}
        with connect(**options) as opened:
            return build_data(config, client=opened, encoder=encoder, examples=examples)
    started = time.monotonic()
    files = _open_output(config, None if config.offline or client is None else client.model)
    report = BuildReport(output=files.rows)
    done, todo, sampler = _read_progress(config, files, examples, report)
    miner = None
    if todo and config.fraction > 0:
        miner = DistractorMiner(examples, method=config.mining, encoder=encoder, show_progress=config.show_progress)
    logger.info("%d questions, %d already done, %d to do", len(examples), report.already_done, len(todo))

    rows_out = JsonlAppender(files.rows)
    skips_out = JsonlAppender(files.skipped)
    written: set[str] = set()
    try:
        _run(config, todo, miner, sampler, client, rows_out, skips_out, report, written)
    finally:
        report.seconds = time.monotonic() - started
    _conclude(files, todo, done, written, report)
    return report


@dataclass
class _OutputFiles:
    """The output file and its side files, and what was on disk before this run."""

    rows: Path
    skipped: Path
    meta: Path
    fresh: bool  # none of the three existed (or --overwrite deleted them)
    new_folder: Path | None  # the outermost folder this run created, if any

    @property
    def paths(self) -> tuple[Path, Path, Path]:
        return self.rows, self.skipped, self.meta


def _open_output(config: BuildConfig, model: str | None) -> _OutputFiles:
    """Apply ``--overwrite``, check a resumed output was started with the same options, and write the meta file."""
    output = Path(config.output)
    skipped_path, meta_path = sidecar_paths(output)
    if config.overwrite:
        for path in (output, skipped_path, meta_path):
            path.unlink(missing_ok=True)
    fresh = not any(path.exists() for path in (output, skipped_path, meta_path))
    top = output.parent  # the outermost folder this run would create, if any
    while not top.parent.exists() and top.parent != top:
        top = top.parent
    new_folder: Path | None = None if top.exists() else top
    meta = _meta(config, model)
    if output.exists() or skipped_path.exists():
        _check_meta(meta_path, meta)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_run_state(meta_path, meta)
    return _OutputFiles(output, skipped_path, meta_path, fresh, new_folder)


def _read_progress(
    config: BuildConfig, files: _OutputFiles, examples: list[Example], report: BuildReport
) -> tuple[set[str], list[Example], RelationSampler]:
    """Read what earlier runs wrote; fill the report's resume counts.

    Returns:
        ``(done ids, questions left to do, a relation sampler that knows the relations already used)``.
    """
    done_rows, report.repaired_tail = read_done(files.rows)
    skip_rows, _ = read_done(files.skipped)
    done = {row["id"] for row in done_rows}
    skipped_before = {row["id"] for row in skip_rows} - done
    for row in done_rows:
        report.relations[row.get("relation") or "original"] += 1
    report.questions = len(examples)
    report.already_done = sum(e.id in done for e in examples)
    if not config.retry_skipped:
        report.already_skipped = sum(e.id in skipped_before and e.id not in done for e in examples)
    todo = [e for e in examples if e.id not in done and (config.retry_skipped or e.id not in skipped_before)]
    sampler = RelationSampler(parse_relations(config.relations))
    for row in done_rows:
        if row.get("relation"):
            sampler.observe(row["relation"])
    return done, todo, sampler


def _conclude(files: _OutputFiles, todo: list[Example], done: set[str], written: set[str], report: BuildReport) -> None:
    """Name a run that built nothing as failed (and leave no empty files behind), and count the output's totals."""
    if report.error is None and todo and report.endpoint_failures >= len(todo):
        report.error = f"every request to the LLM endpoint failed ({report.endpoint_failures}); nothing was built"
    if files.fresh and report.error and not report.written and not sum(report.skipped.values()):
        # a fresh run that built nothing (the endpoint refused every request): leave no empty files behind
        for path in files.paths:
            path.unlink(missing_ok=True)
        if files.new_folder is not None:
            _remove_empty_folders(files.rows.parent, files.new_folder)
    report.total_rows = len(done) + report.written
    all_skips, _ = read_done(files.skipped, repair=False)
    report.total_skipped = len({r["id"] for r in all_skips} - done - written)


def _plan_question(
    config: BuildConfig,
    example: Example,
    miner: DistractorMiner | None,
    sampler: RelationSampler,
) -> _Task | _Outcome:
    """Skip a question with no positive or no negative chunk; else decide whether to rewrite it, and with what.

    The candidates and the relation are drawn from a seed of the question's id, so they do not depend on order.
    """
    positives = [i for i, t in enumerate(example.tiers) if t == Tier.POSITIVE]
    if not positives:
        return _Outcome(skip="no_positive", detail=PRE_SKIPS["no_positive"])
    if len(positives) == len(example.chunks):
        return _Outcome(skip="no_negative", detail=PRE_SKIPS["no_negative"])
    seed = stable_seed(config.seed, example.id)
    rewrite = config.fraction >= 1.0 or stable_seed(config.seed, "fraction", example.id) / 2**63 < config.fraction
    if not rewrite or miner is None:
        return _Task(example, positives, [], None, False, seed)
    rng = np.random.default_rng(seed)
    candidates = miner.sample(example, config.candidates, rng, sharpness=config.sharpness)
    relation = sampler.draw(rng) if (config.offline or config.relation_choice == "assign") else None
    return _Task(example, positives, candidates, relation, True, seed)


def _rewrite_question(config: BuildConfig, task: _Task, client: LLMClient | None, allowed: list[str]) -> _Outcome:
    """The row of a planned question: kept as asked, or rewritten (offline templates or the LLM) and checked."""
    example = task.example
    if not task.rewrite:
        return _Outcome(row=_row(example, task.positives, None))
    titles = example.extra.get("titles")
    titles = titles if isinstance(titles, list) and len(titles) == len(example.chunks) else None
    original = example.original_query or example.query
    checker = RewriteChecker(
        original=original,
        chunks=example.chunks,
        positives=task.positives,
        offered=task.candidates,
        answers=gold_answers(example.answer, example.extra),
        allowed_relations=allowed,
        max_distractors=config.max_distractors,
        min_keep=config.min_keep,
        max_chars=config.max_query_chars,
    )
    if config.offline:
        relation = task.relation or allowed[0]
        rewrite, rejections = offline_rewrite(
            checker, original, task.candidates, titles, relation, np.random.default_rng(task.seed)
        )
        outcome = _Outcome(rejections=rejections, replies=len(rejections) + (rewrite is not None))
        detail = "no template rewrite passed the checks"
    else:
        from lore_rag.data.builder.rewrite_llm import llm_rewrite
        from lore_rag.llm import LLMError

        shown = [(i, (titles[i] if titles else ""), example.chunks[i]) for i in task.candidates]
        try:
            assert client is not None  # build_data opens one for LLM mode
            result = llm_rewrite(
                client,
                checker,
                original,
                shown,
                relation=task.relation,
                max_attempts=config.max_attempts,
                anchor=config.anchor_question,
            )
        except LLMError as exc:
            return _Outcome(endpoint_error=str(exc), fatal=exc.status in (401, 403))
        rewrite = result.rewrite
        outcome = _Outcome(rejections=result.rejections, replies=result.replies)
        detail = result.last_text
    if rewrite is None:
        outcome.skip = outcome.rejections[-1] if outcome.rejections else "no_candidate"
        outcome.detail = detail
        return outcome
    outcome.row = _row(example, task.positives, rewrite)
    outcome.relation = rewrite.relation
    return outcome


class _Recorder:
    """Records each question's outcome: its row or its skip on disk, the counts in the report, the progress bar.

    Endpoint failures are counted, not recorded (a resume retries them); enough of them in a row, or one refusal
    (HTTP 401/403), set ``report.error``, which stops the run.
    """

    def __init__(
        self,
        config: BuildConfig,
        sampler: RelationSampler,
        rows_out: JsonlAppender,
        skips_out: JsonlAppender,
        report: BuildReport,
        written_ids: set[str],
        bar: Any,
    ) -> None:
        self.config = config
        self.sampler = sampler
        self.rows_out = rows_out
        self.skips_out = skips_out
        self.report = report
        self.written_ids = written_ids
        self.bar = bar
        self.consecutive_failures = 0

    def __call__(self, example: Example, task: _Task | None, outcome: _Outcome) -> None:
        report = self.report
        report.replies += outcome.replies
        report.rejections.update(outcome.rejections)
        if outcome.endpoint_error is not None:
            self._endpoint_failure(example, outcome.endpoint_error, fatal=outcome.fatal)
            return
        self.consecutive_failures = 0
        if outcome.row is not None:
            self._write_row(example, task, outcome)
        else:
            self._write_skip(example, outcome)
        self.bar.update(1)
        self.bar.set_postfix(written=report.written, skipped=sum(report.skipped.values()))

    def _endpoint_failure(self, example: Example, error: str, *, fatal: bool) -> None:
        report = self.report
        report.endpoint_failures += 1
        self.consecutive_failures += 1
        logger.warning("question %s: endpoint failed: %s", example.id, error)
        if fatal and report.error is None:
            report.error = f"the LLM endpoint refused the request: {error}"
        if self.consecutive_failures >= self.config.max_endpoint_failures and report.error is None:
            report.error = f"{self.consecutive_failures} endpoint failures in a row, the last: {error}"

    def _write_row(self, example: Example, task: _Task | None, outcome: _Outcome) -> None:
        report, row = self.report, outcome.row
        assert row is not None  # __call__ writes a skip otherwise
        self.rows_out.append(row)
        self.written_ids.add(example.id)  # type: ignore[arg-type]
        report.written += 1
        if row.get("relation"):
            report.rewritten += 1
            if outcome.rejections:
                report.reasked += 1
            relation = row["relation"]
            if task is not None and task.relation and relation != task.relation:
                # the model wrote another relation than the one drawn: keep the sampler's balance true
                self.sampler.counts[task.relation] -= 1
                self.sampler.counts[relation] += 1
        else:
            report.kept_original += 1
        report.relations[row.get("relation") or "original"] += 1

    def _write_skip(self, example: Example, outcome: _Outcome) -> None:
        reason = outcome.skip or "no_candidate"
        self.skips_out.append(
            {
                "id": example.id,
                "reason": reason,
                "meaning": REASONS.get(reason) or PRE_SKIPS.get(reason, ""),
                "rejections": outcome.rejections,
                "detail": outcome.detail[:500],
            }
        )
        self.report.skipped[reason] += 1


def _run(
    config: BuildConfig,
    todo: list[Example],
    miner: DistractorMiner | None,
    sampler: RelationSampler,
    client: LLMClient | None,
    rows_out: JsonlAppender,
    skips_out: JsonlAppender,
    report: BuildReport,
    written_ids: set[str],
) -> None:
    """Prepare, rewrite and record every question of ``todo``, one at a time or ``config.concurrency`` at once."""
    from tqdm.auto import tqdm

    allowed = sampler.allowed()
    bar = tqdm(total=len(todo), desc="build-data", unit="q", disable=not config.show_progress)
    record = _Recorder(config, sampler, rows_out, skips_out, report, written_ids, bar)
    prepared = ((example, _plan_question(config, example, miner, sampler)) for example in todo)
    try:
        if config.offline or config.concurrency == 1:
            _run_in_turn(config, prepared, client, allowed, record)
        else:
            _run_concurrently(config, prepared, client, allowed, record)
    finally:
        bar.close()


def _run_in_turn(
    config: BuildConfig,
    prepared: Iterator[tuple[Example, _Task | _Outcome]],
    client: LLMClient | None,
    allowed: list[str],
    record: _Recorder,
) -> None:
    """One question at a time (offline, or ``concurrency`` 1), until done or ``report.error`` is set."""
    for example, task in prepared:
        if record.report.error:
            break
        if isinstance(task, _Outcome):
            record(example, None, task)
        else:
            record(example, task, _rewrite_question(config, task, client, allowed))


def _run_concurrently(
    config: BuildConfig,
    prepared: Iterator[tuple[Example, _Task | _Outcome]],
    client: LLMClient | None,
    allowed: list[str],
    record: _Recorder,
) -> None:
    """``config.concurrency`` questions in flight on a bounded pool, recorded in order, until ``report.error``."""
    report = record.report

    def to_rewrite() -> Iterator[tuple[Example, _Task]]:
        # read in this thread by the pool as workers free up: questions skipped up front are recorded here
        for example, task in prepared:
            if isinstance(task, _Outcome):
                record(example, None, task)
            else:
                yield example, task

    def rewrite(pair: tuple[Example, _Task]) -> _Outcome:
        return _rewrite_question(config, pair[1], client, allowed)

    for (example, task), future in bounded_map(
        rewrite, to_rewrite(), workers=config.concurrency, name="lore-build", stop=lambda: bool(report.error)
    ):
        try:
            outcome = future.result()
        except LoreError as exc:
            outcome = _Outcome(endpoint_error=str(exc), fatal=getattr(exc, "status", None) in (401, 403))
        record(example, task, outcome)


def _remove_empty_folders(folder: Path, top: Path) -> None:
    """Remove ``folder`` and its parents up to ``top`` (inclusive) while they are empty."""
    while True:
        try:
            folder.rmdir()
        except OSError:
            return
        if folder == top or folder.parent == folder:
            return
        folder = folder.parent


def config_dict(config: BuildConfig) -> dict[str, Any]:
    """Return the config as a plain mapping (for logs and recipes)."""
    return asdict(config)
