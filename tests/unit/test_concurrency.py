"""The one bounded lazy thread pool (used by LLMClient.map and the data builder)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from lore_rag.concurrency import bounded_map


def test_every_item_comes_back_once_with_its_result_or_its_exception() -> None:
    def work(n: int) -> int:
        if n == 3:
            raise ValueError("three")
        return n * n

    out = {item: future for item, future in bounded_map(work, range(8), workers=3)}
    assert sorted(out) == list(range(8))
    assert {n: f.result() for n, f in out.items() if n != 3} == {n: n * n for n in range(8) if n != 3}
    with pytest.raises(ValueError, match="three"):
        out[3].result()


def test_items_are_read_lazily_at_most_two_per_worker_ahead() -> None:
    read: list[int] = []
    gate = threading.Event()

    def source() -> Iterator[int]:
        for n in range(100):
            read.append(n)
            yield n

    def work(n: int) -> int:
        gate.wait(5)
        return n

    results = bounded_map(work, source(), workers=2)
    first = threading.Timer(0.2, gate.set)
    first.start()
    item, _ = next(results)
    assert len(read) <= 2 * 2 + 1  # four in flight, one read when the first finished
    results.close()
    first.cancel()
    assert item in range(4)
    assert len(read) < 100


def test_stop_ends_reading_but_lets_running_items_finish() -> None:
    seen: list[int] = []
    for _item, future in bounded_map(lambda n: n, range(50), workers=2, stop=lambda: len(seen) >= 3):
        seen.append(future.result())
    assert 3 <= len(seen) <= 3 + 2 * 2
    assert seen != list(range(50))


def test_closing_early_cancels_what_has_not_started() -> None:
    started: list[int] = []

    def slow(n: int) -> int:
        started.append(n)
        time.sleep(0.05)
        return n

    results = bounded_map(slow, range(40), workers=1)
    next(results)
    results.close()
    count = len(started)
    time.sleep(0.2)
    assert len(started) == count <= 3
    assert not [t for t in threading.enumerate() if t.name.startswith("lore-rag_")]
