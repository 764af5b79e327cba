"""The trade-off curve of the checkpoint the app serves: where its ``lore-rag tradeoff`` output is, and what to say.

``lore-rag tradeoff --checkpoint CKPT --output DIR`` writes ``DIR/tradeoff.json``, ``DIR/tradeoff.png`` and
``DIR/checkpoint/`` (the chosen ratio). The app finds that output for the checkpoint it serves:

* ``--tradeoff DIR`` (or the ``tradeoff.json`` in it), shown whatever checkpoint it was measured for (with a note
  when that is not the served one);
* otherwise, when the served checkpoint *is* ``DIR/checkpoint`` (its manifest records the interpolation), ``DIR``;
* otherwise a trade-off output in the checkpoint's run folder (the parent of ``best/`` or ``last/``, where
  ``lore-rag train`` writes): ``RUN/tradeoff.json`` or ``RUN/*/tradeoff.json``, newest first, kept only when it was
  measured for this checkpoint (same weight fingerprint, or the same folder in files that predate the fingerprint).

A file that is missing or damaged becomes one line (:attr:`TradeoffFinding.problem`), never an exception.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lore_rag.errors import DataError
from lore_rag.evaluation.tradeoff_file import TRADEOFF_JSON, TradeoffSummary, read_tradeoff
from lore_rag.evaluation.tradeoff_plot import ratio_label

__all__ = ["HOW_TO_PRODUCE", "TradeoffFinding", "find_tradeoff", "tradeoff_markdown"]

#: The sentence the Summary tab shows when there is no trade-off to show.
HOW_TO_PRODUCE = (
    "Produce it with `lore-rag tradeoff --checkpoint {checkpoint} --output {output}` (a minute or so per ratio on a "
    "CPU), then restart the app: it finds the output in the checkpoint's run folder, or pass `--tradeoff DIR`."
)

_FLAG = "--tradeoff"
_CHOSEN = "the served checkpoint is the ratio it chose"
_RUN_FOLDER = "found in the checkpoint's run folder"


@dataclass(frozen=True)
class TradeoffFinding:
    """What the app knows about the served checkpoint's trade-off.

    Attributes:
        summary: The ``tradeoff.json`` read back (``None``: none found, or it could not be read).
        how: How it was found: ``--tradeoff``, or why it belongs to the served checkpoint.
        problem: One line about a missing or damaged file, or one measured for another checkpoint.
        serves_chosen: The app serves the checkpoint this run chose and wrote (``DIR/checkpoint``).
    """

    summary: TradeoffSummary | None = None
    how: str = ""
    problem: str | None = None
    serves_chosen: bool = False


def find_tradeoff(
    checkpoint: str | os.PathLike[str] | None,
    manifest: Mapping[str, Any],
    fingerprint: Callable[[], str],
    explicit: str | os.PathLike[str] | None = None,
) -> TradeoffFinding:
    """Find and read the trade-off output of ``checkpoint`` (see the module docstring for where it looks).

    Args:
        checkpoint: The served checkpoint folder (``None``: look only at ``explicit``).
        manifest: Its ``lore_manifest.json`` (an ``interpolation`` entry marks a checkpoint written by the trade-off).
        fingerprint: Returns the served query encoder's weight fingerprint (called only when needed).
        explicit: ``--tradeoff``: an output folder or its ``tradeoff.json``.
    """
    folder = Path(checkpoint).expanduser() if checkpoint is not None else None
    interpolation = manifest.get("interpolation")
    interpolation = interpolation if isinstance(interpolation, Mapping) else None
    if explicit is not None:
        try:
            summary = read_tradeoff(explicit)
        except DataError as exc:
            return TradeoffFinding(how=_FLAG, problem=str(exc))
        chosen = folder is not None and _is_chosen(summary, folder, interpolation)
        mine = chosen or (folder is not None and _measured_for(summary, folder, fingerprint))
        note = None if mine or folder is None else _other_checkpoint(summary)
        return TradeoffFinding(summary, how=_FLAG, problem=note, serves_chosen=chosen)
    if folder is None:
        return TradeoffFinding()
    problem: str | None = None
    for path, how in _candidates(folder, interpolation):
        try:
            summary = read_tradeoff(path)
        except DataError as exc:
            problem = problem or str(exc)
            continue
        if how == _CHOSEN and _is_chosen(summary, folder, interpolation):
            return TradeoffFinding(summary, how=how, serves_chosen=True)
        if how == _RUN_FOLDER and _measured_for(summary, folder, fingerprint):
            return TradeoffFinding(summary, how=how)
        problem = problem or f"{path}: {_other_checkpoint(summary)}"
    return TradeoffFinding(problem=problem)


def _candidates(folder: Path, interpolation: Mapping[str, Any] | None) -> list[tuple[Path, str]]:
    """The ``tradeoff.json`` files that may belong to the checkpoint at ``folder``, most specific first."""
    found: list[tuple[Path, str]] = []
    if interpolation is not None and (folder.parent / TRADEOFF_JSON).is_file():
        found.append((folder.parent / TRADEOFF_JSON, _CHOSEN))
    run = folder.parent if folder.name in ("best", "last") else folder
    inside = [run / TRADEOFF_JSON] if (run / TRADEOFF_JSON).is_file() else []
    inside += sorted(run.glob(f"*/{TRADEOFF_JSON}"), key=lambda p: p.stat().st_mtime, reverse=True)
    found += [(p, _RUN_FOLDER) for p in inside if all(p != q for q, _ in found)]
    return found


def _is_chosen(summary: TradeoffSummary, folder: Path, interpolation: Mapping[str, Any] | None) -> bool:
    """Whether the checkpoint at ``folder`` is the one ``summary``'s run chose and wrote."""
    if interpolation is None or summary.chosen_ratio is None or interpolation.get("ratio") != summary.chosen_ratio:
        return False
    tuned = interpolation.get("tuned_fingerprint")
    if summary.checkpoint_fingerprint and tuned and summary.checkpoint_fingerprint != tuned:
        return False
    written = summary.written_checkpoint
    return written is not None and _same_folder(written, folder, relative_to=summary.folder.parent)


def _measured_for(summary: TradeoffSummary, folder: Path, fingerprint: Callable[[], str]) -> bool:
    """Whether ``summary`` was measured for the checkpoint at ``folder`` (by fingerprint, else by folder)."""
    if summary.checkpoint_fingerprint:
        return summary.checkpoint_fingerprint == fingerprint()
    return _same_folder(summary.checkpoint, folder)


def _same_folder(recorded: str, folder: Path, *, relative_to: Path | None = None) -> bool:
    """Whether the path a run recorded names ``folder``; a relative one may be relative to where that run ran.

    A relative path is compared with the end of ``folder``'s absolute path (and, when given, with the folder it
    names under ``relative_to``), since the run's working folder is not recorded.
    """
    path = Path(recorded).expanduser()
    actual = folder.resolve()
    if path.is_absolute():
        return path.resolve() == actual
    tail = Path(os.path.normpath(path)).parts
    if ".." not in tail and actual.parts[-len(tail) :] == tail:
        return True
    bases = [Path.cwd()] + ([relative_to] if relative_to is not None else [])
    return any((base / path).resolve() == actual for base in bases)


def _other_checkpoint(summary: TradeoffSummary) -> str:
    return (
        f"measured for the checkpoint `{summary.checkpoint}`, not the one the app serves (its weights or folder differ)"
    )


def tradeoff_markdown(finding: TradeoffFinding, checkpoint: str | os.PathLike[str] | None) -> str:
    """The Summary tab's text: where the curve comes from, the tables of ``tradeoff.json``, or how to produce it.

    Args:
        finding: From :func:`find_tradeoff`.
        checkpoint: The served checkpoint folder (named in the command that produces a trade-off).
    """
    lines: list[str] = []
    if finding.problem:
        lines += [f"⚠ {finding.problem}", ""]
    summary = finding.summary
    if summary is None:
        ckpt = str(checkpoint) if checkpoint is not None else "CKPT"
        run = Path(ckpt).parent if Path(ckpt).name in ("best", "last") else Path(ckpt)
        lines.append(
            ("" if finding.problem else "No trade-off result was found for this checkpoint. ")
            + HOW_TO_PRODUCE.format(checkpoint=ckpt, output=run / "tradeoff")
        )
        return "\n".join(lines)
    plain = f"`{Path(summary.plain_file).name}`" if summary.plain_file else "the same questions as originally asked"
    lines += [
        "The query encoder interpolated weight by weight between the base model (r=0, the raw column) and the "
        "tuned checkpoint (r=1): (1 − r)·θ_base + r·θ_tuned. Documents stay embedded by the base model.",
        "",
        f"- **Measured on** `{Path(summary.validation_file).name}`: {summary.n_rewritten} rewritten questions; "
        f"plain questions: {plain} ({summary.n_plain}).",
        f"- **Checkpoint (r=1):** `{summary.checkpoint}`; **file:** `{summary.path}` ({finding.how}).",
        f"- **{_served(summary, finding)}**",
        "",
        summary.table(),
    ]
    if summary.plot is None:
        lines += ["", f"`{summary.folder / 'tradeoff.png'}` is missing: the tables above are all there is."]
    return "\n".join(lines)


def _served(summary: TradeoffSummary, finding: TradeoffFinding) -> str:
    if summary.chosen_ratio is None:
        return "No ratio met the rule's constraints; the app serves the checkpoint it was given."
    chosen = ratio_label(summary.chosen_ratio)
    if finding.serves_chosen:
        return f"The app serves {chosen}, the ratio the rule chose."
    where = f" (written to `{summary.written_checkpoint}`)" if summary.written_checkpoint else ""
    return f"The rule chose {chosen}{where}; the app serves the checkpoint it was given."
