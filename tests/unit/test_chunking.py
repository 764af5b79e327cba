from __future__ import annotations

import gzip
import json
import random
import re

import pytest

from lore_rag.errors import ConfigError, DataError
from lore_rag.retrieval.chunking import (
    chunk_documents,
    chunk_id,
    chunk_text,
    expand_inputs,
    iter_documents,
    read_chunks,
    split_sentences,
)

WORD = re.compile(r"\S+")


def words(text: str) -> list[str]:
    return WORD.findall(text)


def make_text(seed: int, n_sentences: int = 40) -> str:
    rng = random.Random(seed)
    sentences = []
    for i in range(n_sentences):
        length = rng.choice([3, 5, 8, 12, 20, 45])
        body = " ".join(f"w{i}_{j}" for j in range(length))
        sentences.append(body + rng.choice([".", "!", "?"]))
        if rng.random() < 0.15:
            sentences.append("\n\n")
    return " ".join(sentences)


def test_split_sentences_keeps_punctuation_quotes_and_paragraphs():
    text = 'One here. "Two is quoted!" Three?\n\nFour has no end\nbut a line break. Five'
    assert split_sentences(text) == [
        "One here.",
        '"Two is quoted!"',
        "Three?",
        "Four has no end\nbut a line break.",
        "Five",
    ]
    assert split_sentences("Windows para\r\n\r\nNext one.") == ["Windows para", "Next one."]


def test_chunks_respect_size_and_cover_every_word_in_order():
    for seed in range(5):
        text = make_text(seed)
        all_words = words(text)
        chunks = chunk_text(text, chunk_size=30, overlap=8)
        assert all(len(words(c)) <= 30 for c in chunks)
        # every word of the text is in some chunk, and chunks advance through the text
        position = 0
        for chunk in chunks:
            cw = words(chunk)
            start = text.index(chunk, max(0, position - len(chunk)))
            assert start >= 0
            position = start + len(chunk)
            assert cw
        seen = [w for c in chunks for w in words(c)]
        assert set(seen) == set(all_words)
        assert chunks[-1].endswith(text.rstrip()[-5:])


def test_overlap_is_bounded_and_whole_sentences_when_they_fit():
    text = " ".join(f"Sentence number {i} has six words." for i in range(20))  # 6 words each
    chunks = chunk_text(text, chunk_size=20, overlap=7)
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        assert prev.endswith(".")  # cut at sentence ends only
        assert nxt.startswith("Sentence")
        shared = 0
        pw, nw = words(prev), words(nxt)
        for n in range(1, min(len(pw), len(nw)) + 1):
            if pw[-n:] == nw[:n]:
                shared = n
        assert shared == 6  # exactly one whole sentence repeated (6 <= 7)
        assert len(nw) <= 20


def test_no_overlap_partitions_the_words():
    text = make_text(7)
    chunks = chunk_text(text, chunk_size=25, overlap=0)
    assert [w for c in chunks for w in words(c)] == words(text)


def test_long_sentence_is_cut_between_words_and_overlap_falls_back_to_words():
    text = " ".join(f"x{i}" for i in range(50)) + "."
    chunks = chunk_text(text, chunk_size=20, overlap=5)
    assert all(len(words(c)) <= 20 for c in chunks)
    assert words(chunks[1])[:5] == words(chunks[0])[-5:]
    assert words(chunks[-1])[-1] == "x49."


def test_chars_unit_and_overlong_word():
    text = "Short one. " + "a" * 130 + " tail words here."
    chunks = chunk_text(text, chunk_size=50, overlap=10, unit="chars")
    assert all(len(c) <= 50 for c in chunks)
    assert "".join(chunks).count("a") >= 130
    assert chunks[0] == "Short one."


def test_chunks_are_slices_of_the_original_text():
    text = "Title line\n\nFirst para has\ntwo lines. Second sentence.\n\n- item one.\n- item two."
    for chunk in chunk_text(text, chunk_size=6, overlap=2):
        assert chunk in text


@pytest.mark.parametrize(
    "kwargs",
    [
        {"chunk_size": 10, "overlap": 10},
        {"chunk_size": 0, "overlap": 0},
        {"chunk_size": 10, "overlap": -1},
        {"chunk_size": 10, "overlap": 2, "unit": "tokens"},
    ],
)
def test_bad_sizes_are_refused(kwargs):
    with pytest.raises(ConfigError):
        chunk_text("some text.", **kwargs)


def test_blank_text_has_no_chunks():
    assert chunk_text("   \n\n  ") == []


def test_chunk_id_is_stable_and_content_based():
    assert chunk_id("abc") == chunk_id("abc")
    assert chunk_id("abc") != chunk_id("abd")
    assert len(chunk_id("abc")) == 32


def test_reads_text_markdown_folders_and_jsonl(tmp_path):
    (tmp_path / "docs" / "sub").mkdir(parents=True)
    (tmp_path / "docs" / "a.txt").write_text("Alpha text. More alpha.", encoding="utf-8")
    (tmp_path / "docs" / "sub" / "b.md").write_text("# Beta\n\nBeta body.", encoding="utf-8")
    (tmp_path / "docs" / ".hidden.txt").write_text("hidden", encoding="utf-8")
    (tmp_path / "docs" / "notes.bin").write_bytes(b"\x00\x01")
    rows = [{"body": "Gamma one.", "title": "G", "n": 3, "tags": ["x"]}, {"body": "Delta.", "title": "D", "n": 4}]
    (tmp_path / "rows.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")

    docs = list(iter_documents([tmp_path / "docs"]))
    assert [d.text for d in docs] == ["Alpha text. More alpha.", "# Beta\n\nBeta body."]
    assert docs[0].metadata["title"] == "a"

    docs = list(iter_documents(tmp_path / "rows.jsonl", text_field="body"))
    assert [d.text for d in docs] == ["Gamma one.", "Delta."]
    assert docs[0].metadata == {"title": "G", "n": 3}  # non-scalar 'tags' dropped
    assert docs[0].line == 1

    docs = list(iter_documents(tmp_path / "rows.jsonl", text_field="body", metadata_fields=["title"], id_field="n"))
    assert docs[1].metadata == {"title": "D", "doc_id": "4"}


def test_jsonl_missing_text_field_names_file_line_field(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"text": "ok"}\n{"body": "no text field"}\n', encoding="utf-8")
    with pytest.raises(DataError) as err:
        list(iter_documents(path))
    assert err.value.path == str(path) and err.value.line == 2 and err.value.field == "text"
    assert "--text-field" in str(err.value)


def test_jsonl_missing_requested_metadata_field(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"text": "ok"}\n', encoding="utf-8")
    with pytest.raises(DataError, match="missing metadata field"):
        list(iter_documents(path, metadata_fields=["author"]))


def test_tiered_rows_give_their_chunks_as_they_are(tmp_path):
    rows = [
        {"id": "q1", "query": "q?", "chunks": ["C one.", "C two."], "labels": [1, 0], "titles": ["T1", "T2"]},
        {"id": "q2", "query": "r?", "chunks": ["C two.", "C three."], "labels": [-1, 1]},
    ]
    path = tmp_path / "tiered.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(json.dumps(r) for r in rows))
    chunks = list(chunk_documents(iter_documents(path), chunk_size=1, overlap=0))
    assert [c.text for c in chunks] == ["C one.", "C two.", "C two.", "C three."]
    assert chunks[0].metadata["chunk_of"] == "q1" and chunks[0].metadata["title"] == "T1"
    assert chunks[3].metadata["chunk_index"] == 1
    assert chunks[1].id == chunks[2].id == chunk_id("C two.")


def test_not_utf8_names_the_file(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("café au lait".encode("latin-1"))
    with pytest.raises(DataError) as err:
        list(iter_documents(bad))
    assert err.value.path == str(bad)
    assert "UTF-8" in str(err.value)
    bad_jsonl = tmp_path / "latin1.jsonl"
    bad_jsonl.write_bytes('{"text": "caf\xe9"}\n'.encode("latin-1"))
    with pytest.raises(DataError) as err:
        list(iter_documents(bad_jsonl))
    assert err.value.path == str(bad_jsonl) and err.value.line == 1


def test_missing_inputs_and_empty_folders(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        expand_inputs(tmp_path / "nope.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no file to index"):
        expand_inputs(tmp_path / "empty")


def test_read_chunks_refuses_an_empty_corpus(tmp_path):
    (tmp_path / "a.txt").write_text("   \n", encoding="utf-8")
    with pytest.raises(DataError, match="no text to index"):
        read_chunks(tmp_path / "a.txt", show_progress=False)


def test_read_chunks_gives_metadata_and_stable_ids(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("One two three. Four five six. Seven eight nine.", encoding="utf-8")
    files, chunks = read_chunks(path, chunk_size=6, overlap=3, show_progress=False)
    assert files == [path]
    assert [c.text for c in chunks] == ["One two three. Four five six.", "Four five six. Seven eight nine."]
    assert [c.metadata["chunk"] for c in chunks] == [0, 1]
    assert all(c.metadata["source"] == str(path) for c in chunks)
    _, again = read_chunks(path, chunk_size=6, overlap=3, show_progress=False)
    assert [c.id for c in again] == [c.id for c in chunks]


# ---------------------------------------------------------------------------------------------- model tokens
@pytest.fixture(scope="module")
def counter(base_model):
    from lore_rag.retrieval.chunking import TokenCounter

    return TokenCounter(base_model)


def real_hotpotqa_text() -> str:
    from lore_rag.data.io import read_examples
    from lore_rag.defaults import bundled_validation_path

    rows = read_examples(bundled_validation_path())[:6]
    return "\n\n".join(" ".join(r.chunks) for r in rows)


def true_tokens(model, text: str) -> int:
    """What the model itself gets: its tokenizer with special tokens, untruncated."""
    return len(model.tokenizer(text, add_special_tokens=True, truncation=False, verbose=False)["input_ids"])


def test_token_budget_is_the_models_window_minus_special_tokens_and_prompt(base_model, counter):
    from lore_rag.retrieval.chunking import TokenCounter, chunk_sizes

    assert counter.max_seq_length == base_model.max_seq_length == 256
    assert counter.overhead == true_tokens(base_model, "")  # [CLS] [SEP]
    assert counter.budget == 256 - counter.overhead
    assert chunk_sizes(None, None, "tokens", counter) == (counter.budget, counter.budget // 8)
    with pytest.raises(ConfigError, match="more than the model reads"):
        chunk_sizes(counter.budget + 1, 0, "tokens", counter)
    old = dict(base_model.prompts)
    base_model.prompts = {**old, "document": "passage: "}
    try:
        prompted = TokenCounter(base_model)
    finally:
        base_model.prompts = old
    assert prompted.budget == counter.budget - len(base_model.tokenizer.tokenize("passage: "))


def test_token_chunks_fit_the_model_cover_the_text_and_end_on_sentences(base_model, counter):
    text = real_hotpotqa_text()
    chunks = chunk_text(text, unit="tokens", counter=counter)
    assert len(chunks) > 5
    for chunk in chunks:
        assert chunk in text  # slices of the original
        assert true_tokens(base_model, chunk) <= base_model.max_seq_length
    # every word is in some chunk, in order
    position = 0
    for chunk in chunks:
        start = text.find(chunk, max(0, position - len(chunk)))
        assert start >= 0 and start + len(chunk) >= position
        position = start + len(chunk)
    assert position >= len(text.rstrip()) - 1
    # HotpotQA sentences are far shorter than a chunk: chunks end at a sentence end or a paragraph end
    ends = sum(1 for c in chunks if c.rstrip()[-1] in ".!?\"')")
    assert ends >= len(chunks) - 1
    # consecutive chunks overlap by whole sentences of at most the overlap
    _, overlap = (counter.budget, counter.budget // 8)
    shared = 0
    for a, b in zip(chunks, chunks[1:]):
        sentences = split_sentences(b)
        head = next((s for s in sentences[:1] if s in a), None)
        if head:
            shared += 1
            assert counter.length(head) <= overlap
    assert shared > 0


def test_token_chunk_size_and_overlap_are_honoured(counter):
    text = real_hotpotqa_text()
    chunks = chunk_text(text, chunk_size=64, overlap=0, unit="tokens", counter=counter)
    assert all(counter.length(c) <= 64 for c in chunks)
    assert " ".join(words(" ".join(chunks))) == " ".join(words(text))  # no overlap: a partition of the words


def test_cut_splits_at_token_offsets(counter):
    blob = "x" * 3000 + " tail"  # no sentence, no space to split at for 3000 characters
    pieces = counter.cut(blob, 50)
    assert all(counter.length(p) <= 50 for p in pieces)
    assert "".join(pieces).replace(" ", "") == blob.replace(" ", "")
    chunks = chunk_text(blob, chunk_size=50, overlap=5, unit="tokens", counter=counter)
    assert all(counter.length(c) <= 50 for c in chunks) and "tail" in chunks[-1]


def tiered_file(tmp_path, chunks):
    path = tmp_path / "tiered.jsonl"
    row = {"id": "r1", "query": "q?", "chunks": chunks, "labels": [1] + [0] * (len(chunks) - 1)}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    return path


def test_long_premade_chunks_are_split_by_default_or_kept_and_counted(tmp_path, base_model, counter):
    from lore_rag.retrieval.chunking import ChunkingStats

    long_text = real_hotpotqa_text()[:2500]
    n_long = counter.length(long_text)
    assert n_long > counter.budget
    path = tiered_file(tmp_path, ["A short chunk.", long_text])
    stats = ChunkingStats()
    _, split = read_chunks(path, counter=counter, stats=stats, show_progress=False)
    assert stats.long_split == 1 and stats.parts == len(split) - 1 >= 2
    assert [c.metadata.get("part") for c in split] == [None, *range(stats.parts)]
    assert all(c.metadata["chunk_index"] == 1 for c in split[1:])
    report = counter.report(split)
    assert report.truncated == 0 and report.tokens_lost == 0 and report.longest <= counter.budget

    _, kept = read_chunks(path, counter=counter, long_chunks="keep", show_progress=False)
    assert [c.text for c in kept] == ["A short chunk.", long_text]
    report = counter.report(kept)
    assert report.truncated == 1 and report.longest == n_long
    # the tokens lost are those past the model's window, as the model itself would cut them
    assert report.tokens_lost == true_tokens(base_model, long_text) - base_model.max_seq_length
    assert f"{path}:1" == report.longest_where
    assert "1 of 2 chunk(s) are longer than the model reads" in report.describe()


def test_a_chunk_past_the_character_limit_is_refused_before_embedding(tmp_path, counter):
    path = tiered_file(tmp_path, ["fine.", "word " * 30_000])
    with pytest.raises(DataError) as caught:
        read_chunks(path, counter=counter, show_progress=False)
    message = str(caught.value)
    assert f"{path}:1" in message and "chunks[1]" in message and "150,000 characters" in message
    assert "--max-chunk-chars" in message
    _, chunks = read_chunks(path, counter=counter, max_chunk_chars=200_000, show_progress=False)
    assert len(chunks) > 2  # allowed, then split into model-sized parts
