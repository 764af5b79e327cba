"""Builder: BM25, distractor mining, relations, rewrite checks, offline rewrites, the resumable runner, the CLI."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from lore_rag.cli import main
from lore_rag.data.builder import (
    BM25,
    RELATIONS,
    BuildConfig,
    DistractorMiner,
    RelationSampler,
    RewriteChecker,
    RewriteRejected,
    build_data,
    parse_relations,
    read_done,
    sidecar_paths,
)
from lore_rag.data.builder.mining import tokenize
from lore_rag.data.builder.prompts import anchor_pattern, rewrite_messages, rewrite_schema
from lore_rag.data.builder.rewrite_llm import llm_rewrite
from lore_rag.data.builder.rewrite_offline import offline_rewrite, salient_entity, salient_fact, soften_question
from lore_rag.data.io import read_examples
from lore_rag.data.schema import Example, Tier
from lore_rag.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[2]
RAW = REPO / ".." / "shared" / "data" / "raw"


def raw_path(name: str) -> Path:
    path = RAW / name
    if not path.is_file():
        pytest.skip(f"{path} is not there (shared data sits beside the repository)")
    return path


def small_raw(tmp_path: Path, n: int = 12, name: str = "2wikimultihopqa_dev.jsonl") -> Path:
    lines = raw_path(name).read_text(encoding="utf-8").splitlines()[:n]
    path = tmp_path / "raw.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------- BM25, mining
def test_bm25_matches_a_hand_computation():
    docs = ["apple banana apple", "banana cherry", "cherry cherry date egg"]
    bm25 = BM25(docs, k1=1.2, b=0.75)
    lengths = [3, 2, 4]
    avgdl = sum(lengths) / 3

    def term(tf: float, df: int, dl: int) -> float:
        idf = math.log(1 + (3 - df + 0.5) / (df + 0.5))
        return idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * dl / avgdl))

    expected = [term(2, 1, 3) + term(1, 2, 3), term(1, 2, 2), 0.0]
    assert np.allclose(bm25.scores("apple banana"), expected)
    assert np.allclose(bm25.scores("apple banana", [2, 0]), [expected[2], expected[0]])
    assert [i for i, _ in bm25.top_k("cherry", 2)] == [2, 1]
    assert bm25.scores("nothing matches").sum() == 0.0


def example(query: str, chunks: list[str], positives: set[int], **kw) -> Example:
    return Example(
        query=query,
        chunks=chunks,
        tiers=[Tier.POSITIVE if i in positives else Tier.NEGATIVE for i in range(len(chunks))],
        id=kw.pop("id", "e1"),
        **kw,
    )


def test_miner_ranks_similar_chunks_first_and_never_offers_positives():
    e = example(
        "Where was the director of film Timber Falls born?",
        [
            "Tony Giglio directed Timber Falls and was born in Medford.",
            "Kat Falls is a novelist.",
            "Timber Falls is a 2007 horror film.",
            "Olav Aaraas is a historian.",
            "Robert Falls is a theatre director.",
        ],
        {0},
    )
    miner = DistractorMiner([e])
    ranked = miner.rank(e)
    assert ranked[0] == 2 and ranked[-1] == 3 and 0 not in ranked
    rng = np.random.default_rng(0)
    for _ in range(20):
        picked = miner.sample(e, 2, rng)
        assert len(picked) == 2 and 0 not in picked and len(set(picked)) == 2
    assert miner.sample(e, 2, np.random.default_rng(1), sharpness=50) == ranked[:2]
    assert miner.sample(e, 9, rng) == ranked  # fewer negatives than asked: all of them
    draws = Counter(i for s in range(300) for i in miner.sample(e, 1, np.random.default_rng(s)))
    assert draws[ranked[0]] > draws[ranked[-1]]  # preference for similar chunks, not a hard cut


# ---------------------------------------------------------------------------------------------- relations
def test_parse_relations():
    assert parse_relations(None) == {r: 1.0 for r in RELATIONS}
    assert parse_relations("causal, Parallel") == {"Causal": 1.0, "Parallel": 1.0}
    assert parse_relations("Causal=2,Contrastive=0.5") == {"Causal": 2.0, "Contrastive": 0.5}
    assert parse_relations({"Hypothetical": 3}) == {"Hypothetical": 3.0}
    for bad in ("Causal,Sarcastic", "Causal=0", "Causal=x", ","):
        with pytest.raises(ConfigError):
            parse_relations(bad)


def test_relation_sampler_keeps_the_spread_at_the_weights():
    rng = np.random.default_rng(0)
    sampler = RelationSampler(parse_relations(None))
    assert Counter(sampler.draw(rng) for _ in range(800)) == {r: 100 for r in RELATIONS}
    weighted = RelationSampler(parse_relations("Causal=2,Parallel=1"))
    assert Counter(weighted.draw(rng) for _ in range(300)) == {"Causal": 200, "Parallel": 100}
    resumed = RelationSampler(parse_relations("Causal,Parallel"))
    for _ in range(10):
        resumed.observe("Causal")
    assert Counter(resumed.draw(rng) for _ in range(10)) == {"Parallel": 10}


# ---------------------------------------------------------------------------------------------- checks
CHUNKS = [
    "Charles James Mathew was a British barrister; his father was Sir James Charles Mathew.",
    "Sir James Charles Mathew was buried in Mortlake.",
    "Daigo's reign spanned the years from 897 through 930. He is named after his place of burial.",
    "Charles James Collins was an English journalist and novelist.",
]
QUESTION = "Where was the place of burial of Charles Mathew's father?"


def checker(**kw) -> RewriteChecker:
    values = dict(
        original=QUESTION,
        chunks=CHUNKS,
        positives=[0, 1],
        offered=[2, 3],
        answers=["Mortlake"],
        allowed_relations=list(RELATIONS),
    )
    values.update(kw)
    return RewriteChecker(**values)


def test_checker_accepts_a_good_rewrite():
    rewrite = checker().check(
        "Emperor Daigo takes his name from his place of burial; where was the place of burial of Charles Mathew's "
        "father?",
        "explanatory",
        ["2"],
    )
    assert rewrite.relation == "Explanatory" and rewrite.used == [2]


@pytest.mark.parametrize(
    ("query", "relation", "ids", "reason"),
    [
        (
            "Daigo named after burial; where was the place of burial of Charles Mathew's father?",
            "Sarcastic",
            ["2"],
            "bad_relation",
        ),
        ("Daigo named after burial; where was the place of burial of Charles Mathew's father?", "Causal", [], "no_ids"),
        (
            "Daigo named after burial; where was the place of burial of Charles Mathew's father?",
            "Causal",
            ["7"],
            "unknown_id",
        ),
        (
            "Daigo named after burial; where was the place of burial of Charles Mathew's father?",
            "Causal",
            ["1"],
            "positive_id",
        ),
        (
            "Daigo named after burial; where was the place of burial of Charles Mathew's father?",
            "Causal",
            ["2", "3", "2"],
            "ok",
        ),
        ("Where was the place of burial of Charles Mathew's father?", "Causal", ["2"], "unchanged"),
        ("Where, the place of burial of Charles Mathew's father?", "Causal", ["2"], "unchanged"),
        (
            "Daigo was buried like the man in Mortlake; where was the place of burial of Charles Mathew's father?",
            "Causal",
            ["2"],
            "answer_leak",
        ),
        ("Emperor Daigo's reign spanned 897 through 930.", "Causal", ["2"], "info_lost"),
        (
            "Pluto is cold; where was the place of burial of Charles Mathew's father?",
            "Causal",
            ["2"],
            "no_distractor_content",
        ),
        ("Daigo " * 200 + QUESTION, "Causal", ["2"], "too_long"),
        ("", "Causal", ["2"], "malformed"),
    ],
)
def test_checker_rejects_each_kind_of_bad_rewrite(query, relation, ids, reason):
    check = checker(max_distractors=1 if reason == "ok" else 2)
    with pytest.raises(RewriteRejected) as info:
        check.check(query, relation, ids)
    assert info.value.reason == (reason if reason != "ok" else "too_many_ids")


def test_checker_allows_an_answer_already_in_the_question_and_yes_no():
    check = checker(
        original="Which film came out first, Blind Shaft or The Mask Of Fu Manchu?",
        chunks=["Blind Shaft is a 2003 film.", "The Mask of Fu Manchu is a 1932 film.", "Blind Date."],
        positives=[0, 1],
        offered=[2],
        answers=["The Mask Of Fu Manchu", "yes"],
    )
    rewrite = check.check(
        "Unlike the comedy Blind Date, which film came out first, Blind Shaft or The Mask Of Fu Manchu?",
        "Contrastive",
        ["2"],
    )
    assert rewrite.used == [2]


def test_checker_reads_reply_objects():
    with pytest.raises(RewriteRejected) as info:
        checker().check_object({"query": "x"})
    assert info.value.reason == "malformed"
    with pytest.raises(RewriteRejected) as info:
        checker().check_object(["not", "an", "object"])
    assert info.value.reason == "malformed"


# ---------------------------------------------------------------------------------------------- offline rewrites
def test_offline_rewrite_fuses_a_distractor_phrase_with_the_question():
    titles = ["Charles Mathew", "James Charles Mathew", "Emperor Daigo", "Charles James Collins"]
    check = checker()
    for relation in RELATIONS:
        rewrite, _ = offline_rewrite(check, QUESTION, [2, 3], titles, relation, np.random.default_rng(0))
        assert rewrite is not None and rewrite.relation == relation
        assert soften_question(QUESTION) in rewrite.query
        assert rewrite.used[0] in (2, 3)
    assert salient_entity("Tyler Bates (born 1965) is a musician.", None) == "Tyler Bates"
    assert salient_entity("x", "Ed Wood (film)") == "Ed Wood"
    facts = salient_fact(CHUNKS[2], QUESTION, "Emperor Daigo")
    assert facts[0] == "Emperor Daigo is named after his place of burial"
    assert soften_question("Which film?") == "which film?" and soften_question("Ed Wood was?") == "Ed Wood was?"


def test_offline_rewrite_gives_up_when_every_phrase_leaks_the_answer():
    check = checker(chunks=[*CHUNKS[:2], "Mortlake is in London.", "Mortlake Cemetery."], answers=["Mortlake"])
    rewrite, rejections = offline_rewrite(check, QUESTION, [2, 3], None, "Causal", np.random.default_rng(0))
    assert rewrite is None and rejections and set(rejections) <= {"answer_leak", "no_distractor_content"}


# ---------------------------------------------------------------------------------------------- prompts / LLM
def test_prompt_and_schema():
    messages = rewrite_messages(
        QUESTION, [(2, "Emperor Daigo", CHUNKS[2])], relation="Causal", allowed=list(RELATIONS), answers=["Mortlake"]
    )
    assert messages[0]["role"] == "system" and "[2] Emperor Daigo: Daigo's reign" in messages[1]["content"]
    assert "Relation: Causal" in messages[1]["content"] and "Mortlake" in messages[1]["content"]
    schema = rewrite_schema([2, 3], ["Causal"], anchor=QUESTION)
    assert schema["properties"]["distractor_ids"]["items"]["enum"] == ["2", "3"]
    import re

    assert re.match(schema["properties"]["query"]["pattern"], "Daigo is named after his burial place; " + QUESTION)
    assert not re.match(anchor_pattern(QUESTION), "Daigo is named after his burial place.")
    assert anchor_pattern('Who wrote "X"?') is None


class ScriptedClient:
    """Stands in for LLMClient.chat_json: hands out scripted replies (a dict, or a string the client rejects)."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.calls = []

    def chat_json(self, messages, *, schema=None, max_attempts=3, **kw):
        from lore_rag.llm import LLMOutputError, check_schema, extract_json

        self.calls.append(messages)
        reply = self.replies.pop(0)
        text = reply if isinstance(reply, str) else json.dumps(reply)
        try:
            obj = extract_json(text)
            check_schema(obj, schema)
        except ValueError as exc:
            raise LLMOutputError("bad", reason=str(exc), text=text) from None
        return obj


def test_llm_rewrite_reasks_with_the_reason_and_counts_rejections():
    good = {
        "relation": "Causal",
        "distractor_ids": ["2"],
        "query": "Because Emperor Daigo is named after his place of burial, " + QUESTION,
    }
    client = ScriptedClient(
        [
            "Sure! Here is your query.",
            {"relation": "Causal", "distractor_ids": ["1"], "query": good["query"]},
            {"relation": "Causal", "distractor_ids": ["2"], "query": "Mortlake: " + QUESTION},
            good,
        ]
    )
    result = llm_rewrite(
        client,
        checker(),
        QUESTION,
        [(2, "Emperor Daigo", CHUNKS[2]), (3, "", CHUNKS[3])],
        relation="Causal",
        max_attempts=4,
    )
    assert result.rewrite is not None and result.rewrite.used == [2]
    assert result.rejections == ["malformed", "positive_id", "answer_leak"] and result.replies == 4
    assert "rejected" in client.calls[-1][-1]["content"] and client.calls[-1][-2]["role"] == "assistant"
    gave_up = llm_rewrite(
        ScriptedClient(["junk", "junk"]), checker(), QUESTION, [(2, "", CHUNKS[2])], relation=None, max_attempts=2
    )
    assert gave_up.rewrite is None and gave_up.rejections == ["malformed", "malformed"]


# ---------------------------------------------------------------------------------------------- runner
def load_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_offline_build_writes_valid_tiered_rows(tmp_path):
    raw = small_raw(tmp_path, 24)
    out = tmp_path / "lore.jsonl"
    report = build_data(BuildConfig(inputs=[str(raw)], output=str(out), offline=True, show_progress=False))
    rows = load_rows(out)
    assert report.written == len(rows) == 24 and report.rewritten == 24
    originals = {e.id: e for e in read_examples(raw)}
    for row in rows:
        e = Example.from_dict(row)
        source = originals[e.id]
        assert e.original_query == source.query and e.query != source.query
        assert e.relation in RELATIONS
        assert 1 <= len(e.used_distractors) <= 2
        for i, tier in enumerate(e.tiers):
            if source.tiers[i] == Tier.POSITIVE:
                assert tier == Tier.POSITIVE
            else:
                assert tier == (Tier.DISTRACTOR if i in e.used_distractors else Tier.NEGATIVE)
        assert e.extra["titles"] == source.extra["titles"]
    assert sum(report.relations.values()) == 24 and set(report.relations) <= set(RELATIONS)
    assert max(report.relations.values()) - min(report.relations.values()) <= 1
    meta = json.loads(sidecar_paths(out)[1].read_text())
    assert meta["offline"] is True and meta["fraction"] == 1.0


def test_fraction_keeps_original_queries_as_p_n2(tmp_path):
    raw = small_raw(tmp_path, 40)
    out = tmp_path / "lore.jsonl"
    report = build_data(
        BuildConfig(
            inputs=[str(raw)],
            output=str(out),
            offline=True,
            fraction=0.5,
            seed=3,
            relations="Causal,Contrastive",
            show_progress=False,
        )
    )
    rows = load_rows(out)
    kept = [r for r in rows if r.get("relation") is None]
    assert report.kept_original == len(kept) and 8 <= len(kept) <= 32
    for row in kept:
        assert row["query"] == row["original_query"] and -1 not in row["labels"]
    assert {r["relation"] for r in rows if r.get("relation")} <= {"Causal", "Contrastive"}
    again = tmp_path / "again.jsonl"
    build_data(
        BuildConfig(
            inputs=[str(raw)],
            output=str(again),
            offline=True,
            fraction=0.5,
            seed=3,
            relations="Causal,Contrastive",
            show_progress=False,
        )
    )
    assert load_rows(again) == rows  # deterministic


def test_resume_after_a_truncated_line_neither_duplicates_nor_loses(tmp_path):
    raw = small_raw(tmp_path, 20)
    out = tmp_path / "lore.jsonl"
    config = dict(inputs=[str(raw)], output=str(out), offline=True, show_progress=False)
    build_data(BuildConfig(**config, limit=7))
    full = tmp_path / "full.jsonl"
    build_data(BuildConfig(inputs=[str(raw)], output=str(full), offline=True, show_progress=False))
    data = out.read_bytes()
    out.write_bytes(data + b'{"id": "half-writ')  # what a kill during a write leaves
    report = build_data(BuildConfig(**config))
    assert report.repaired_tail and report.already_done == 7 and report.written == 13
    rows = load_rows(out)
    assert len(rows) == 20 and len({r["id"] for r in rows}) == 20
    assert sorted(rows, key=lambda r: r["id"]) == sorted(load_rows(full), key=lambda r: r["id"])
    assert build_data(BuildConfig(**config)).written == 0


def test_resume_refuses_other_options_and_overwrite_starts_over(tmp_path):
    raw = small_raw(tmp_path, 6)
    out = tmp_path / "lore.jsonl"
    build_data(BuildConfig(inputs=[str(raw)], output=str(out), offline=True, limit=3, show_progress=False))
    with pytest.raises(ConfigError) as info:
        build_data(BuildConfig(inputs=[str(raw)], output=str(out), offline=True, fraction=0.5, show_progress=False))
    assert "fraction" in str(info.value) and "--overwrite" in str(info.value)
    report = build_data(
        BuildConfig(inputs=[str(raw)], output=str(out), offline=True, fraction=0.5, overwrite=True, show_progress=False)
    )
    assert report.already_done == 0 and report.written == 6


def test_skipped_questions_are_recorded_and_not_retried_unless_asked(tmp_path):
    rows = [
        {"id": "nopos", "query": "Who?", "chunks": ["a", "b"], "labels": [0, 0]},
        {"id": "allpos", "query": "Who?", "chunks": ["a", "b"], "labels": [1, 1]},
        {
            "id": "leaky",
            "query": "Where is the tower of Pisa?",
            "chunks": ["The tower is in Pisa, Italy.", "Italy Italy Italy."],
            "labels": [1, 0],
            "answer": "Italy",
        },
    ]
    raw = tmp_path / "raw.jsonl"
    raw.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "lore.jsonl"
    report = build_data(BuildConfig(inputs=[str(raw)], output=str(out), offline=True, show_progress=False))
    assert report.written == 0
    assert report.skipped == {"no_positive": 1, "no_negative": 1, "answer_leak": 1}
    skipped = load_rows(sidecar_paths(out)[0])
    assert {s["id"]: s["reason"] for s in skipped} == {
        "nopos": "no_positive",
        "allpos": "no_negative",
        "leaky": "answer_leak",
    }
    again = build_data(BuildConfig(inputs=[str(raw)], output=str(out), offline=True, show_progress=False))
    assert again.already_skipped == 3 and not again.skipped and again.total_skipped == 3
    retried = build_data(
        BuildConfig(inputs=[str(raw)], output=str(out), offline=True, retry_skipped=True, show_progress=False)
    )
    assert sum(retried.skipped.values()) == 3


def test_read_done_tolerates_only_a_crash_artefact(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"id": "a"}\n{"id": "b"}', encoding="utf-8")  # complete last row without its newline
    rows, repaired = read_done(path)
    assert [r["id"] for r in rows] == ["a", "b"] and repaired and path.read_text().endswith("\n")
    path.write_text('{"id": "a"}\n{"id": "b"', encoding="utf-8")
    rows, repaired = read_done(path)
    assert [r["id"] for r in rows] == ["a"] and path.read_text() == '{"id": "a"}\n'
    path.write_text('{"id": "a"}\nnot json\n{"id": "c"}\n', encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_done(path)
    assert info.value.line == 2


def test_config_validation():
    for bad in (
        dict(fraction=1.5),
        dict(candidates=0),
        dict(mining="tfidf"),
        dict(relation_choice="x"),
        dict(output="o.jsonl.gz"),
    ):
        values = dict(inputs=["x"], output="o.jsonl")
        values.update(bad)
        with pytest.raises(ConfigError):
            BuildConfig(**values).validate()


# ---------------------------------------------------------------------------------------------- CLI
def test_cli_build_data_offline_prints_counts_and_spread(tmp_path, capsys):
    raw = small_raw(tmp_path, 16)
    out = tmp_path / "lore.jsonl"
    assert (
        main(["build-data", str(raw), "-o", str(out), "--offline", "--no-progress", "--relations", "Causal=3,Parallel"])
        == 0
    )
    printed = capsys.readouterr().out
    assert "16 rows written" in printed and "re-asked:" in printed
    assert "relations: Causal 12 (75%), Parallel 4 (25%)" in printed
    config = tmp_path / "build.yaml"
    config.write_text(
        f"offline: true\nfraction: 0.25\noverwrite: true\nno-progress: true\noutput: {out}\n", encoding="utf-8"
    )
    assert main(["build-data", str(raw), "-o", str(out), "--config", str(config)]) == 0
    assert "kept original" in capsys.readouterr().out
    assert sum(r.get("relation") is None for r in load_rows(out)) > 0


def test_cli_build_data_help(capsys):
    with pytest.raises(SystemExit):
        main(["build-data", "--help"])
    text = capsys.readouterr().out
    for flag in ("--offline", "--fraction", "--relations", "--mining", "--retry-skipped", "--llm-base-url", "--config"):
        assert flag in text


def test_tokenize_drops_stop_words():
    assert tokenize("Where was THE place of burial?") == ["place", "burial"]
