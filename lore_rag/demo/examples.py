"""Tiered example sets for the demo: loading them, their queries, and indexing their chunks."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lore_rag.data.schema import Example, Tier
from lore_rag.errors import ConfigError, DemoError

if TYPE_CHECKING:
    from lore_rag.models.encoder import LoreEncoder
    from lore_rag.retrieval import ChromaStore

__all__ = [
    "BUNDLED_KEY",
    "DATA_SUFFIXES",
    "ExampleSet",
    "ServerFiles",
    "example_query",
    "index_examples",
    "load_example_set",
    "woven_distractors",
]

#: Key of the bundled validation set among a session's example sets.
BUNDLED_KEY = "bundled"


def index_examples(
    store: ChromaStore, encoder: LoreEncoder, examples: Sequence[Example], *, show_progress: bool = True
) -> int:
    """Add every distinct chunk of ``examples`` to ``store`` (ids are text hashes: already-present chunks are skipped).

    Each chunk keeps ``chunk_of`` (the row id) and ``title`` (from the row's ``titles``) as metadata.

    Returns:
        How many chunks were added.
    """
    texts: list[str] = []
    metadatas: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row, example in enumerate(examples):
        titles = example.extra.get("titles") if isinstance(example.extra.get("titles"), list) else None
        for i, text in enumerate(example.chunks):
            if text in seen:
                continue
            seen.add(text)
            meta: dict[str, Any] = {"chunk_of": example.id or f"row{row + 1}", "chunk_index": i}
            if titles and i < len(titles) and isinstance(titles[i], str):
                meta["title"] = titles[i]
            texts.append(text)
            metadatas.append(meta)
    if not texts:
        return 0
    return store.add_texts(texts, encoder, metadatas=metadatas, show_progress=show_progress)


# ----------------------------------------------------------------------------------------------- example sets


@dataclass
class ExampleSet:
    """A loaded tiered data set.

    Attributes:
        key: Its key in the session (``"bundled"`` or the file path).
        name: Display name.
        path: The file it was read from.
        examples: Its questions.
    """

    key: str
    name: str
    path: Path
    examples: list[Example]

    def __len__(self) -> int:
        return len(self.examples)

    def example(self, index: int) -> Example:
        """Return the question at 0-based ``index``.

        Raises:
            DemoError: for an index outside the set.
        """
        if not 0 <= index < len(self.examples):
            raise DemoError(f"{self.name}: no example {index + 1} (the set has {len(self.examples)})")
        return self.examples[index]


def load_example_set(path: str | os.PathLike[str] | None = None, *, name: str | None = None) -> ExampleSet:
    """Read a tiered JSONL file (gzipped or not) as an :class:`ExampleSet`; ``None`` is the bundled validation set.

    Raises:
        DataError: for a missing or malformed file (naming its line and field).
    """
    from lore_rag.data.io import read_examples
    from lore_rag.defaults import bundled_validation_path

    if path is None:
        file = bundled_validation_path()
        return ExampleSet(BUNDLED_KEY, name or "bundled HotpotQA validation", file, read_examples(file))
    file = Path(path).expanduser()
    return ExampleSet(str(file), name or file.name, file, read_examples(file))


def example_query(example: Example, view: str = "rewritten") -> str:
    """Return the query of ``example`` for a view: ``"rewritten"`` (with distractors woven in) or ``"original"``.

    Raises:
        DemoError: for an unknown view, or ``"original"`` on a row without an original query.
    """
    try:
        query = example.query_for(view)
    except ConfigError as exc:
        raise DemoError(str(exc)) from None
    if not query:
        raise DemoError(f"example {example.id or ''} has no original question".replace("  ", " "))
    return query


def woven_distractors(example: Example) -> list[str]:
    """Titles (else the first words) of the distractor chunks the rewrite wove into the query."""
    titles = example.extra.get("titles") if isinstance(example.extra.get("titles"), list) else None
    indices: Iterable[int] = example.used_distractors or [
        i for i, t in enumerate(example.tiers) if t == Tier.DISTRACTOR
    ]
    out = []
    for i in indices:
        if titles and i < len(titles) and isinstance(titles[i], str):
            out.append(titles[i])
        else:
            out.append(" ".join(example.chunks[i].split()[:8]) + " …")
    return out


# ----------------------------------------------------------------------------------------------- server files

#: Names of the files a client may ask the app to read: tiered JSONL, gzipped or not.
DATA_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz")


class ServerFiles:
    """The files on the server a client of the app may name: data files under folders the operator chose.

    A client's path is resolved (``..`` and symbolic links followed) and accepted only when it is a regular
    file with a data suffix (:data:`DATA_SUFFIXES`) inside one of ``roots``. A relative path is looked up in each
    root in turn. Every refusal raises the same message whether or not the file exists, so a client learns
    nothing about the rest of the file system.

    Args:
        roots: The folders (e.g. ``--data-dir`` values, the bundled data, the upload folder).
    """

    def __init__(self, roots: Iterable[str | os.PathLike[str]]) -> None:
        self.roots: list[Path] = []
        for root in roots:
            resolved = Path(root).expanduser().resolve()
            if resolved not in self.roots:
                self.roots.append(resolved)

    def describe(self) -> str:
        """The folders, for the operator's log."""
        return ", ".join(map(str, self.roots)) or "(none)"

    def _refused(self) -> DemoError:
        return DemoError(
            "not a data file this app may read: the server only reads .jsonl/.json files (optionally .gz) under "
            "the folders it was started with (--data-dir); upload the file instead"
        )

    def resolve(self, text: str | os.PathLike[str]) -> Path:
        """The file a client named, resolved inside the allowed folders.

        Raises:
            DemoError: the same message for a path outside the folders, a missing file, a folder or another
                kind of file.
        """
        raw = str(text or "").strip()
        if not raw or "\x00" in raw:
            raise self._refused()
        given = Path(raw).expanduser()
        candidates = [given] if given.is_absolute() else [root / given for root in self.roots]
        for candidate in candidates:
            try:
                resolved = candidate.resolve()
            except (OSError, RuntimeError):  # a symlink loop, a name too long
                continue
            if not any(resolved == root or resolved.is_relative_to(root) for root in self.roots):
                continue
            if not resolved.name.lower().endswith(DATA_SUFFIXES):
                continue
            try:
                if resolved.is_file():
                    return resolved
            except OSError:
                continue
        raise self._refused()
