"""One bounded, lazy thread pool for the work lore-rag spreads over threads (LLM calls, data building)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

__all__ = ["bounded_map"]

X = TypeVar("X")
Y = TypeVar("Y")


def bounded_map(
    fn: Callable[[X], Y],
    items: Iterable[X],
    *,
    workers: int,
    name: str = "lore-rag",
    stop: Callable[[], bool] | None = None,
) -> Iterator[tuple[X, Future[Y]]]:
    """Run ``fn`` on each item in ``workers`` threads; yield ``(item, finished future)`` as each completes.

    ``items`` is read lazily, in the calling thread, keeping at most ``2 * workers`` items submitted and not yet
    yielded, so it may be a long stream (or a generator with side effects of its own). When ``stop()`` turns true
    no more items are read; those in flight still finish and are yielded. Closing the iterator early (``break``,
    an exception in the caller) cancels what has not started and waits for what has.

    Args:
        fn: The work for one item; what it raises is kept in its future (``future.exception()``), not raised here.
        items: The items, read as workers free up.
        workers: Worker threads (at least 1).
        name: Prefix of the worker threads' names.
        stop: Asked before each item is read; true stops reading.
    """
    workers = max(1, int(workers))
    source = iter(items)
    pending: dict[Future[Y], X] = {}
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)

    def fill() -> None:
        while len(pending) < 2 * workers and not (stop is not None and stop()):
            try:
                item = next(source)
            except StopIteration:
                return
            pending[pool.submit(fn, item)] = item

    try:
        fill()
        while pending:
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for future in done:
                yield pending.pop(future), future
            fill()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
