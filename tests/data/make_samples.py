"""Rebuild the converter test samples in tests/data/<format>/ from ../shared/data/raw.

Each sample puts a handful of rows of shared/data/raw back into the layout of the dataset's original
release, so that the converters can be tested on the real layout and must reproduce the raw rows exactly.
Fields the raw rows do not carry (sentence boundaries, supporting-fact sentence ids, question types, ...)
are reconstructed; where a public copy of the original row was checked, its values are used (see KNOWN and
each folder's SOURCE.md).

Run from the repository root:  python tests/data/make_samples.py
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
RAW = HERE.parents[1] / ".." / "shared" / "data" / "raw"

HOTPOT_IDS = [
    "5a8b57f25542995d1e6f1371",  # checked against the public original: identical
    "5a8db19d5542994ba4e3dd00",  # checked against the public original: identical
    "5ae7a8175542993210983ed8",  # a paragraph with a run of spaces
    "5abd259d55429924427fcf1a",  # only 2 paragraphs
    "5a8a43eb5542996c9b8d5e82",  # sentences joined without a space ("Gujarat.It was")
    "5a822a5e55429926c1cdae43",  # a paragraph ending in a space
]
TWOWIKI_IDS = [
    "100c512a0bde11eba7f7acde48001122",
    "9068d246089911ebbd77ac1f6bf848b6",  # 4 gold paragraphs
    "feea4eb5086411ebbd5eac1f6bf848b6",  # 4 gold paragraphs
    "570bf6f40bdc11eba7f7acde48001122",
    "fde6ecd60bdc11eba7f7acde48001122",  # sentence that is a lone quote mark
]
MUSIQUE_IDS = [
    "2hop__150763_14904",
    "4hop1__709382_146811_31223_91015",
    "2hop__6584_6587",
    "3hop1__404363_705261_126049",
    "3hop1__358656_182905_638959",
]
MSMARCO_IDS = ["34300", "22977", "55781", "23604", "31100", "31985"]
BEIR_IDS = HOTPOT_IDS[:5]
TABLE_IDS = TWOWIKI_IDS[:4]

#: Fields of the original rows that the raw rows lost, taken from the public copies named in SOURCE.md.
KNOWN = {
    "5a8b57f25542995d1e6f1371": {
        "supporting_facts": [["Scott Derrickson", 0], ["Ed Wood", 0]],
        "type": "comparison",
        "level": "hard",
    },
    "5a8db19d5542994ba4e3dd00": {
        "supporting_facts": [["Local H", 0], ["For Against", 0]],
        "type": "comparison",
        "level": "hard",
        # sentence starts the abbreviation-aware splitter below does not find on its own
        "extra_splits": [" He formed Fawcett", " Interviews with the band"],
    },
    "2hop__150763_14904": {
        "question_decomposition": [
            {
                "id": 150763,
                "question": "What company published Journal of Psychotherapy Integration?",
                "answer": "American Psychological Association",
                "paragraph_support_idx": 6,
            },
            {
                "id": 14904,
                "question": "Who was the first president of #1 ?",
                "answer": "G. Stanley Hall",
                "paragraph_support_idx": 10,
            },
        ],
        "answer_aliases": ["Stanley Hall"],
    },
    "34300": {"query_type": "description"},
    "22977": {"query_type": "numeric"},
    "55781": {"query_type": "numeric"},
}

_ABBREVIATIONS = {
    "Mr",
    "Mrs",
    "Ms",
    "Dr",
    "St",
    "Jr",
    "Sr",
    "Inc",
    "Co",
    "Ltd",
    "vs",
    "No",
    "Mt",
    "Gen",
    "Col",
    "Lt",
    "Sgt",
    "Capt",
    "Rev",
    "Prof",
    "Jan",
    "Feb",
    "Aug",
    "Sept",
    "Oct",
    "Nov",
    "Dec",
}
_BOUNDARY = re.compile(r"[.!?][\"')\]]*(?= [A-Z0-9\"'])")


def split_sentences(text: str, extra: list[str] = ()) -> list[str]:
    """Split a paragraph HotpotQA-style: each later sentence keeps its leading space ("".join restores it)."""
    cuts = []
    for match in _BOUNDARY.finditer(text):
        words = re.findall(r"[\w.]+$", text[: match.start()])
        word = words[0] if words else ""
        if re.fullmatch(r"[A-Z]", word) or word in _ABBREVIATIONS or re.fullmatch(r"(?:[A-Z]\.)+[A-Z]", word):
            continue
        cuts.append(match.end())
    for marker in extra:
        at = text.find(marker)
        if at > 0:
            cuts.append(at)
    cuts = sorted(set(cuts))
    parts, prev = [], 0
    for cut in cuts:
        parts.append(text[prev:cut])
        prev = cut
    parts.append(text[prev:])
    assert "".join(parts) == text
    return parts


def read_raw(name: str, ids: list[str]) -> list[dict]:
    by_id = {}
    with (RAW / name).open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            by_id[row["id"]] = row
    return [by_id[i] for i in ids]


def dump_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def dump_jsonl(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def gold_facts(row: dict) -> list[list]:
    return [[t, 0] for t, label in zip(row["titles"], row["labels"], strict=False) if label == 1]


def hotpotqa() -> None:
    out = []
    for row in read_raw("hotpotqa_dev_distractor.jsonl", HOTPOT_IDS):
        known = KNOWN.get(row["id"], {})
        extra = known.get("extra_splits", [])
        out.append(
            {
                "_id": row["id"],
                "answer": row["answer"],
                "question": row["query"],
                "supporting_facts": known.get("supporting_facts", gold_facts(row)),
                "context": [[t, split_sentences(c, extra)] for t, c in zip(row["titles"], row["chunks"], strict=False)],
                "type": known.get("type", "bridge"),
                "level": known.get("level", "hard"),
            }
        )
    dump_json(HERE / "hotpotqa" / "hotpot_dev_distractor_sample.json", out)


def twowiki() -> None:
    out = []
    for row in read_raw("2wikimultihopqa_dev.jsonl", TWOWIKI_IDS):
        context = []
        for title, chunk in zip(row["titles"], row["chunks"], strict=False):
            parts = split_sentences(chunk)
            # 2WikiMultiHopQA sentences carry no leading space; the converter joins them with one
            sentences = [parts[0]] + [p[1:] for p in parts[1:]]
            assert " ".join(sentences) == chunk
            context.append([title, sentences])
        out.append(
            {
                "_id": row["id"],
                "type": "compositional",
                "question": row["query"],
                "context": context,
                "supporting_facts": gold_facts(row),
                "evidences": [],
                "answer": row["answer"],
            }
        )
    dump_json(HERE / "2wiki" / "dev_sample.json", out)


def musique() -> None:
    out = []
    for row in read_raw("musique_ans_train_sample.jsonl", MUSIQUE_IDS):
        known = KNOWN.get(row["id"], {})
        out.append(
            {
                "id": row["id"],
                "paragraphs": [
                    {"idx": i, "title": t, "paragraph_text": c, "is_supporting": bool(label)}
                    for i, (t, c, label) in enumerate(zip(row["titles"], row["chunks"], row["labels"], strict=False))
                ],
                "question": row["query"],
                "question_decomposition": known.get("question_decomposition", []),
                "answer": row["answer"],
                "answer_aliases": known.get("answer_aliases", []),
                "answerable": True,
            }
        )
    dump_jsonl(HERE / "musique" / "musique_ans_train_sample.jsonl", out)


def msmarco() -> None:
    rows = read_raw("msmarco_v1.1_train_sample.jsonl", MSMARCO_IDS)
    v11, hf = [], []
    for row in rows:
        known = KNOWN.get(row["id"], {})
        answers = [row["answer"]] if row["answer"] is not None else ["No Answer Present."]
        record = {
            "answers": answers,
            "passages": [
                {"is_selected": label, "passage_text": c, "url": u}
                for c, label, u in zip(row["chunks"], row["labels"], row["titles"], strict=False)
            ],
            "query": row["query"],
            "query_id": int(row["id"]),
            "query_type": known.get("query_type", "description"),
            "wellFormedAnswers": [],
        }
        v11.append(record)
        hf.append(
            {
                "query_id": int(row["id"]),
                "query": row["query"],
                "passages": {"is_selected": row["labels"], "passage_text": row["chunks"], "url": row["titles"]},
                "query_type": record["query_type"],
                "answers": answers,
                "wellFormedAnswers": [],
            }
        )
    dump_jsonl(HERE / "msmarco" / "train_v1.1_sample.jsonl", v11)
    dump_json(HERE / "msmarco" / "hf_layout_sample.json", hf)


def beir() -> None:
    rows = read_raw("hotpotqa_dev_distractor.jsonl", BEIR_IDS)
    root = HERE / "beir" / "hotpotqa_sample"
    corpus, doc_of = [], {}
    for row in rows:
        for title, chunk in zip(row["titles"], row["chunks"], strict=False):
            key = (title, chunk)
            if key not in doc_of:
                doc_of[key] = f"d{len(doc_of):03d}"
                corpus.append({"_id": doc_of[key], "title": title, "text": chunk})
    dump_jsonl(root / "corpus.jsonl", corpus)
    dump_jsonl(
        root / "queries.jsonl",
        [{"_id": r["id"], "text": r["query"], "metadata": {"answer": r["answer"]}} for r in rows],
    )
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    with (root / "qrels" / "test.tsv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["query-id", "corpus-id", "score"])
        for row in rows:
            for title, chunk, label in zip(row["titles"], row["chunks"], row["labels"], strict=False):
                if label == 1:
                    writer.writerow([row["id"], doc_of[(title, chunk)], 1])
    with (root / "run.trec").open("w", encoding="utf-8") as handle:
        for row in rows:
            for rank, (title, chunk) in enumerate(zip(row["titles"], row["chunks"], strict=False), start=1):
                handle.write(f"{row['id']} Q0 {doc_of[(title, chunk)]} {rank} {1.0 / rank:.4f} distractor-setting\n")


def table() -> None:
    rows = read_raw("2wikimultihopqa_dev.jsonl", TABLE_IDS)
    root = HERE / "table"
    root.mkdir(parents=True, exist_ok=True)
    with (root / "team_long.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question_id", "question", "passage", "relevant", "source", "expected_answer"])
        for row in rows:
            for title, chunk, label in zip(row["titles"], row["chunks"], row["labels"], strict=False):
                writer.writerow([row["id"], row["query"], chunk, "yes" if label else "no", title, row["answer"]])
    dump_jsonl(
        root / "team_wide.jsonl",
        [
            {
                "qid": r["id"],
                "text": r["query"],
                "docs": r["chunks"],
                "gold": [bool(x) for x in r["labels"]],
                "doc_titles": r["titles"],
                "ans": r["answer"],
            }
            for r in rows
        ],
    )


if __name__ == "__main__":
    hotpotqa()
    twowiki()
    musique()
    msmarco()
    beir()
    table()
    print("samples written under", HERE)
