"""The Summary tab shows the trade-off curve of the checkpoint the app serves (issue 12).

A real ``run_tradeoff`` on the app's few validation questions (a checkpoint made by perturbing the bundled model's
weights, 3 ratios, 1,000 resamples) writes ``OUT/tradeoff.json``, ``OUT/tradeoff.png`` and ``OUT/checkpoint``; the
real app (``python -m app``, no LLM) serves ``OUT/checkpoint`` and must find the curve on its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
#: Always feasible; its objective is whatever ranks the few questions' points apart (the test reads the choice back).
RULE = "candidates/plain/P@3>=raw-100; max candidates/plain/P@3"


@pytest.fixture(scope="module")
def tradeoff_output(tmp_path_factory: pytest.TempPathFactory, app_data: Path, base_model) -> dict:
    """A checkpoint on the bundled model and its real trade-off output, with the chosen ratio's checkpoint."""
    import torch

    from lore_rag.evaluation.tradeoff import TradeoffConfig, run_tradeoff
    from lore_rag.models.checkpoint import save_checkpoint
    from lore_rag.models.encoder import DEFAULT_MODEL, model_fingerprint
    from lore_rag.models.loading import load_model

    root = tmp_path_factory.mktemp("app_tradeoff")
    tuned = load_model(None)  # a fresh copy of the bundled model (a deepcopy of the shared one may hold a lock)
    tuned.__dict__.pop("_lore_fingerprint", None)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in tuned.parameters():
            if p.numel() > 1:
                p.add_(torch.randn(p.shape, generator=generator) * 0.3 * p.std())
    manifest = {"name": "noisy", "base_model": DEFAULT_MODEL, "base_fingerprint": model_fingerprint(base_model)}
    save_checkpoint(tuned, root / "run" / "best", manifest, document_model=base_model)
    result = run_tradeoff(
        TradeoffConfig(
            checkpoint=str(root / "run"),
            validation_file=str(app_data),
            ratios=[0.5],
            rule=RULE,
            output_dir=str(root / "out"),
            bootstrap=1000,
            cache_dir=str(root / "cache"),
            show_progress=False,
        )
    )
    assert result.checkpoint == root / "out" / "checkpoint"
    return {"root": root, "out": root / "out", "chosen": result.choice.ratio}


def test_the_summary_tab_shows_the_curve_and_the_chosen_ratio(tradeoff_app: str, tradeoff_output: dict, page) -> None:
    from lore_rag.evaluation.tradeoff import ratio_label

    chosen = ratio_label(tradeoff_output["chosen"])
    page.goto(tradeoff_app)
    page.get_by_role("tab", name="Summary").click()
    image = page.locator("#lore-tradeoff img")
    image.wait_for(state="visible", timeout=60_000)
    page.wait_for_function("document.querySelector('#lore-tradeoff img').naturalWidth > 400", timeout=30_000)
    text = page.locator("#lore-tradeoff-table").inner_text()
    assert "Trade-off: plain recall vs distractors" in page.locator("body").inner_text()
    assert f"{chosen} (chosen)" in text, text
    assert f"The app serves {chosen}, the ratio the rule chose." in text
    assert RULE in text and "Measured on" in text and "validation_small.jsonl" in text
    assert "the served checkpoint is the ratio it chose" in text
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#lore-tradeoff").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "app_tradeoff.png"), full_page=True)


def test_a_damaged_tradeoff_file_is_one_line_in_the_tab_not_a_dead_app(tradeoff_output: dict, tmp_path: Path) -> None:
    """In process: ``--tradeoff`` naming a damaged file still builds the app; the tab names the file and the fault."""
    import shutil

    import gradio as gr

    from lore_rag.demo import DemoSession
    from lore_rag.demo.ui import build_demo

    damaged = tmp_path / "damaged"
    shutil.copytree(tradeoff_output["out"], damaged, ignore=shutil.ignore_patterns("checkpoint"))
    text = (damaged / "tradeoff.json").read_text()
    (damaged / "tradeoff.json").write_text(text[: len(text) // 2])
    session = DemoSession.create(
        tradeoff_output["out"] / "checkpoint",
        store=tmp_path / "store",
        tradeoff=damaged,
        show_progress=False,
    )
    demo = build_demo(session)
    assert isinstance(demo, gr.Blocks)
    blocks = {getattr(b, "elem_id", None): b for b in demo.blocks.values()}
    assert "lore-tradeoff" not in blocks  # no image without a readable result
    value = blocks["lore-tradeoff-table"].value
    assert f"⚠ {damaged / 'tradeoff.json'}: not valid JSON" in value
    assert "lore-rag tradeoff --checkpoint" in value
