"""lore_rag.demo (raw vs LORE side by side) and the app's pure UI pieces, on a real embedded Chroma store."""

from __future__ import annotations

import copy
import json
import threading
import time
from pathlib import Path

import pytest

from lore_rag.data.io import read_examples, write_examples
from lore_rag.data.schema import Example, Tier
from lore_rag.defaults import bundled_validation_path
from lore_rag.demo import (
    LORE,
    RAW,
    DemoError,
    DemoSession,
    chunk_labels,
    ensure_default_checkpoint,
    example_query,
    label_hits,
    load_example_set,
    training_curves_path,
)
from lore_rag.errors import ConfigError, DataError
from lore_rag.evaluation.answer_cache import AnswerCache
from lore_rag.evaluation.candidates import evaluate_candidates
from lore_rag.llm import LLMError
from lore_rag.retrieval import ChromaStore, Hit

N_EXAMPLES = 6


class FakeLLM:
    """Stands in for LLMClient: replies with the gold answer of the question asked, citing chunk 1."""

    model = "fake-llm"
    base_url = "http://127.0.0.1:9/v1"
    max_tokens = 64
    temperature = 0.0

    def __init__(self, reply=None, error: Exception | None = None, delay: float = 0.0) -> None:
        self.reply = reply
        self.error = error
        self.delay = delay
        self.calls = 0
        self._lock = threading.Lock()

    def chat(self, messages):
        with self._lock:
            self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return self.reply(messages) if callable(self.reply) else self.reply


@pytest.fixture(scope="module")
def lore_encoder(base_model):
    """A 'tuned' query encoder: the base model with slightly perturbed weights, base model on the document side."""
    import torch

    from lore_rag.models.encoder import DEFAULT_MODEL, LoreEncoder, model_fingerprint

    query_model = copy.deepcopy(base_model)
    query_model.__dict__.pop("_lore_fingerprint", None)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in query_model.parameters():
            p.add_(torch.randn(p.shape, generator=generator) * 0.02 * p.std().clamp_min(1e-3))
    manifest = {"name": "LORE", "base_model": DEFAULT_MODEL, "base_fingerprint": model_fingerprint(base_model)}
    return LoreEncoder(query_model, base_model, name="LORE", manifest=manifest)


@pytest.fixture(scope="module")
def small_set(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo_data") / "small.jsonl"
    write_examples(read_examples(bundled_validation_path())[:N_EXAMPLES], path)
    return path


@pytest.fixture(scope="module")
def session(tmp_path_factory, raw_encoder, lore_encoder, small_set) -> DemoSession:
    store = ChromaStore(tmp_path_factory.mktemp("demo_store"))
    demo = DemoSession(raw_encoder, lore_encoder, store, k=5, answer_k=3)
    demo.load(small_set, show_progress=False)
    return demo


def hit(text: str, rank: int) -> Hit:
    return Hit(id=f"id{rank}", text=text, score=1.0 - rank / 10, rank=rank)


# --------------------------------------------------------------------------------------------- labels


def test_chunk_labels_and_label_hits() -> None:
    example = Example(query="q", chunks=["p", "d", "n", "p"], tiers=[Tier.POSITIVE, Tier.DISTRACTOR, Tier.NEGATIVE,
                      Tier.NEGATIVE])  # fmt: skip
    labels = chunk_labels(example)
    assert labels == {"p": Tier.POSITIVE, "d": Tier.DISTRACTOR, "n": Tier.NEGATIVE}  # first tier of a repeat wins
    labelled = label_hits([hit("d", 1), hit("elsewhere", 2), hit("p", 3), hit("n", 4)], labels)
    assert [h.label for h in labelled] == ["distractor", "", "positive", ""]
    assert [h.tier for h in labelled] == [Tier.DISTRACTOR, None, Tier.POSITIVE, Tier.NEGATIVE]
    assert all(h.tier is None for h in label_hits([hit("p", 1)], None))


def test_compare_labels_hits_with_the_questions_own_tiers(session: DemoSession) -> None:
    example = session.dataset().examples[0]
    labels = chunk_labels(example)
    result = session.compare(example.query, example=example)
    assert result.labelled and set(result.columns) == {RAW, LORE}
    for column in result.columns.values():
        assert column.error is None
        assert [h.rank for h in column.hits] == [1, 2, 3, 4, 5]
        assert [h.hit.score for h in column.hits] == sorted((h.hit.score for h in column.hits), reverse=True)
        for h in column.hits:
            assert h.tier == labels.get(h.hit.text)
    # the rewritten question weaves a distractor in: the shared index of 6 questions surfaces labelled chunks
    assert any(h.label for c in result.columns.values() for h in c.hits)
    raw_ranks = {h.hit.id: h.rank for h in result.columns[RAW].hits}
    for h in result.columns[LORE].hits:
        assert h.other_rank == raw_ranks.get(h.hit.id)
    for verdict, column in zip(result.verdicts(), result.columns.values(), strict=True):
        assert verdict.positives_in_top == sum(h.tier == Tier.POSITIVE for h in column.hits[:3])
        assert verdict.distractor_in_top == any(h.tier == Tier.DISTRACTOR for h in column.hits[:3])
        assert verdict.n_positive == example.n_positive
        assert verdict.answer_correct is None  # no answers asked for


def test_free_text_query_has_no_labels(session: DemoSession) -> None:
    result = session.compare("an American film director", k=3)
    assert not result.labelled and result.golds == []
    assert all(h.tier is None and h.label == "" for c in result.columns.values() for h in c.hits)
    assert all(len(c.hits) == 3 for c in result.columns.values())
    assert all(v.positives_in_top is None and v.distractor_in_top is None for v in result.verdicts())
    assert "no labels" in result.verdicts()[0].summary()
    with pytest.raises(DemoError, match="empty"):
        session.compare("   ")


def test_match_example_keeps_labels_only_for_the_examples_own_question(session: DemoSession) -> None:
    key = session.dataset().key
    example = session.dataset().examples[2]
    assert session.match_example(example.query, key, 2) is example
    assert session.match_example("  " + example.original_query + " ", key, 2) is example
    assert session.match_example(example.query + " (edited)", key, 2) is None
    assert session.match_example(example.query, key, None) is None
    assert session.match_example(example.query, key, 99) is None
    assert session.match_example(example.query, "not-loaded", 2) is None


def test_example_views(session: DemoSession) -> None:
    example = session.dataset().examples[0]
    assert example_query(example, "rewritten") == example.query
    assert example_query(example, "original") == example.original_query
    with pytest.raises(DemoError, match="unknown view"):
        example_query(example, "both")
    with pytest.raises(DemoError, match="no original"):
        example_query(Example(query="q", chunks=["c"], tiers=[Tier.POSITIVE]), "original")
    result = session.run_example(1, view="original", answers=False)
    assert result.query == " ".join(session.dataset().examples[1].original_query.split())
    assert result.example is session.dataset().examples[1]
    with pytest.raises(DemoError, match="no example 100"):
        session.run_example(99)


# --------------------------------------------------------------------------------------------- answers


def _gold_reply(session: DemoSession):
    def reply(messages):
        question = messages[-1]["content"].rsplit("Question:", 1)[1].strip()
        for example in session.dataset().examples:
            if " ".join(example.query.split()) == question:
                return f"{example.answer} [1]"
        return "unknown"

    return reply


def test_answers_are_parsed_cited_scored_and_reused(session: DemoSession) -> None:
    llm = FakeLLM(reply=_gold_reply(session))
    session.llm = llm
    try:
        example = session.dataset().examples[3]
        result = session.run(example.query, example=example)
        for column in result.columns.values():
            answer = column.answer
            assert answer is not None and answer.error is None
            assert answer.text == example.answer
            assert answer.cited == [1]
            assert answer.correct is True and answer.em == 1.0 and answer.f1 == 1.0
        assert all(v.answer_correct is True for v in result.verdicts())
        same_chunks = [h.hit.text for h in result.columns[RAW].hits[:3]] == [
            h.hit.text for h in result.columns[LORE].hits[:3]
        ]
        assert llm.calls == (1 if same_chunks else 2)
        calls = llm.calls
        again = session.run(example.query, example=example)
        assert llm.calls == calls  # identical prompts are answered from the memo
        assert all(c.answer.seconds == 0.0 for c in again.columns.values())
    finally:
        session.llm = None


def test_wrong_and_failing_llm_answers_never_raise(session: DemoSession) -> None:
    example = session.dataset().examples[4]
    session.llm = FakeLLM(reply="certainly not this [7]")
    try:
        result = session.run(example.query, example=example)
        answer = result.columns[RAW].answer
        assert answer.cited == []  # [7] is no chunk id the LLM was shown: not a citation
        assert answer.correct is False
        session.llm = FakeLLM(error=LLMError("the LLM server at http://127.0.0.1:9/v1 is down"))
        failed = session.run(example.query + " ?", example=None)
        for column in failed.columns.values():
            assert column.hits, "retrieval still works without the LLM"
            assert column.answer.error and "down" in column.answer.error
            assert column.answer.correct is None
    finally:
        session.llm = None
    with pytest.raises(DemoError, match="no LLM"):
        session.answer(session.compare("anything"), RAW)


def test_the_answer_cache_asks_identical_concurrent_prompts_once() -> None:
    memo = AnswerCache(None, max_size=1024)
    calls = []

    def compute():
        calls.append(1)
        time.sleep(0.2)
        return {"raw": "reply"}

    results = []
    threads = [threading.Thread(target=lambda: results.append(memo.get_or_compute("key", compute))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert sorted(cached for _, cached in results) == [False] + [True] * 5
    assert {value["raw"] for value, _ in results} == {"reply"}

    def boom():
        raise RuntimeError("down")

    with pytest.raises(RuntimeError):
        memo.get_or_compute("other", boom)  # errors are not kept
    assert memo.get_or_compute("other", lambda: {"raw": "fine"}) == ({"key": "other", "raw": "fine"}, False)


# --------------------------------------------------------------------------------------------- failures, summary


def test_broken_index_is_a_message_not_an_exception(tmp_path: Path, raw_encoder, lore_encoder) -> None:
    store = ChromaStore(tmp_path / "store")
    demo = DemoSession(raw_encoder, lore_encoder, store)
    store.add_texts(["Sinister is a 2012 film directed by Scott Derrickson."], raw_encoder, show_progress=False)
    assert demo.compare("who directed Sinister?").columns[LORE].hits
    store.client.delete_collection(store.collection_name)
    result = demo.compare("who directed Sinister?")
    for column in result.columns.values():
        assert column.error and column.hits == []
    from lore_rag.demo.ui.hits import hits_html

    assert "Retrieval failed" in hits_html(result.columns[RAW], other_name="LORE", answer_k=3)


def test_summary_is_the_candidate_protocol_on_the_loaded_set(session: DemoSession, raw_encoder, lore_encoder) -> None:
    rows = session.summary()
    assert {(r["model"], r["view"]) for r in rows} == {
        (session.names[m], v) for m in (RAW, LORE) for v in ("rewritten", "original")
    }
    examples = session.dataset().examples
    vectors: dict[str, object] = {}

    def embed(texts):  # freshly encoded with the document encoder, once for both models
        import numpy as np

        todo = [t for t in dict.fromkeys(texts) if t not in vectors]
        if todo:
            vectors.update(zip(todo, raw_encoder.embed_documents(todo), strict=True))
        return np.stack([vectors[t] for t in texts])

    for encoder, name in ((raw_encoder, session.names[RAW]), (lore_encoder, session.names[LORE])):
        direct = evaluate_candidates(encoder, examples, ks=(3, 5), embed_documents=embed)
        for row in (r for r in rows if r["model"] == name):
            for metric in ("P@3", "N1@3", "P@5", "N1@5"):
                assert row[metric] == pytest.approx(direct[row["view"]][metric], abs=0.06)
            assert row["n"] == N_EXAMPLES
    assert session.summary() is rows  # kept per set


def test_load_rejects_a_bad_file_with_its_line(tmp_path: Path, session: DemoSession) -> None:
    bad = tmp_path / "bad.jsonl"
    good = json.dumps(session.dataset().examples[0].to_dict())
    bad.write_text(good + "\n" + json.dumps({"query": "q", "chunks": ["a"], "labels": [2]}) + "\n")
    with pytest.raises(DataError, match=r"bad\.jsonl:2: field 'labels\[0\]'"):
        session.load(bad)
    with pytest.raises(DataError):
        load_example_set(tmp_path / "missing.jsonl")
    assert load_example_set(None).key == "bundled" and len(load_example_set(None)) > 100


def test_default_checkpoint_reuses_a_finished_run_and_finds_its_curves(tmp_path: Path) -> None:
    run = tmp_path / "default"
    (run / "best").mkdir(parents=True)
    (run / "best" / "lore_manifest.json").write_text("{}")
    assert ensure_default_checkpoint(run) == run / "best"  # no training: it would take minutes
    assert training_curves_path(run / "best") is None
    (run / "training_curves.png").write_bytes(b"png")
    assert training_curves_path(run / "best") == run / "training_curves.png"
    assert training_curves_path(run) == run / "training_curves.png"


def test_session_arguments_are_checked(raw_encoder, lore_encoder, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        DemoSession(raw_encoder, lore_encoder, ChromaStore(tmp_path / "s"), k=0)


# --------------------------------------------------------------------------------------------- the app's pieces


def test_stream_shows_retrieval_first_then_each_answer(session: DemoSession) -> None:
    from lore_rag.demo.ui.blocks import _stream

    session.llm = FakeLLM(reply=_gold_reply(session), delay=0.05)
    try:
        key = session.dataset().key
        example = session.dataset().examples[5]
        updates = list(_stream(session, example.query, 4, True, key, 5))
        unticked = list(_stream(session, example.query, 4, False, key, 5))
    finally:
        session.llm = None
    assert len(updates) == 3  # retrieval, then one update per column's answer
    status, legend, raw_answer, raw_hits, lore_answer, lore_hits, verdict = updates[0]
    assert "labels from example 6" in status
    assert raw_hits.count('class="lore-hit ') == 4 and lore_hits.count('class="lore-hit ') == 4
    assert 'data-state="pending"' in raw_answer and 'data-state="pending"' in lore_answer
    last = updates[-1]
    assert 'data-state="done"' in last[2] and 'data-state="done"' in last[4]
    assert "✓ correct" in last[2]
    assert 'class="lore-cited"' in last[3]  # the cited chunk is marked in the list
    assert last[6].count('class="lore-verdict-row"') == 2

    assert len(unticked) == 1 and 'data-state="off"' in unticked[0][2]  # retrieval only, answers not asked for
    off = list(_stream(session, "free text about films", 3, True, key, 5))
    assert len(off) == 1 and 'data-state="unavailable"' in off[0][2] and "no labels" in off[0][0]
    failed = list(_stream(session, "   ", 3, False, key, None))
    assert len(failed) == 1 and "lore-note-error" in failed[0][0]


def test_html_pieces_escape_text_and_show_labels(session: DemoSession) -> None:
    from lore_rag.demo.ui.examples import example_card_html, example_choices
    from lore_rag.demo.ui.hits import answer_html, hits_html, legend_html
    from lore_rag.demo.ui.summary import summary_rows, verdict_html

    example = session.dataset().examples[0]
    result = session.compare(example.query, example=example)
    column = result.columns[LORE]
    column.hits[0].hit.text = "<script>alert(1)</script> ${value} `x`"
    html = hits_html(column, other_name="raw", answer_k=3)
    assert "<script>" not in html and "&lt;script&gt;" in html and "${" not in html and "`" not in html
    for h in column.hits:
        assert f'data-label="{h.label or "other"}"' in html
    assert "lore-badge-positive" in legend_html() and "no labels" in legend_html(labelled=False)
    assert 'data-state="off"' in answer_html(column, result, state="off")
    assert "No LLM: down" in answer_html(column, result, state="unavailable: down")
    card = example_card_html(example, 0)
    assert "Original question" in card and "Gold answer" in card and 'data-index="0"' in card
    assert example_choices(session.dataset())[0] == (f"1 · {example.original_query}", 0)
    assert verdict_html(result.verdicts(), labelled=True).count("lore-verdict-row") == 2
    assert summary_rows([{"model": "m", "view": "rewritten", "P@3": 1, "N1@3": 2, "P@5": 3, "N1@5": 4, "n": 5}]) == [
        ["m", "rewritten (with distractors)", 1, 2, 3, 4, 5]
    ]


def test_build_demo_makes_blocks(session: DemoSession) -> None:
    import gradio as gr

    from lore_rag.demo.ui.blocks import build_demo

    demo = build_demo(session)
    assert isinstance(demo, gr.Blocks)
    names = {d.get("api_name") for d in demo.config["dependencies"]}
    assert {"search", "run_rewritten", "run_original", "summary"} <= names


def test_parse_auth() -> None:
    from lore_rag.cli.app import parse_auth

    assert parse_auth(None) is None and parse_auth("") is None
    assert parse_auth("me:se:cret") == ("me", "se:cret")
    for bad in ("me", ":pw", "me:"):
        with pytest.raises(ConfigError):
            parse_auth(bad)


def test_cli_app_flags() -> None:
    from lore_rag.cli import build_parser

    args = build_parser().parse_args(
        ["app", "--checkpoint", "ck", "--data", "d.jsonl", "--store", "s", "--host", "0.0.0.0", "--port", "8080",
         "--auth", "u:p", "--no-llm", "--llm-base-url", "http://127.0.0.1:8000/v1", "-k", "7"]
    )  # fmt: skip
    assert (args.checkpoint, args.data, args.store, args.host, args.port) == ("ck", "d.jsonl", "s", "0.0.0.0", 8080)
    assert args.no_llm and args.auth == "u:p" and args.llm_base_url == "http://127.0.0.1:8000/v1" and args.top_k == 7
    assert args.index_data is None
    assert build_parser().parse_args(["app", "--no-index-data"]).index_data is False
