"""The examples panel: choices of the loaded set and the card of the picked question."""

from __future__ import annotations

from lore_rag.data.schema import Example, Tier
from lore_rag.demo import ExampleSet, woven_distractors
from lore_rag.demo.ui.style import MUTED, TEXT, badge, esc
from lore_rag.evaluation.qa import gold_answers

__all__ = ["example_card_html", "example_choices"]

_CHOICE_CHARS = 110


def example_choices(loaded: ExampleSet) -> list[tuple[str, int]]:
    """Dropdown choices ``("12 · question…", 11)``: the original question when the row has one."""
    out = []
    for i, example in enumerate(loaded.examples):
        text = " ".join((example.original_query or example.query).split())
        if len(text) > _CHOICE_CHARS:
            text = text[: _CHOICE_CHARS - 1] + "…"
        out.append((f"{i + 1} · {text}", i))
    return out


def example_card_html(example: Example | None, index: int | None = None) -> str:
    """Original question, rewritten (disturbed) question, gold answer and candidate counts of one question."""
    if example is None:
        return (
            f'<div class="lore-example" data-empty="true" style="color:{MUTED};padding:6px 0">'
            "Pick an example question above, or type your own query below.</div>"
        )
    rows = []

    def row(name: str, value: str, cls: str) -> None:
        rows.append(
            f'<div class="{cls}" style="margin:3px 0"><span style="color:{MUTED};font-size:12px;'
            f'text-transform:uppercase;letter-spacing:.04em">{esc(name)}</span><br>{value}</div>'
        )

    if example.original_query:
        row("Original question", esc(example.original_query), "lore-original")
    relation = ""
    if example.relation:
        relation = f' <span style="color:{MUTED};font-size:12px">({esc(example.relation)} relation)</span>'
    row("Rewritten (disturbed) question", f"<b>{esc(example.query)}</b>{relation}", "lore-rewritten")
    golds = gold_answers(example.answer, example.extra)
    row("Gold answer", esc(" / ".join(golds)) if golds else f'<span style="color:{MUTED}">none given</span>',
        "lore-gold")  # fmt: skip
    woven = woven_distractors(example)
    if woven:
        row("Distractors woven into the rewrite", esc("; ".join(woven)), "lore-woven")
    n_other = sum(1 for t in example.tiers if t == Tier.NEGATIVE)
    counts = (
        f"{example.n_positive} {badge('positive', small=True)} &nbsp; {example.n_distractor} "
        f"{badge('distractor', small=True)} &nbsp; {n_other} {badge('', small=True)}"
    )
    row("Its candidate chunks", counts, "lore-counts")
    number = f"Example {index + 1}" if index is not None else "Example"
    ident = f' <span style="color:{MUTED};font-size:12px">{esc(example.id)}</span>' if example.id else ""
    return (
        f'<div class="lore-example" data-index="{"" if index is None else index}" style="color:{TEXT};'
        f'border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;background:#f6f8fa">'
        f'<div style="font-weight:700">{number}{ident}</div>{"".join(rows)}</div>'
    )
