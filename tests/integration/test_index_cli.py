"""``lore-rag index`` and ``lore-rag query`` end to end: real model, real embedded Chroma, bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _checkpoints import make_checkpoints

from lore_rag.cli import main
from lore_rag.data.io import read_examples
from lore_rag.retrieval import ChromaStore, chunk_id, index_paths

pytestmark = pytest.mark.integration

VALIDATION = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "lore" / "validation_hotpotqa.jsonl"
QUERY = "Which American director made horror films such as Sinister?"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return make_checkpoints(tmp_path_factory.mktemp("cli-models"))


@pytest.fixture()
def corpus(tmp_path):
    """A folder of .txt and .md files made of real HotpotQA paragraphs."""
    folder = tmp_path / "docs"
    (folder / "more").mkdir(parents=True)
    rows = read_examples(VALIDATION)[:2]
    for i, text in enumerate(rows[0].chunks[:5]):
        (folder / f"p{i}.txt").write_text(text, encoding="utf-8")
    (folder / "more" / "joined.md").write_text("# Notes\n\n" + "\n\n".join(rows[1].chunks[:4]), encoding="utf-8")
    return folder


def index(*args: str) -> int:
    return main(["-q", "index", *args, "--no-progress"])


def run_json(capsys, *args: str) -> dict:
    assert index(*args, "--json") == 0
    return json.loads(capsys.readouterr().out)


def test_index_then_rerun_adds_no_duplicates(corpus, tmp_path, capsys):
    store = tmp_path / "store"
    first = run_json(capsys, str(corpus), "--store", str(store), "--chunk-size", "60", "--chunk-overlap", "15")
    assert first["files"] == 6 and first["added"] == first["unique"] == first["total"] > 6
    again = run_json(capsys, str(corpus), "--store", str(store), "--chunk-size", "60", "--chunk-overlap", "15")
    assert again["added"] == 0 and again["skipped"] == first["unique"] and again["total"] == first["total"]
    assert ChromaStore(store).count() == first["total"]
    # text output says the same in words
    assert index(str(corpus), "--store", str(store), "--chunk-size", "60", "--chunk-overlap", "15") == 0
    assert "0 added" in capsys.readouterr().out


def test_chunk_options_and_metadata(corpus, tmp_path, capsys):
    store = tmp_path / "store"
    run_json(
        capsys,
        str(corpus / "more"),
        "--store",
        str(store),
        "--chunk-size",
        "300",
        "--chunk-unit",
        "chars",
        "--chunk-overlap",
        "50",
    )
    hits = ChromaStore(store).collection.get(include=["documents", "metadatas"])
    assert all(len(d) <= 300 for d in hits["documents"])
    assert all(m["source"].endswith("joined.md") and "chunk" in m for m in hits["metadatas"])


def test_jsonl_with_text_field_and_metadata_fields(tmp_path, capsys):
    rows = [{"body": f"Paragraph {i} about topic {i}.", "title": f"T{i}", "year": 2000 + i} for i in range(3)]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    store = tmp_path / "store"
    run_json(capsys, str(path), "--store", str(store), "--text-field", "body", "--metadata-fields", "title")
    got = ChromaStore(store).collection.get(include=["metadatas"])
    assert sorted(m["title"] for m in got["metadatas"]) == ["T0", "T1", "T2"]
    assert all("year" not in m for m in got["metadatas"])
    assert index(str(path), "--store", str(store)) == 1  # default --text-field 'text' is missing
    err = capsys.readouterr().err
    assert "rows.jsonl:1" in err and "'text'" in err and "--text-field" in err


def test_tiered_eval_file_indexes_every_chunk_once(tmp_path, capsys):
    rows = read_examples(VALIDATION)[:3]
    path = tmp_path / "tiered.jsonl"
    path.write_text("\n".join(json.dumps(r.to_dict()) for r in rows), encoding="utf-8")
    # kept whole (the default splits a pre-made chunk longer than the model reads: see the tests below)
    out = run_json(capsys, str(path), "--store", str(tmp_path / "store"), "--long-chunks", "keep")
    distinct = {c for r in rows for c in r.chunks}
    assert out["total"] == len(distinct)
    got = ChromaStore(tmp_path / "store").collection.get(ids=[chunk_id(rows[0].chunks[0])], include=["metadatas"])
    assert got["metadatas"][0]["chunk_of"] == rows[0].id and got["metadatas"][0]["chunk_index"] == 0


def test_bad_inputs_give_clear_errors_and_keep_the_index(corpus, tmp_path, capsys, models):
    store = tmp_path / "store"
    first = run_json(capsys, str(corpus), "--store", str(store))
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("Café crème, très bien.".encode("latin-1"))
    assert index(str(corpus), str(bad), "--store", str(store)) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and "UTF-8" in err
    assert index(str(tmp_path / "missing.txt"), "--store", str(store)) == 1
    assert "no such file" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    assert index(str(empty), "--store", str(store)) == 1
    assert "no text to index" in capsys.readouterr().err
    assert index(str(corpus), "--store", str(store), "--model", str(tmp_path / "no-checkpoint")) == 1
    assert "no such checkpoint" in capsys.readouterr().err
    assert index(str(corpus), "--store", str(store), "--chunk-size", "10", "--chunk-overlap", "10") == 1
    assert "overlap" in capsys.readouterr().err
    # a checkpoint trained from another base model may not add to (or query) this index
    assert index(str(corpus), "--store", str(store), "--model", str(models["other"])) == 1
    assert "base model" in capsys.readouterr().err
    assert main(["-q", "query", QUERY, "--store", str(store), "--model", str(models["other"])]) == 1
    assert "base model" in capsys.readouterr().err
    assert ChromaStore(store).count() == first["total"]  # nothing already indexed was lost


def test_interrupted_index_resumes(corpus, tmp_path, models):
    class StopsAfter:
        """The real encoder, interrupted (as by Ctrl-C) after two batches."""

        def __init__(self, encoder, batches):
            self._encoder, self._left = encoder, batches

        def __getattr__(self, name):
            return getattr(self._encoder, name)

        def embed_documents(self, texts, **kwargs):
            if self._left == 0:
                raise KeyboardInterrupt
            self._left -= 1
            return self._encoder.embed_documents(texts, **kwargs)

    store = ChromaStore(tmp_path / "store")
    with pytest.raises(KeyboardInterrupt):
        index_paths(
            corpus, store, StopsAfter(models["raw"], 2), chunk_size=40, overlap=10, batch_size=3, show_progress=False
        )
    assert store.count() == 6
    report = index_paths(corpus, store, models["raw"], chunk_size=40, overlap=10, batch_size=3, show_progress=False)
    assert report.added == report.unique - 6 and report.total == report.unique


def test_query_cli_text_json_and_compare(corpus, tmp_path, capsys, models):
    store = tmp_path / "store"
    run_json(capsys, str(corpus), "--store", str(store))
    assert main(["-q", "query", QUERY, "--store", str(store), "-k", "3", "--width", "100"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Query: {QUERY}") and "Scott Derrickson" in out
    assert main(["-q", "query", QUERY, "--store", str(store), "-k", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (hits,) = data["results"][0]["hits"].values()
    assert [h["rank"] for h in hits] == [1, 2] and hits[0]["score"] >= hits[1]["score"]

    queries = tmp_path / "queries.txt"
    queries.write_text(f"{QUERY}\nWho wrote a non-fiction book?\n", encoding="utf-8")
    args = ["-q", "query", "--queries-file", str(queries), "--store", str(store), "--model", str(models["lore"])]
    assert main([*args, "--compare", "-k", "3", "--width", "160"]) == 0
    out = capsys.readouterr().out
    assert out.count("Query:") == 2 and "raw" in out and "LORE (lore)" in out
    assert main([*args, "--compare", "-k", "3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["results"]) == 2 and set(data["results"][0]["hits"]) == {"raw", "lore"}

    assert main(["-q", "query", QUERY, "--store", str(store), "--compare"]) == 1  # raw vs raw
    assert "--compare needs a LORE checkpoint" in capsys.readouterr().err
    assert main(["-q", "query", QUERY, "--store", str(tmp_path / "nowhere")]) == 1
    assert "no Chroma store" in capsys.readouterr().err
    assert main(["-q", "query", QUERY, "--store", str(store), "--collection", "other"]) == 1
    assert "does not exist" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- model tokens
def model_tokens(texts: list[str]) -> list[int]:
    """Tokens the bundled model itself gets for each text (special tokens included, nothing cut)."""
    from lore_rag.models.encoder import load_model

    tokenizer = load_model(None).tokenizer
    return [len(tokenizer(t, truncation=False, verbose=False)["input_ids"]) for t in texts]


def test_default_chunks_fit_the_model_and_index_says_so(tmp_path, capsys):
    rows = read_examples(VALIDATION)[:6]
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(json.dumps({"text": " ".join(r.chunks), "id": r.id}) for r in rows), encoding="utf-8")
    store = tmp_path / "store"
    out = run_json(capsys, str(path), "--store", str(store), "--id-field", "id")
    assert out["chunk_unit"] == "tokens" and out["chunk_size"] == out["token_budget"] == 254
    assert out["max_seq_length"] == 256 and out["truncated_chunks"] == 0 and out["tokens_lost"] == 0
    texts = ChromaStore(store).collection.get(include=["documents"])["documents"]
    assert max(model_tokens(texts)) <= 256 and out["longest_chunk_tokens"] == max(model_tokens(texts)) - 2
    # the same documents cut into 200 words: the model would lose tokens, and index says how many
    words = run_json(capsys, str(path), "--store", str(tmp_path / "w"), "--chunk-unit", "words", "--chunk-size", "200")
    texts = ChromaStore(tmp_path / "w").collection.get(include=["documents"])["documents"]
    over = [n - 256 for n in model_tokens(texts) if n > 256]
    assert over, "200-word HotpotQA chunks run past 256 tokens"
    assert words["truncated_chunks"] == len(over) and words["tokens_lost"] == sum(over)
    assert index(str(path), "--store", str(tmp_path / "w"), "--chunk-unit", "words", "--chunk-size", "200") == 0
    line = capsys.readouterr().out.splitlines()[-1]
    assert f"{len(over)} of {words['chunks']} chunk(s) are longer than the model reads" in line
    assert f"{sum(over)} token(s) are not embedded" in line


def test_long_premade_chunks_split_or_kept_and_oversize_refused(tmp_path, capsys):
    long_text = " ".join(read_examples(VALIDATION)[0].chunks)
    n_long = model_tokens([long_text])[0]
    path = tmp_path / "tiered.jsonl"
    row = {"id": "r1", "query": "q?", "chunks": ["Short one.", long_text], "labels": [1, 0]}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    split = run_json(capsys, str(path), "--store", str(tmp_path / "a"))
    assert split["long_chunks_split"] == 1 and split["chunks"] == 1 + split["long_chunk_parts"]
    assert split["truncated_chunks"] == 0
    kept = run_json(capsys, str(path), "--store", str(tmp_path / "b"), "--long-chunks", "keep")
    assert kept["chunks"] == 2 and kept["truncated_chunks"] == 1 and kept["tokens_lost"] == n_long - 256

    huge = tmp_path / "huge.jsonl"
    row = {"id": "r2", "query": "q?", "chunks": ["fine.", "word " * 30_000], "labels": [1, 0]}
    huge.write_text(json.dumps(row) + "\n", encoding="utf-8")
    store = tmp_path / "a"
    before = ChromaStore(store).count()
    assert index(str(huge), "--store", str(store)) == 1
    err = capsys.readouterr().err
    assert f"{huge}:1" in err and "chunks[1]" in err and "--max-chunk-chars" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert ChromaStore(store).count() == before
