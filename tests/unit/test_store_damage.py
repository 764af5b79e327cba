"""A damaged or locked embedded Chroma store is refused at once with a clear message, and left as it was."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path

import pytest

from lore_rag.retrieval import ChromaStore
from lore_rag.retrieval.store import StoreError


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"", "is empty (0 bytes)"), (b"PK\x03\x04 a zip file, not a database" * 10, "is not an SQLite database")],
)
@pytest.mark.parametrize("must_exist", [True, False])
def test_damaged_database_is_reported_not_rebuilt(tmp_path: Path, content: bytes, words: str, must_exist: bool) -> None:
    (tmp_path / "chroma.sqlite3").write_bytes(content)
    before = _digest(tmp_path)
    with pytest.raises(StoreError, match="damaged") as refused:
        ChromaStore(tmp_path, must_exist=must_exist)
    assert words in str(refused.value) and str(tmp_path) in str(refused.value)
    assert _digest(tmp_path) == before


def test_sqlite_file_without_chroma_tables_is_damaged(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "chroma.sqlite3") as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    with pytest.raises(StoreError, match="no Chroma tables"):
        ChromaStore(tmp_path, must_exist=True)


def test_locked_store_gives_up_after_the_timeout(tmp_path: Path) -> None:
    assert ChromaStore(tmp_path / "s").collection is not None  # a real store, collection created
    holder = sqlite3.connect(tmp_path / "s" / "chroma.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match="another process holds the store"):
            ChromaStore(tmp_path / "s", must_exist=True, lock_timeout=0.5)
        assert time.monotonic() - started < 5
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert ChromaStore(tmp_path / "s", must_exist=True, lock_timeout=0.5).exists()  # free again: opens


def test_folder_without_a_store_is_not_created_for_reading(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no Chroma store there"):
        ChromaStore(tmp_path, must_exist=True)
    assert list(tmp_path.iterdir()) == []
