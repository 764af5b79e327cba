"""The content hashes name things on disk, so their values are pinned (computed with the code before the dedup)."""

from __future__ import annotations

from pathlib import Path

from lore_rag._hashing import file_sha256, text_key
from lore_rag.models.doc_cache import text_key as cache_text_key
from lore_rag.retrieval.chunking import chunk_id


def test_chunk_ids_and_cache_keys_keep_their_values_so_existing_indexes_and_caches_stay_valid() -> None:
    assert chunk_id("Paris is the capital of France.") == "557be7eca214f1889cdb6dfa348eb7c9"
    assert cache_text_key("Zoë — naïve café") == "f54223604f2ebc024756c94b8bc8c01b"
    assert chunk_id("Zoë — naïve café") == text_key("Zoë — naïve café") == cache_text_key("Zoë — naïve café")
    assert chunk_id("a") != chunk_id("a ")


def test_file_sha256_reads_a_file_larger_than_one_block(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(bytes(range(256)) * 5000)  # 1.2 MiB: two blocks
    assert file_sha256(path) == "7d471e4af16db5a30ce10aebbc29f5178b2edbad6c7dc2e8ff8ee6e4848a726f"
    assert file_sha256(str(path)) == file_sha256(path)
    path.write_bytes(b"")
    assert file_sha256(path) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
