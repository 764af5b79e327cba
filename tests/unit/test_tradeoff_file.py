"""``tradeoff.json`` written and read back, how the app finds the served checkpoint's one, and the tab's Markdown."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from lore_rag.demo.tradeoff import HOW_TO_PRODUCE, TradeoffFinding, find_tradeoff, tradeoff_markdown
from lore_rag.errors import DataError
from lore_rag.evaluation.report import write_json
from lore_rag.evaluation.tradeoff import PointResult, TradeoffResult, choose, intervals, parse_rule, ratio_label
from lore_rag.evaluation.tradeoff_file import read_tradeoff, summary_dict
from lore_rag.evaluation.tradeoff_plot import format_tradeoff_table

METRICS = ["candidates/plain/P@3", "candidates/rewritten/N1@3", "corpus/plain/P@10", "corpus/plain/MRR@10"]
RULE = "candidates/plain/P@3>=raw-100; min candidates/rewritten/N1@3"
N_QUESTIONS = 12


def make_result(rule_text: str = RULE, seed: int = 0) -> tuple[TradeoffResult, list[str]]:
    """A trade-off result from the real choice and bootstrap code on seeded per-question values."""
    rng = np.random.default_rng(seed)
    ratios = {}
    for ratio in (0.0, 0.5, 1.0):
        per_query = {m: rng.integers(0, 2, N_QUESTIONS) * (1.0 if "MRR" in m else 100.0) for m in METRICS}
        ratios[ratio] = PointResult(per_query, {m: float(v.mean()) for m, v in per_query.items()})
    rule = parse_rule(rule_text)
    choice = choose(rule, {r: p.means for r, p in ratios.items()})
    cis = intervals({ratio_label(r): p for r, p in ratios.items()}, "r=0", METRICS, n_resamples=1000)
    return TradeoffResult(ratios, {}, cis, choice, rule, None, 1.0), METRICS


def write_output(
    folder: Path,
    *,
    checkpoint: str = "runs/lore/best",
    fingerprint: str = "f" * 16,
    written: str | None = None,
    rule: str = RULE,
    png: bool = True,
) -> TradeoffResult:
    """A ``lore-rag tradeoff`` output folder as the command writes it (JSON from the writer's own function)."""
    result, _ = make_result(rule)
    result.checkpoint = Path(written) if written else None
    data = summary_dict(
        result,
        checkpoint=checkpoint,
        checkpoint_fingerprint=fingerprint,
        validation_file="/data/val.jsonl",
        plain_file=None,
        n_rewritten=N_QUESTIONS,
        n_plain=N_QUESTIONS,
    )
    write_json(data, folder / "tradeoff.json")
    if png:
        (folder / "tradeoff.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return result


def edit(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


# --------------------------------------------------------------------------------------------- the file


def test_the_summary_reads_back_to_the_table_the_command_printed(tmp_path: Path) -> None:
    result = write_output(tmp_path)
    summary = read_tradeoff(tmp_path)  # the folder, or the file itself
    assert read_tradeoff(tmp_path / "tradeoff.json") == summary
    assert summary.metrics == METRICS and summary.plot == tmp_path / "tradeoff.png"
    assert summary.chosen_ratio == result.choice.ratio and summary.rule.text == RULE
    metric = "corpus/plain/P@10"
    assert summary.intervals["r=0.5"][metric]["diff"] == result.intervals["r=0.5"][metric]["diff"]
    assert summary.table() == format_tradeoff_table(result, METRICS)
    assert f"**{ratio_label(result.choice.ratio)}** (chosen)" in summary.table()


def test_a_run_with_no_feasible_ratio_reads_back_with_its_failures(tmp_path: Path) -> None:
    result = write_output(tmp_path, rule="corpus/plain/P@10>=101; min candidates/rewritten/N1@3")
    summary = read_tradeoff(tmp_path)
    assert summary.chosen_ratio is None and set(summary.failed) == {"r=0", "r=0.5", "r=1"}
    assert summary.table() == format_tradeoff_table(result, METRICS)
    assert "No ratio meets every constraint" in summary.table()


def test_a_missing_file_names_the_file_and_the_command(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        read_tradeoff(tmp_path)
    message = str(err.value)
    assert message.startswith(str(tmp_path / "tradeoff.json")) and "no such file" in message
    assert "lore-rag tradeoff" in message and "\n" not in message


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda p: p.write_text('{"rule": "min corpus/plain/P@10", '), "not valid JSON (Expecting"),
        (lambda p: p.write_text("[1, 2]"), "expected a JSON object, got list"),
        (lambda p: p.write_bytes(b"\xff\xfe\x00garbage"), "cannot read it"),
        (lambda p: edit(p, lambda d: d.pop("rule")), "field 'rule': missing"),
        (lambda p: edit(p, lambda d: d.update(rule="min corpus/plain/N1@3")), "field 'rule': metric"),
        (lambda p: edit(p, lambda d: d.update(chosen_ratio=0.3)), "field 'chosen_ratio': r=0.3 is not a point"),
        (lambda p: edit(p, lambda d: d.update(n_plain=-1)), "field 'n_plain': expected a count"),
        (lambda p: edit(p, lambda d: d["intervals"].pop("r=0")), "field 'intervals': no metrics of the base model"),
        (
            lambda p: edit(p, lambda d: d["intervals"]["r=0.5"]["corpus/plain/P@10"]["diff"].update(low="x")),
            "field 'intervals.r=0.5.corpus/plain/P@10.diff.low': expected a finite number",
        ),
        (
            lambda p: edit(p, lambda d: d["intervals"]["r=1"].pop("candidates/plain/P@3")),
            "field 'intervals.r=1.candidates/plain/P@3': missing",
        ),
    ],
)
def test_a_damaged_file_is_one_line_naming_the_file_and_field(tmp_path: Path, damage, needle: str) -> None:
    write_output(tmp_path)
    damage(tmp_path / "tradeoff.json")
    with pytest.raises(DataError) as err:
        read_tradeoff(tmp_path)
    message = str(err.value)
    assert message.startswith(str(tmp_path / "tradeoff.json") + ":"), message
    assert needle in message and "\n" not in message, message


# --------------------------------------------------------------------------------------------- finding it


def chosen_manifest(result: TradeoffResult, fingerprint: str = "f" * 16) -> dict:
    return {"interpolation": {"ratio": result.choice.ratio, "tuned_fingerprint": fingerprint}}


def never(name: str = "fingerprint"):
    def fail() -> str:
        raise AssertionError(f"{name} should not be needed")

    return fail


def test_the_chosen_ratios_checkpoint_finds_its_trade_off_in_its_parent(tmp_path: Path) -> None:
    out = tmp_path / "lore-tradeoff"
    (out / "checkpoint").mkdir(parents=True)
    result = write_output(out, written=str(out / "checkpoint"))
    finding = find_tradeoff(out / "checkpoint", chosen_manifest(result), never())
    assert finding.summary is not None and finding.serves_chosen and finding.problem is None
    assert finding.summary.path == out / "tradeoff.json"
    # the run ran elsewhere: a relative path that ends the same way still names this folder
    edit(out / "tradeoff.json", lambda d: d.update(written_checkpoint="lore-tradeoff/checkpoint"))
    assert find_tradeoff(out / "checkpoint", chosen_manifest(result), never()).serves_chosen
    # a later run in the same folder that chose nothing does not describe the checkpoint served
    write_output(out, rule="corpus/plain/P@10>=101; min candidates/rewritten/N1@3")
    later = find_tradeoff(out / "checkpoint", chosen_manifest(result), never())
    assert later.summary is None and "not the one the app serves" in (later.problem or "")


def test_the_run_folder_trade_off_is_kept_only_for_the_same_weights(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "lore"
    (run / "best").mkdir(parents=True)
    (run / "tradeoff").mkdir()
    write_output(run / "tradeoff", fingerprint="a" * 16)
    found = find_tradeoff(run / "best", {}, lambda: "a" * 16)
    assert found.summary is not None and found.how == "found in the checkpoint's run folder"
    assert not found.serves_chosen
    other = find_tradeoff(run / "best", {}, lambda: "b" * 16)
    assert other.summary is None
    assert other.problem == (
        f"{run / 'tradeoff' / 'tradeoff.json'}: measured for the checkpoint `runs/lore/best`, not the one the app "
        "serves (its weights or folder differ)"
    )


def test_an_older_file_without_a_fingerprint_matches_by_folder_and_the_newest_wins(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "lore"
    (run / "best").mkdir(parents=True)
    for name, checkpoint in (("old", "elsewhere/best"), ("new", str(run / "best"))):
        (run / name).mkdir()
        write_output(run / name, checkpoint=checkpoint)
        edit(run / name / "tradeoff.json", lambda d: d.pop("checkpoint_fingerprint"))
    past = time.time() - 60
    os.utime(run / "old" / "tradeoff.json", (past, past))
    finding = find_tradeoff(run / "best", {}, never())
    assert finding.summary is not None and finding.summary.folder == run / "new"


def test_a_damaged_file_beside_the_checkpoint_is_a_problem_line(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "best").mkdir(parents=True)
    (run / "tradeoff.json").write_text("{ not json")
    finding = find_tradeoff(run / "best", {}, never())
    assert finding.summary is None
    assert finding.problem is not None and finding.problem.startswith(f"{run / 'tradeoff.json'}: not valid JSON")
    assert find_tradeoff(tmp_path / "nothing" / "best", {}, never()) == TradeoffFinding()


def test_the_flag_shows_any_output_and_says_when_it_is_another_checkpoints(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    write_output(out, fingerprint="a" * 16)
    mine = find_tradeoff(tmp_path / "ckpt", {}, lambda: "a" * 16, explicit=out)
    assert mine.summary is not None and mine.how == "--tradeoff" and mine.problem is None
    other = find_tradeoff(tmp_path / "ckpt", {}, lambda: "b" * 16, explicit=out / "tradeoff.json")
    assert other.summary is not None and "not the one the app serves" in (other.problem or "")
    (tmp_path / "empty").mkdir()
    missing = find_tradeoff(tmp_path / "ckpt", {}, never(), explicit=tmp_path / "empty")
    assert missing.summary is None and str(tmp_path / "empty" / "tradeoff.json") in (missing.problem or "")


# --------------------------------------------------------------------------------------------- the tab's text


def test_the_markdown_has_the_table_the_chosen_ratio_the_rule_and_the_set(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "checkpoint").mkdir(parents=True)
    result = write_output(out, written=str(out / "checkpoint"))
    chosen = ratio_label(result.choice.ratio)
    finding = find_tradeoff(out / "checkpoint", chosen_manifest(result), never())
    text = tradeoff_markdown(finding, out / "checkpoint")
    assert read_tradeoff(out).table() in text
    assert f"**{chosen}** (chosen)" in text and f"Rule: `{RULE}`" in text
    assert f"**Measured on** `val.jsonl`: {N_QUESTIONS} rewritten questions" in text
    assert f"The app serves {chosen}, the ratio the rule chose." in text
    assert "tradeoff.png` is missing" not in text
    (out / "tradeoff.png").unlink()
    finding = find_tradeoff(tmp_path / "runs" / "lore" / "best", {}, lambda: "b" * 16, explicit=out)
    text = tradeoff_markdown(finding, tmp_path / "runs" / "lore" / "best")
    assert text.startswith("⚠ measured for the checkpoint `runs/lore/best`, not the one the app serves")
    assert f"The rule chose {chosen} (written to `{out / 'checkpoint'}`)" in text
    assert f"`{out / 'tradeoff.png'}` is missing" in text


def test_the_markdown_says_how_to_produce_a_missing_curve(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "lore"
    text = tradeoff_markdown(TradeoffFinding(), run / "best")
    assert text == "No trade-off result was found for this checkpoint. " + HOW_TO_PRODUCE.format(
        checkpoint=run / "best", output=run / "tradeoff"
    )
    damaged = tradeoff_markdown(TradeoffFinding(problem="x/tradeoff.json: not valid JSON"), run / "best")
    assert damaged.startswith("⚠ x/tradeoff.json: not valid JSON\n") and "lore-rag tradeoff --checkpoint" in damaged


def test_the_app_refuses_a_missing_tradeoff_folder_before_loading(tmp_path: Path, capsys) -> None:
    from lore_rag.cli import main

    code = main(["app", "--tradeoff", str(tmp_path / "nope"), "--no-llm"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and f"--tradeoff {tmp_path / 'nope'}: no such file" in err
