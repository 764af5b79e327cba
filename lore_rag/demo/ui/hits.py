"""One column of the comparison: the LLM answer box and the labelled top-k chunks (pure functions of the data)."""

from __future__ import annotations

from lore_rag.demo import ColumnResult, Comparison
from lore_rag.demo.ui.style import BAD, GOOD, LABEL_STYLES, MUTED, TEXT, badge, esc, note

__all__ = ["answer_html", "hits_html", "legend_html"]

_SNIPPET = 320
_ANSWER_CHARS = 200


def legend_html(labelled: bool = True) -> str:
    """Render the colour legend of the chunk labels."""
    items = []
    for label, text in (
        ("positive", "a gold chunk of the question"),
        ("distractor", "a tempting chunk the rewritten question mentions, but that does not answer it"),
        ("", "any other chunk (an ordinary negative, or no labels known)"),
    ):
        _, accent, background, _ = LABEL_STYLES[label]
        items.append(
            f'<span style="display:inline-flex;align-items:center;gap:6px;margin-right:18px">'
            f'<span style="width:14px;height:14px;border-radius:3px;background:{background};'
            f'border-left:5px solid {accent}"></span>{badge(label, small=True)}'
            f'<span style="color:{MUTED};font-size:13px">{esc(text)}</span></span>'
        )
    extra = "" if labelled else f'<span style="color:{MUTED};font-size:13px">(free-text query: no labels)</span>'
    return f'<div class="lore-legend" style="color:{TEXT};line-height:2">{"".join(items)}{extra}</div>'


def _movement(other_rank: int | None, rank: int, other_name: str, arrows: bool) -> str:
    """Where the other model ranked the same chunk; with ``arrows``, ``▲`` when this model ranks it higher."""
    if other_rank is None:
        text, tip = f"not in {other_name} top-k", f"the {other_name} column does not retrieve this chunk"
    elif other_rank == rank:
        text, tip = f"{other_name} #{other_rank} too", f"the {other_name} column ranks it the same"
    else:
        tip = f"the {other_name} column ranks it #{other_rank}"
        text = f"{other_name} #{other_rank}"
        if arrows:
            text = f"{'▲' if other_rank > rank else '▼'} from {text}"
    return f'<span class="lore-move" title="{esc(tip)}" style="color:{MUTED}">{esc(text)}</span>'


def hits_html(
    column: ColumnResult, *, other_name: str, answer_k: int, cited: list[int] | None = None, arrows: bool = False
) -> str:
    """Render the labelled top-k chunks of one column, best first.

    Args:
        column: The column's results.
        other_name: The other model's name (for the rank-change marks).
        answer_k: How many top chunks the LLM reads (marked).
        cited: Ranks the answer cites (marked).
        arrows: Mark moves against the other column with ▲ / ▼ (for the LORE column, against raw).
    """
    if column.error:
        return note(f"Retrieval failed: {column.error}", kind="error")
    if not column.hits:
        return note("No chunks found: is the index empty?", kind="warn")
    cited = cited or []
    cards = []
    for hit in column.hits:
        label = hit.label
        _, accent, background, ink = LABEL_STYLES[label]
        flat = " ".join(hit.hit.text.split())
        snippet = flat if len(flat) <= _SNIPPET else flat[: _SNIPPET - 1] + "…"
        marks = []
        if hit.rank <= answer_k:
            marks.append(f'<span title="the LLM reads this chunk" style="color:{MUTED}">→ LLM</span>')
        if hit.rank in cited:
            marks.append(
                f'<span class="lore-cited" style="color:#0969da;font-weight:700" title="the answer cites this chunk">'
                f"cited [{hit.rank}]</span>"
            )
        title = f'<div style="font-weight:600;margin:2px 0">{esc(hit.title)}</div>' if hit.title else ""
        cards.append(
            f'<div class="lore-hit lore-hit-{label or "other"}" data-label="{label or "other"}" '
            f'data-rank="{hit.rank}" style="border-left:6px solid {accent};background:{background};color:{ink};'
            f'padding:6px 10px;margin:6px 0;border-radius:4px">'
            f'<div style="display:flex;flex-wrap:wrap;gap:10px;align-items:center;font-size:12px">'
            f'<span style="font-weight:800;font-size:14px;color:{TEXT}">#{hit.rank}</span>{badge(label)}'
            f'<span style="color:{TEXT}">score {hit.hit.score:.3f}</span>'
            f"{_movement(hit.other_rank, hit.rank, other_name, arrows)}{''.join(marks)}</div>"
            f'{title}<div style="font-size:13px;line-height:1.35" title="{esc(flat)}">{esc(snippet)}</div></div>'
        )
    return f'<div class="lore-hits" data-model="{esc(column.key)}">{"".join(cards)}</div>'


def _box(state: str, inner: str) -> str:
    return (
        f'<div class="lore-answer" data-state="{state}" style="border:1px solid #d0d7de;border-radius:6px;'
        f'padding:8px 12px;background:#ffffff;color:{TEXT};min-height:64px">{inner}</div>'
    )


def answer_html(column: ColumnResult, comparison: Comparison, *, state: str, llm_name: str = "") -> str:
    """Render the LLM answer box of one column.

    Args:
        column: The column (its ``answer`` is shown when ``state`` is ``"done"``).
        comparison: The whole comparison (for the gold answers and the cited chunks' labels).
        state: ``"off"`` (answers not asked for), ``"unavailable: reason"``, ``"pending"`` or ``"done"``.
        llm_name: The LLM's model name, shown in the box.
    """
    who = f" ({esc(llm_name)})" if llm_name else ""
    head = f'<div style="font-size:12px;color:{MUTED}">LLM answer{who} from the top {comparison.answer_k} chunks</div>'
    if state == "off":
        body = f'<div style="color:{MUTED}">Answers are off (tick "LLM answers" to generate them).</div>'
        return _box("off", head + body)
    if state.startswith("unavailable"):
        reason = state.partition(":")[2].strip() or "no LLM configured"
        body = f'<div style="color:{BAD}">No LLM: {esc(reason)}</div>'
        return _box("unavailable", head + body)
    if state == "pending" or column.answer is None:
        body = f'<div style="color:{MUTED}">⏳ generating the answer…</div>'
        return _box("pending", head + body)
    answer = column.answer
    if answer.error:
        body = f'<div style="color:{BAD}">LLM failed: {esc(answer.error)}</div>'
        return _box("error", head + body)
    by_rank = {h.rank: h for h in column.hits}
    cites = []
    for rank in answer.cited:
        hit = by_rank.get(rank)
        cites.append(f"#{rank} {badge(hit.label, small=True)}" if hit is not None else f"#{rank}")
    cited = f"cites {', '.join(cites)}" if cites else "cites no chunk"
    verdict = ""
    if answer.correct is not None:
        colour = GOOD if answer.correct else BAD
        mark = "✓ correct" if answer.correct else "✗ wrong"
        golds = " / ".join(comparison.golds)
        verdict = (
            f' · <span class="lore-correct" data-correct="{str(answer.correct).lower()}" '
            f'style="color:{colour};font-weight:700">{mark}</span>'
            f' <span style="color:{MUTED}">(gold: {esc(golds)}; F1 {answer.f1 or 0:.2f})</span>'
        )
    seconds = f" · {answer.seconds:.1f} s" if answer.seconds else " · reused: same prompt as before"
    text = answer.text or "(empty answer)"
    shown = text if len(text) <= _ANSWER_CHARS else text[: _ANSWER_CHARS - 1] + "…"
    body = (
        f'<div class="lore-answer-text" title="{esc(text)}" style="font-size:16px;font-weight:700;margin:2px 0">'
        f"{esc(shown)}</div>"
        f'<div style="font-size:13px">{cited}{verdict}<span style="color:{MUTED}">{seconds}</span></div>'
    )
    return _box("done", head + body)
