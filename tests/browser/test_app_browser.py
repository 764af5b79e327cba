"""Drive the real app in headless Chromium: load an example, run it, check both columns, save a screenshot."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
LLM_WAIT_MS = 300_000


def pick_example(page, number: int) -> None:
    page.click("#lore-example-picker input")
    option = page.locator("[data-testid=dropdown-option]").nth(number - 1)
    option.wait_for(state="visible", timeout=15_000)
    option.click()
    page.wait_for_selector(f'#lore-example-card .lore-example[data-index="{number - 1}"]', timeout=30_000)


def column_labels(page, column: str) -> list[str]:
    return page.locator(f"#lore-{column}-hits .lore-hit").evaluate_all("els => els.map(e => e.dataset.label)")


def test_example_runs_in_both_columns(app_url: str, page, app_data: Path) -> None:
    from lore_rag.data.io import read_examples

    example = read_examples(app_data)[0]
    page.goto(app_url)
    page.wait_for_selector("#lore-example-picker input", timeout=60_000)
    assert page.locator("#lore-header").inner_text().count("LORE") >= 1

    pick_example(page, 1)
    card = page.locator("#lore-example-card")
    assert example.original_query in card.locator(".lore-original").inner_text()
    assert example.query in card.locator(".lore-rewritten").inner_text()
    assert str(example.answer) in card.locator(".lore-gold").inner_text()

    page.click("#lore-run-rewritten")
    # retrieval shows first, then each column's answer
    for column in ("raw", "lore"):
        page.wait_for_selector(f"#lore-{column}-hits .lore-hit", timeout=60_000)
    assert page.locator("#lore-query textarea").input_value() == example.query
    for column in ("raw", "lore"):
        labels = column_labels(page, column)
        assert len(labels) == 5, labels
        assert set(labels) <= {"positive", "distractor", "other"}
        assert {"positive", "distractor"} & set(labels), f"{column}: no labelled chunk in {labels}"
        # the labels are the question's own tiers: the colour class and the badge agree with data-label
        first = page.locator(f"#lore-{column}-hits .lore-hit").first
        label = first.get_attribute("data-label")
        assert f"lore-hit-{label}" in (first.get_attribute("class") or "")
        assert first.locator(f".lore-badge-{label}").count() == 1
    assert page.locator("#lore-legend .lore-badge-positive").count() == 1
    assert page.locator("#lore-legend .lore-badge-distractor").count() == 1

    for column in ("raw", "lore"):
        page.wait_for_selector(f'#lore-{column}-answer .lore-answer[data-state="done"]', timeout=LLM_WAIT_MS)
        text = page.locator(f"#lore-{column}-answer .lore-answer-text").inner_text().strip()
        assert text, f"{column}: empty answer"
        assert "LLM failed" not in page.locator(f"#lore-{column}-answer").inner_text()
    rows = page.locator("#lore-verdict .lore-verdict-row")
    assert rows.count() == 2
    for i in range(2):
        assert rows.nth(i).get_attribute("data-distractor") in ("true", "false")
        assert rows.nth(i).get_attribute("data-correct") in ("true", "false")

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "app_screenshot.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000


def test_free_text_has_no_labels_and_summary_tab(app_url: str, page) -> None:
    page.goto(app_url)
    page.wait_for_selector("#lore-query textarea", timeout=60_000)
    page.uncheck("#lore-answers input")
    page.fill("#lore-query textarea", "an American film director born in 1966")
    page.click("#lore-search")
    page.wait_for_selector("#lore-lore-hits .lore-hit", timeout=60_000)
    for column in ("raw", "lore"):
        assert set(column_labels(page, column)) == {"other"}
        assert page.locator(f'#lore-{column}-answer .lore-answer[data-state="off"]').count() == 1
    assert "no labels" in page.locator("#lore-status").inner_text()
    assert page.locator('#lore-verdict .lore-verdict[data-labelled="false"]').count() == 1

    page.get_by_role("tab", name="Summary").click()
    page.wait_for_selector("#lore-summary-status .lore-note-info", timeout=180_000)
    body = page.locator("#lore-summary-table").inner_text()
    assert "rewritten (with distractors)" in body and "original" in body
    assert "LORE" in body and "raw" in body
    assert page.locator("#lore-curves img").count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app_summary.png"), full_page=True)
