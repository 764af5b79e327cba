"""Converters from public QA formats and a team's own tables to *raw* rows.

A raw row is what ``shared/data/raw`` holds and what ``lore-rag build-data`` reads: ``{"id", "query",
"chunks", "labels": [1 gold | 0 other], "answer", "titles", "dataset"}``, i.e. an
:class:`~lore_rag.data.schema.Example` whose tiers are only POSITIVE and NEGATIVE.

=============  ======================================================  ==========================
format         input                                                    function
=============  ======================================================  ==========================
``hotpotqa``   HotpotQA JSON list (distractor / train)                   :func:`iter_hotpotqa`
``2wiki``      2WikiMultiHopQA JSON list                                 :func:`iter_twowiki`
``musique``    MuSiQue JSONL                                             :func:`iter_musique`
``msmarco``    MS MARCO QnA v1.1 JSONL / v2.1 JSON                       :func:`iter_msmarco`
``beir``       BEIR folder + first-stage candidates                      :func:`iter_beir`
``table``      a team's CSV / TSV / JSONL with a column mapping           :func:`iter_table`
=============  ======================================================  ==========================
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from lore_rag.data.converters.beir import iter_beir, read_qrels, read_run
from lore_rag.data.converters.hotpotqa import iter_hotpotqa
from lore_rag.data.converters.msmarco import iter_msmarco
from lore_rag.data.converters.musique import iter_musique
from lore_rag.data.converters.settings import CONVERT_FORMATS, ConvertConfig
from lore_rag.data.converters.table import TableMapping, iter_table
from lore_rag.data.converters.twowiki import iter_twowiki
from lore_rag.data.io import write_examples
from lore_rag.data.schema import Example
from lore_rag.errors import ConfigError, DataError

__all__ = [
    "CONVERT_FORMATS",
    "FORMATS",
    "ConvertConfig",
    "TableMapping",
    "convert",
    "convert_to_file",
    "iter_beir",
    "iter_hotpotqa",
    "iter_msmarco",
    "iter_musique",
    "iter_table",
    "iter_twowiki",
    "read_qrels",
    "read_run",
]

logger = logging.getLogger(__name__)

#: Format name to converter; each takes the input path first and keyword options after it.
FORMATS: dict[str, Callable[..., Iterator[Example]]] = {
    "hotpotqa": iter_hotpotqa,
    "2wiki": iter_twowiki,
    "musique": iter_musique,
    "msmarco": iter_msmarco,
    "beir": iter_beir,
    "table": iter_table,
}

_ALIASES = {
    "2wikimultihopqa": "2wiki",
    "twowiki": "2wiki",
    "hotpot": "hotpotqa",
    "ms_marco": "msmarco",
    "ms-marco": "msmarco",
    "csv": "table",
    "jsonl": "table",
}


def _resolve(fmt: str) -> str:
    name = _ALIASES.get(fmt.lower(), fmt.lower())
    if name not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    return name


def convert(fmt: str, path: str | os.PathLike[str], **options: Any) -> Iterator[Example]:
    """Raw examples from ``path`` in format ``fmt`` (see the table in this module's docstring).

    Args:
        fmt: A key of :data:`FORMATS` (or an alias such as ``2wikimultihopqa``, ``csv``).
        path: The input file (a folder for ``beir``).
        **options: Passed to the converter (e.g. ``dataset=``, ``with_aliases=``, ``mapping=``).

    Raises:
        ConfigError: for an unknown format or option; DataError for bad input.
    """
    func = FORMATS[_resolve(fmt)]
    try:
        yield from func(path, **options)
    except TypeError as exc:
        if "unexpected keyword argument" in str(exc):
            raise ConfigError(f"format {fmt!r}: {exc}") from None
        raise


def convert_to_file(
    fmt: str,
    inputs: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    limit: int | None = None,
    **options: Any,
) -> dict[str, int]:
    """Convert one or more inputs into one raw JSONL file (gzipped when it ends in ``.gz``), atomically.

    Returns:
        Counts: ``rows``, ``no_positive`` (rows without any gold chunk; kept, readers skip them), ``chunks``.
    """
    paths = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    counts = {"rows": 0, "no_positive": 0, "chunks": 0}

    def stream() -> Iterator[Example]:
        for path in paths:
            for example in convert(fmt, path, **options):
                if limit is not None and counts["rows"] >= limit:
                    return
                counts["rows"] += 1
                counts["chunks"] += len(example.chunks)
                counts["no_positive"] += example.n_positive == 0
                yield example

    rows = stream()
    first = next(rows, None)
    if first is None:  # nothing to write: say so instead of leaving an empty file
        raise DataError(f"no {fmt} rows found in {', '.join(str(p) for p in paths)}; nothing written")
    write_examples(itertools.chain([first], rows), Path(output))
    return counts
