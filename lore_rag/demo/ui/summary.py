"""The per-question verdict table and the summary metrics table (pure functions of the data)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lore_rag.demo import Verdict
from lore_rag.demo.ui.style import BAD, GOOD, MUTED, TEXT, esc

__all__ = ["SUMMARY_HEADERS", "summary_rows", "verdict_html"]

SUMMARY_HEADERS = ["model", "query", "P@3 ↑", "N1@3 ↓", "P@5 ↑", "N1@5 ↓", "questions"]
_VIEW_NAMES = {"rewritten": "rewritten (with distractors)", "original": "original"}


def _cell(value: bool | None, good_when: bool, yes: str, no: str) -> str:
    if value is None:
        return f'<td style="color:{MUTED}">–</td>'
    colour = GOOD if value == good_when else BAD
    return f'<td style="color:{colour};font-weight:700">{esc(yes if value else no)}</td>'


def verdict_html(verdicts: Sequence[Verdict], *, labelled: bool) -> str:
    """Verdict per model: positives and distractor in the top 3, answer correct."""
    if not verdicts:
        return ""
    if not labelled and all(v.answer_correct is None for v in verdicts):
        return (
            f'<div class="lore-verdict" data-labelled="false" style="color:{MUTED};font-size:13px">'
            "Free-text query: no labels, so no verdict.</div>"
        )
    top = verdicts[0].top
    head = "".join(
        f'<th style="text-align:left;padding:4px 10px">{esc(h)}</th>'
        for h in ("model", f"positives in top {top}", f"distractor in top {top}", "answer", "answer correct?")
    )
    rows = []
    for v in verdicts:
        if v.positives_in_top is None:
            positives = f'<td style="color:{MUTED}">–</td>'
        else:
            colour = GOOD if v.positives_in_top == v.n_positive else (BAD if v.positives_in_top == 0 else TEXT)
            positives = f'<td style="color:{colour};font-weight:700">{v.positives_in_top} / {v.n_positive}</td>'
        answer = esc(v.answer) if v.answer else f'<span style="color:{MUTED}">–</span>'
        rows.append(
            f'<tr class="lore-verdict-row" data-model="{esc(v.model)}" '
            f'data-distractor="{"" if v.distractor_in_top is None else str(v.distractor_in_top).lower()}" '
            f'data-correct="{"" if v.answer_correct is None else str(v.answer_correct).lower()}">'
            f'<td style="font-weight:700;padding:4px 10px">{esc(v.model)}</td>{positives}'
            f"{_cell(v.distractor_in_top, False, 'yes', 'no')}<td>{answer}</td>"
            f"{_cell(v.answer_correct, True, '✓ yes', '✗ no')}</tr>"
        )
    return (
        f'<div class="lore-verdict" data-labelled="{str(labelled).lower()}" style="color:{TEXT}">'
        f'<div style="font-weight:700;margin-bottom:4px">Verdict</div>'
        f'<table style="border-collapse:collapse;font-size:14px;width:100%"><thead><tr '
        f'style="border-bottom:1px solid #d0d7de">{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    )


def summary_rows(rows: Sequence[dict[str, Any]]) -> list[list[Any]]:
    """Rows of :meth:`lore_rag.demo.DemoSession.summary` as table rows under :data:`SUMMARY_HEADERS`."""
    return [
        [r["model"], _VIEW_NAMES.get(r["view"], r["view"]), r["P@3"], r["N1@3"], r["P@5"], r["N1@5"], r["n"]]
        for r in rows
    ]
