"""Colours and small HTML helpers shared by the app's components (inline styles: they survive any theme)."""

from __future__ import annotations

import html

__all__ = ["LABEL_STYLES", "badge", "esc", "note"]

#: label -> (name shown, accent colour, background colour, text colour)
LABEL_STYLES: dict[str, tuple[str, str, str, str]] = {
    "positive": ("POSITIVE", "#1a7f37", "#dafbe1", "#0f3d1f"),
    "distractor": ("DISTRACTOR", "#cf222e", "#ffebe9", "#5c0f14"),
    "": ("other", "#8c959f", "#f6f8fa", "#24292f"),
}

TEXT = "#1f2328"
MUTED = "#57606a"
GOOD = "#1a7f37"
BAD = "#cf222e"


def esc(text: object) -> str:
    """HTML-escape any value (also ``$`` and backticks, which the HTML component's template would interpret)."""
    return html.escape(str(text), quote=True).replace("$", "&#36;").replace("`", "&#96;")


def badge(label: str, *, small: bool = False) -> str:
    """Render a coloured pill naming a label (``positive``, ``distractor`` or ``""`` for other)."""
    name, accent, _, _ = LABEL_STYLES.get(label, LABEL_STYLES[""])
    size = "10px" if small else "11px"
    return (
        f'<span class="lore-badge lore-badge-{label or "other"}" style="display:inline-block;padding:1px 7px;'
        f"border-radius:10px;background:{accent};color:#fff;font-size:{size};font-weight:700;"
        f'letter-spacing:.04em">{esc(name)}</span>'
    )


def note(text: str, *, kind: str = "info") -> str:
    """Render a one-line message box: ``info``, ``warn`` or ``error``."""
    colours = {"info": ("#0969da", "#ddf4ff"), "warn": ("#9a6700", "#fff8c5"), "error": (BAD, "#ffebe9")}
    accent, background = colours.get(kind, colours["info"])
    return (
        f'<div class="lore-note lore-note-{kind}" style="border-left:4px solid {accent};background:{background};'
        f'color:{TEXT};padding:6px 10px;border-radius:4px;font-size:14px">{esc(text)}</div>'
    )
