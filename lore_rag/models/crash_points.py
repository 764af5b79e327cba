"""Named points where a test can make the process die as ``kill -9`` would (``os._exit``, no cleanup).

``LORE_RAG_CRASH_AT=NAME`` kills the process the first time it reaches point ``NAME``; ``NAME#N`` the N-th time.
The resume tests use it to interrupt a save at each of its phases. Unset (always, outside tests) it costs a dict
lookup.
"""

from __future__ import annotations

import os

__all__ = ["ENV", "crash_point"]

ENV = "LORE_RAG_CRASH_AT"
_seen: dict[str, int] = {}


def crash_point(name: str) -> None:
    """Exit at once with status 137 when ``LORE_RAG_CRASH_AT`` names this point (and occurrence)."""
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    target, _, nth = wanted.partition("#")
    if target != name:
        return
    _seen[name] = _seen.get(name, 0) + 1
    if _seen[name] == int(nth or 1):
        os._exit(137)
