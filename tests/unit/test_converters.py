"""Converters: each sample in its original layout (tests/data/<format>/) must reproduce shared/data/raw exactly."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from lore_rag.cli import main
from lore_rag.data.converters import (
    TableMapping,
    convert,
    convert_to_file,
    iter_beir,
    iter_hotpotqa,
    iter_msmarco,
    iter_musique,
    iter_table,
    iter_twowiki,
    read_qrels,
    read_run,
)
from lore_rag.data.converters._common import parse_label
from lore_rag.data.io import read_examples
from lore_rag.data.schema import Example, Tier
from lore_rag.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
RAW = REPO / ".." / "shared" / "data" / "raw"


def raw_rows(name: str) -> dict[str, dict]:
    path = RAW / name
    if not path.is_file():
        pytest.skip(f"{path} is not there (shared data sits beside the repository)")
    rows = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            rows[row["id"]] = row
    return rows


def assert_reproduces(examples: list[Example], raw_name: str, expected_count: int) -> None:
    rows = raw_rows(raw_name)
    assert len(examples) == expected_count
    assert len({e.id for e in examples}) == expected_count
    for example in examples:
        row = rows[example.id]
        # the same example, field for field ...
        assert example == Example.from_dict(row)
        # ... and the same JSON row (to_dict leaves out an answer that is null)
        expected = {k: v for k, v in row.items() if v is not None}
        assert example.to_dict() == expected
        assert set(example.tiers) <= {Tier.POSITIVE, Tier.NEGATIVE}


def test_hotpotqa_reproduces_raw_rows():
    examples = list(iter_hotpotqa(DATA / "hotpotqa" / "hotpot_dev_distractor_sample.json"))
    assert_reproduces(examples, "hotpotqa_dev_distractor.jsonl", 6)
    by_id = {e.id: e for e in examples}
    assert len(by_id["5abd259d55429924427fcf1a"].chunks) == 2  # a question with only two paragraphs
    assert "Gujarat.It" in " ".join(by_id["5a8a43eb5542996c9b8d5e82"].chunks)  # joins without a space stay


def test_hotpotqa_joins_sentences_as_they_are(tmp_path):
    record = {
        "_id": "x",
        "question": "Who?",
        "answer": "A",
        "supporting_facts": [["T1", 0]],
        "context": [["T1", ["First.", " Second.", "Third."]], ["T2", ["Other text."]]],
    }
    (example,) = convert("hotpotqa", _write(record, "h.json", tmp_path))
    assert example.chunks == ["First. Second.Third.", "Other text."]
    assert example.tiers == [Tier.POSITIVE, Tier.NEGATIVE]
    assert example.extra["titles"] == ["T1", "T2"]


def test_hotpotqa_hugging_face_layout_gives_the_same_rows(tmp_path):
    records = json.loads((DATA / "hotpotqa" / "hotpot_dev_distractor_sample.json").read_text(encoding="utf-8"))
    hf = []
    for r in records:
        hf.append(
            {
                "id": r["_id"],
                "question": r["question"],
                "answer": r["answer"],
                "type": r["type"],
                "level": r["level"],
                "supporting_facts": {
                    "title": [f[0] for f in r["supporting_facts"]],
                    "sent_id": [f[1] for f in r["supporting_facts"]],
                },
                "context": {"title": [c[0] for c in r["context"]], "sentences": [c[1] for c in r["context"]]},
            }
        )
    path = tmp_path / "hotpot_hf.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in hf), encoding="utf-8")
    assert_reproduces(list(iter_hotpotqa(path)), "hotpotqa_dev_distractor.jsonl", 6)


def test_hotpotqa_test_split_without_labels_is_refused(tmp_path):
    record = {"_id": "x", "question": "Who?", "context": [["T", ["a."]]]}
    with pytest.raises(DataError) as info:
        list(iter_hotpotqa(_write(record, "t.json", tmp_path)))
    assert info.value.field == "supporting_facts"
    assert "test split" in str(info.value)


def test_twowiki_reproduces_raw_rows():
    examples = list(iter_twowiki(DATA / "2wiki" / "dev_sample.json"))
    assert_reproduces(examples, "2wikimultihopqa_dev.jsonl", 5)
    assert sorted(e.n_positive for e in examples) == [2, 2, 2, 4, 4]


def test_twowiki_joins_sentences_with_a_space(tmp_path):
    record = {
        "_id": "x",
        "question": "Who?",
        "answer": "A",
        "supporting_facts": [["T", 0]],
        "context": [["T", ["One.", "Two."]], ["U", ["Three."]]],
        "evidences": [],
        "type": "compositional",
    }
    (example,) = convert("2wikimultihopqa", _write(record, "w.json", tmp_path))
    assert example.chunks == ["One. Two.", "Three."]
    assert example.dataset == "2wikimultihopqa"


def test_musique_reproduces_raw_rows_and_keeps_aliases_on_request():
    path = DATA / "musique" / "musique_ans_train_sample.jsonl"
    assert_reproduces(list(iter_musique(path)), "musique_ans_train_sample.jsonl", 5)
    with_aliases = {e.id: e for e in iter_musique(path, with_aliases=True)}
    assert with_aliases["2hop__150763_14904"].answer == ["G. Stanley Hall", "Stanley Hall"]
    assert with_aliases["2hop__6584_6587"].answer == ["the Anglican Communion"]


def test_msmarco_reproduces_raw_rows_in_both_layouts():
    for name in ("train_v1.1_sample.jsonl", "hf_layout_sample.json"):
        examples = list(iter_msmarco(DATA / "msmarco" / name))
        assert_reproduces(examples, "msmarco_v1.1_train_sample.jsonl", 6)
        by_id = {e.id: e for e in examples}
        assert by_id["31985"].answer is None  # "No Answer Present."
        assert by_id["31985"].n_positive == 0  # kept: readers skip rows without a positive
        assert by_id["23604"].n_positive == 2


def test_msmarco_v21_column_layout(tmp_path):
    rows = [json.loads(line) for line in (DATA / "msmarco" / "train_v1.1_sample.jsonl").open(encoding="utf-8")]
    columns = {key: {str(i): row[key] for i, row in enumerate(rows)} for key in rows[0]}
    path = tmp_path / "train_v2.1.json"
    path.write_text(json.dumps(columns), encoding="utf-8")
    assert_reproduces(list(iter_msmarco(path)), "msmarco_v1.1_train_sample.jsonl", 6)


def test_beir_with_a_run_file_reproduces_raw_rows():
    folder = DATA / "beir" / "hotpotqa_sample"
    examples = list(iter_beir(folder, candidates=folder / "run.trec", dataset="hotpotqa"))
    assert_reproduces(examples, "hotpotqa_dev_distractor.jsonl", 5)


def test_beir_bm25_candidates_include_every_gold_document():
    folder = DATA / "beir" / "hotpotqa_sample"
    qrels = read_qrels(folder / "qrels" / "test.tsv")
    corpus = {json.loads(line)["text"]: json.loads(line)["_id"] for line in (folder / "corpus.jsonl").open()}
    examples = list(iter_beir(folder, candidates="bm25", k=5, show_progress=False))
    assert len(examples) == 5
    for example in examples:
        assert 5 <= len(example.chunks) <= 7  # top 5, plus gold documents BM25 missed
        ids = [corpus[c] for c in example.chunks]
        assert len(set(ids)) == len(ids)
        for doc_id, tier in zip(ids, example.tiers, strict=False):
            assert (tier == Tier.POSITIVE) == (doc_id in qrels[example.id])
        assert example.n_positive == len(qrels[example.id])
    skipped = list(iter_beir(folder, candidates="bm25", k=1, missing_positives="skip", show_progress=False))
    assert len(skipped) < 5  # a single candidate cannot hold both gold paragraphs


def test_beir_run_file_layouts(tmp_path):
    trec = tmp_path / "run.trec"
    trec.write_text("q1 Q0 d2 2 0.5 x\nq1 Q0 d1 1 0.9 x\n", encoding="utf-8")
    tsv = tmp_path / "run.tsv"
    tsv.write_text("qid\tdocid\tscore\nq1\td1\t0.1\nq1\td2\t0.7\n", encoding="utf-8")
    js = tmp_path / "run.json"
    js.write_text(json.dumps({"q1": {"d1": 1.0, "d2": 3.0}}), encoding="utf-8")
    assert read_run(trec) == {"q1": ["d1", "d2"]}
    assert read_run(tsv) == {"q1": ["d2", "d1"]}
    assert read_run(js) == {"q1": ["d2", "d1"]}
    bad = tmp_path / "bad.tsv"
    bad.write_text("q1 d1\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_run(bad)
    assert info.value.line == 1


def test_team_csv_long_layout_with_column_flags_reproduces_raw_rows():
    mapping = TableMapping(title_field="source", answer_field="expected_answer")
    examples = list(iter_table(DATA / "table" / "team_long.csv", mapping, dataset="2wikimultihopqa"))
    assert_reproduces(examples, "2wikimultihopqa_dev.jsonl", 4)


def test_team_jsonl_wide_layout_with_column_flags_reproduces_raw_rows():
    mapping = TableMapping(
        id_field="qid",
        query_field="text",
        chunk_field="docs",
        label_field="gold",
        title_field="doc_titles",
        answer_field="ans",
    )
    examples = list(iter_table(DATA / "table" / "team_wide.jsonl", mapping, dataset="2wikimultihopqa"))
    assert_reproduces(examples, "2wikimultihopqa_dev.jsonl", 4)


def test_team_csv_errors_name_line_and_column(tmp_path):
    path = tmp_path / "ours.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question", "passage", "relevant"])
        writer.writerow(["Who?", "A text.", "yes"])
        writer.writerow(["Who?", "B text.", "maybe"])
    with pytest.raises(DataError) as info:
        list(iter_table(path))
    assert (info.value.line, info.value.field) == (3, "relevant")
    path.write_text("question,passage,clicked\nWho?,A text.,1\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        list(iter_table(path))
    assert "--label-field" in str(info.value)
    (example,) = iter_table(path, TableMapping(label_field="clicked"))
    assert example.id.startswith("q") and example.tiers == [Tier.POSITIVE]


def test_team_table_split_layout_and_grouping_by_question(tmp_path):
    path = tmp_path / "split.jsonl"
    path.write_text(
        json.dumps({"question": "Q?", "positives": ["p1"], "negatives": ["n1", "n2"]}) + "\n", encoding="utf-8"
    )
    (example,) = iter_table(path)
    assert example.chunks == ["p1", "n1", "n2"]
    assert example.tiers == [Tier.POSITIVE, Tier.NEGATIVE, Tier.NEGATIVE]
    grouped = tmp_path / "noid.tsv"
    grouped.write_text("query\tchunk\tlabel\nA?\tx\t1\nB?\ty\t0\nA?\tz\t0\nB?\tw\t2\n", encoding="utf-8")
    examples = list(iter_table(grouped))
    assert [e.query for e in examples] == ["A?", "B?"]
    assert examples[0].chunks == ["x", "z"] and examples[1].tiers == [Tier.NEGATIVE, Tier.POSITIVE]


def test_parse_label():
    assert parse_label("Yes") and parse_label(1) and parse_label(True) and parse_label("2", threshold=2)
    assert not parse_label("no") and not parse_label(0) and not parse_label("1", threshold=2)
    with pytest.raises(ValueError):
        parse_label("perhaps")


def test_convert_to_file_writes_rows_the_readers_load(tmp_path):
    out = tmp_path / "raw" / "musique.jsonl"
    counts = convert_to_file("musique", DATA / "musique" / "musique_ans_train_sample.jsonl", out, limit=3)
    assert counts["rows"] == 3
    examples = read_examples(out)
    assert [e.id for e in examples] == ["2hop__150763_14904", "4hop1__709382_146811_31223_91015", "2hop__6584_6587"]
    with pytest.raises(ConfigError):
        list(convert("squad", out))


def test_malformed_json_names_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "question": "q", "paragraphs": []}\n{"id": \n', encoding="utf-8")
    with pytest.raises(DataError) as info:
        list(iter_musique(path))
    assert info.value.line in (1, 2)


def test_cli_convert(tmp_path, capsys):
    out = tmp_path / "hotpot.jsonl"
    code = main(["convert", "hotpotqa", str(DATA / "hotpotqa" / "hotpot_dev_distractor_sample.json"), "-o", str(out)])
    assert code == 0
    assert "wrote 6 rows" in capsys.readouterr().out
    assert len(read_examples(out)) == 6
    code = main(
        [
            "convert",
            "table",
            str(DATA / "table" / "team_wide.jsonl"),
            "-o",
            str(tmp_path / "t.jsonl"),
            "--id-field",
            "qid",
            "--query-field",
            "text",
            "--chunk-field",
            "docs",
            "--label-field",
            "gold",
        ]
    )
    assert code == 0
    assert main(["convert", "hotpotqa", str(out), "-o", str(tmp_path / "x.jsonl"), "--with-aliases"]) == 1
    assert "--with-aliases applies to musique only" in capsys.readouterr().err


def test_cli_convert_reads_a_config_file(tmp_path, capsys):
    config = tmp_path / "convert.yaml"
    config.write_text(
        "id-field: qid\nquery_field: text\nchunk-field: docs\nlabel-field: gold\nanswer-field: ans\n", encoding="utf-8"
    )
    out = tmp_path / "t.jsonl"
    assert (
        main(["convert", "table", str(DATA / "table" / "team_wide.jsonl"), "-o", str(out), "--config", str(config)])
        == 0
    )
    converted = read_examples(out)
    raw = raw_rows("2wikimultihopqa_dev.jsonl")
    assert [e.answer for e in converted] == [raw[e.id]["answer"] for e in converted]


def _write(record: dict, name: str, folder: Path) -> Path:
    path = folder / name
    path.write_text(json.dumps([record]), encoding="utf-8")
    return path
