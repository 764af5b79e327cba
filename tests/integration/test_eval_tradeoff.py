"""`lore-rag eval` with paired intervals in both protocols, and `lore-rag tradeoff`, on the real bundled model.

The checkpoint is the bundled model with seeded noise on every weight (no training), saved the way training saves
one, so everything here runs in seconds on a few validation rows.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from _checkpoints import perturbed

from lore_rag.cli import main
from lore_rag.data.io import read_examples, write_examples
from lore_rag.evaluation.candidates import evaluate_candidates
from lore_rag.evaluation.corpus import corpus_task, exact_corpus_per_query
from lore_rag.evaluation.tradeoff_file import read_tradeoff
from lore_rag.models.checkpoint import read_manifest, save_checkpoint
from lore_rag.models.encoder import DEFAULT_MODEL, LoreEncoder, load_model, model_fingerprint


@pytest.fixture(scope="module")
def setup(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("eval-tradeoff")
    raw = LoreEncoder.raw()
    manifest = {"base_model": DEFAULT_MODEL, "base_fingerprint": raw.document_fingerprint, "name": "noisy"}
    for seed in (0, 1):
        save_checkpoint(perturbed(raw.query_model, seed, scale=0.3), root / f"noisy{seed}", manifest)
    rows = read_examples(shared_data / "lore" / "validation_hotpotqa.jsonl")[:14]
    write_examples(rows, root / "val.jsonl")
    plain = [
        r for r in read_examples(shared_data / "raw" / "hotpotqa_dev_distractor.jsonl") if r.id in {x.id for x in rows}
    ]
    write_examples(plain, root / "plain.jsonl")
    return {"root": root, "raw": raw, "rows": rows, "plain": plain}


@pytest.fixture(autouse=True)
def _home(setup, monkeypatch):
    monkeypatch.setenv("LORE_RAG_HOME", str(setup["root"] / "home"))


def test_eval_both_protocols_reports_paired_intervals_against_the_raw_model(setup, capsys):
    root = setup["root"]
    out = root / "eval.json"
    code = main(
        [
            "eval",
            "--model",
            str(root / "noisy0"),
            "--data",
            str(root / "val.jsonl"),
            "--mode",
            "both",
            "--bootstrap",
            "1000",
            "--json",
            str(out),
            "--no-show-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "Δ P@3 ↑" in printed and "Δ N1@3 ↓" in printed and "Δ MRR@10 ↑" in printed
    assert "Paired difference vs raw" in printed and "1000 resamples" in printed
    data = json.loads(out.read_text())
    assert data["baseline"] == "raw"  # added automatically: only a checkpoint was given
    entry = data["files"][str(root / "val.jsonl")]
    cand, corpus = entry["candidates"], entry["corpus"]
    assert set(cand["differences"]) == {"rewritten", "original"} == set(corpus["differences"])
    (model,) = cand["differences"]["rewritten"]
    # The interval is about the difference of the reported means.
    d = cand["differences"]["rewritten"][model]["P@3"]
    means = cand["models"]
    assert d["estimate"] == pytest.approx(means[model]["rewritten"]["P@3"] - means["raw"]["rewritten"]["P@3"])
    assert d["low"] <= d["estimate"] <= d["high"] and d["n_questions"] == 14 and d["n_resamples"] == 1000
    # Per-question arrays are in the JSON and agree with the library's means.
    raw_direct = evaluate_candidates(setup["raw"], setup["rows"])
    assert np.mean(cand["per_query"]["rewritten"]["raw"]["P@3"]) == pytest.approx(raw_direct["rewritten"]["P@3"])
    c = corpus["differences"]["rewritten"][model]["N1@3"]
    views = corpus["views"]["rewritten"]["models"]
    assert c["estimate"] == pytest.approx(views[model]["N1@3"] - views["raw"]["N1@3"])
    assert "N1@3" not in corpus["differences"]["original"][model]  # plain questions have no distractors


def test_eval_takes_seeds_of_one_model_and_a_named_baseline_and_id_filter(setup, capsys):
    root = setup["root"]
    out = root / "seeds.json"
    ids = root / "ids.txt"
    ids.write_text("\n".join(str(r.id) for r in setup["rows"][:9]) + "\n")
    code = main(
        [
            "eval",
            "--model",
            "raw",
            f"noisy={root / 'noisy0'},{root / 'noisy1'}",
            "--data",
            str(root / "plain.jsonl"),
            "--baseline",
            "raw",
            "--only-ids",
            str(ids),
            "--json",
            str(out),
            "--no-show-progress",
        ]
    )
    assert code == 0
    data = json.loads(out.read_text())
    entry = data["files"][str(root / "plain.jsonl")]
    assert entry["n_rows"] == 9
    interval = entry["candidates"]["differences"]["original"]["noisy"]["P@3"]
    assert interval["n_seeds"] == [2, 1] and interval["n_questions"] == 9
    assert "±" in capsys.readouterr().out  # mean ± std over the two seeds
    assert len(entry["candidates"]["per_query"]["original"]["noisy"]["P@3"]) == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--baseline", "nope"], "--baseline nope: not among the models"),
        (["--bootstrap", "10"], "--bootstrap: at least 1000"),
        (["--model", "x="], "NAME=DIR"),
    ],
)
def test_eval_bad_comparison_flags_are_one_line(setup, capsys, argv, message):
    code = main(["eval", "--data", str(setup["root"] / "val.jsonl"), "--no-show-progress", *argv])
    err = capsys.readouterr().err
    assert code == 1 and message in err and "Traceback" not in err


def test_tradeoff_evaluates_ratios_chooses_by_the_rule_and_writes_the_checkpoint(setup, capsys):
    root = setup["root"]
    out = root / "tradeoff"
    rule = "candidates/plain/P@3>=raw-100; corpus/plain/P@10>=0; min candidates/rewritten/N1@3"
    code = main(
        [
            "tradeoff",
            "--checkpoint",
            str(root / "noisy0"),
            "--validation",
            str(root / "val.jsonl"),
            "--plain",
            str(root / "plain.jsonl"),
            "--ratios",
            "0.5",
            "--rule",
            rule,
            "--bootstrap",
            "1000",
            "--compare",
            str(root / "noisy1"),
            "--output",
            str(out),
            "--no-show-progress",
        ]
    )
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    summary = json.loads((out / "tradeoff.json").read_text())
    assert set(summary["points"]) == {"r=0", "r=0.5", "r=1", f"{root.name}/noisy1"}
    n1 = {name: summary["points"][name]["candidates/rewritten/N1@3"] for name in ("r=0", "r=0.5", "r=1")}
    chosen = summary["chosen_ratio"]
    assert f"r={chosen:g}" == min(n1, key=lambda k: (n1[k], k))
    assert (out / "tradeoff.png").stat().st_size > 20_000 and "(chosen)" in printed
    # r=0 is exactly the raw model; the exact corpus search agrees with a direct computation.
    raw = setup["raw"]
    direct = evaluate_candidates(raw, setup["rows"])
    assert summary["points"]["r=0"]["candidates/rewritten/P@3"] == pytest.approx(direct["rewritten"]["P@3"])
    task = corpus_task(setup["plain"])
    exact = exact_corpus_per_query(task, raw.embed_queries(task.queries), raw.embed_documents(task.texts))
    assert summary["points"]["r=0"]["corpus/plain/P@10"] == pytest.approx(exact["P@10"].mean())
    # The checkpoint written is the interpolation at the chosen ratio, with the ratio in its manifest and card.
    manifest = read_manifest(out / "checkpoint")
    assert manifest["interpolation"]["ratio"] == chosen and manifest["base_fingerprint"] == raw.document_fingerprint
    assert f"`{chosen:g}` of the way" in (out / "checkpoint" / "README.md").read_text()
    written = load_model(out / "checkpoint").state_dict()
    tuned = load_model(root / "noisy0").state_dict()
    base = raw.document_model.state_dict()
    name = next(k for k, v in tuned.items() if v.ndim == 2 and "query" in k)
    assert torch.allclose(written[name], base[name] + chosen * (tuned[name] - base[name]), atol=1e-6)
    reloaded = LoreEncoder.load(str(out / "checkpoint"))
    assert reloaded.document_fingerprint == raw.document_fingerprint
    # The JSON reads back (as the app does) into the very tables printed, tied to the checkpoint's weights.
    back = read_tradeoff(out)
    assert back.table() in printed and back.chosen_ratio == chosen and back.n_rewritten == 14
    assert back.checkpoint_fingerprint == model_fingerprint(load_model(root / "noisy0"))


def test_tradeoff_with_no_feasible_ratio_writes_the_plot_but_no_checkpoint(setup, capsys):
    root = setup["root"]
    out = root / "infeasible"
    code = main(
        [
            "tradeoff",
            "--checkpoint",
            str(root / "noisy0"),
            "--validation",
            str(root / "val.jsonl"),
            "--ratios",
            "0.5",
            "--rule",
            "corpus/plain/P@10>=101; min candidates/rewritten/N1@3",
            "--output",
            str(out),
            "--no-show-progress",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1 and "no ratio meets every constraint" in captured.err
    assert (out / "tradeoff.png").is_file() and not (out / "checkpoint").exists()
    assert "needs >= 101.00" in captured.out


def test_tradeoff_bad_rule_fails_before_loading_anything(setup, capsys):
    code = main(["tradeoff", "--checkpoint", "/nowhere", "--rule", "min corpus/plain/N1@3"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "no distractors" in err
