"""A Chroma collection of document vectors that knows which document encoder built it.

lore-rag always hands Chroma finished vectors (a collection given raw text would try to download Chroma's own
ONNX model, which fails offline). The collection uses cosine space and records the fingerprint of the document
encoder in its metadata: a LORE checkpoint keeps its base model as document encoder, so it can query an index
built with that base model long before it was trained, while a checkpoint trained from another base model is
refused with a clear message instead of returning nonsense.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lore_rag.errors import ConfigError, DataError, LoreError
from lore_rag.retrieval.chunking import chunk_id

if TYPE_CHECKING:
    from lore_rag.models.encoder import LoreEncoder

__all__ = [
    "DEFAULT_COLLECTION",
    "FINGERPRINT_KEY",
    "ChromaStore",
    "Hit",
    "StoreError",
    "default_store_path",
]

logger = logging.getLogger(__name__)

DEFAULT_COLLECTION = "lore"
#: Collection metadata keys written by lore-rag.
FINGERPRINT_KEY = "lore_rag_document_fingerprint"
MODEL_KEY = "lore_rag_document_model"
DIM_KEY = "lore_rag_dim"

#: Seconds to wait for another process's lock on an embedded store before giving up (``$LORE_RAG_STORE_LOCK_TIMEOUT``).
DEFAULT_LOCK_TIMEOUT = 10.0
_SQLITE_FILE = "chroma.sqlite3"
_SQLITE_MAGIC = b"SQLite format 3\x00"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]$")
_ID_LOOKUP_BATCH = 1000


class StoreError(LoreError):
    """A vector store that cannot be reached or opened, is empty, or holds vectors of another document encoder."""


@dataclass
class Hit:
    """One retrieved chunk.

    Attributes:
        id: Chunk id in the collection.
        text: Chunk text.
        score: Cosine similarity between the query and the chunk vectors (higher is closer).
        rank: 1-based rank in the result list.
        metadata: The chunk's metadata (empty when it has none).
    """

    id: str
    text: str
    score: float
    rank: int
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (for JSON output)."""
        return asdict(self)


def default_store_path() -> Path:
    """Folder of the embedded store when no path is given: ``$LORE_RAG_HOME/chroma`` (``~/.cache/lore-rag/chroma``)."""
    from lore_rag.defaults import home_dir

    return home_dir() / "chroma"


def _describe(encoder: LoreEncoder) -> str:
    """A readable name of the encoder's document model: the checkpoint's base model, else the model's path."""
    base = encoder.manifest.get("base_model") if encoder.manifest else None
    if base:
        return str(base)
    try:
        ref = str(encoder.document_model[0].auto_model.name_or_path)  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001 - not a transformer-backed model
        return encoder.name
    try:
        from lore_rag.models.encoder import DEFAULT_MODEL, bundled_model_path

        if Path(ref).resolve() == bundled_model_path().resolve():
            return DEFAULT_MODEL
    except LoreError:
        pass
    return ref or encoder.name


def _lock_timeout(value: float | None) -> float:
    if value is not None:
        return float(value)
    text = os.environ.get("LORE_RAG_STORE_LOCK_TIMEOUT", "")
    try:
        return float(text) if text else DEFAULT_LOCK_TIMEOUT
    except ValueError:
        raise ConfigError(f"LORE_RAG_STORE_LOCK_TIMEOUT must be a number of seconds, got {text!r}") from None


def _check_database(db: Path, lock_timeout: float) -> None:
    """Refuse a damaged or locked ``chroma.sqlite3`` before Chroma opens it (and would wait on a lock for ~17 min).

    Reads only: the probe takes SQLite's write lock inside a transaction it rolls back.

    Raises:
        StoreError: for an empty or non-SQLite file, a file without Chroma's tables, or a lock held by another
            process for longer than ``lock_timeout`` seconds.
    """
    import sqlite3

    if not db.exists():
        return
    where = db.parent
    damaged = f"{where}: the Chroma store is damaged"
    advice = "restore the folder from a backup, or move it away and index again into a new --store"
    try:
        size = db.stat().st_size
        with db.open("rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise StoreError(f"{db}: cannot read the Chroma store ({exc.strerror or exc})") from None
    if size == 0:
        raise StoreError(f"{damaged}: {_SQLITE_FILE} is empty (0 bytes); {advice}")
    if head != _SQLITE_MAGIC:
        raise StoreError(f"{damaged}: {_SQLITE_FILE} is not an SQLite database; {advice}")
    started = time.monotonic()
    try:
        conn = sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=max(lock_timeout, 0.0), isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"{db}: cannot open the Chroma store ({exc})") from None
    try:
        conn.execute("BEGIN IMMEDIATE")  # waits up to lock_timeout for another process's write lock
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        if "readonly" in str(exc):  # a read-only store: nothing can hold it for writing; let Chroma open it
            return
        if "locked" in str(exc) or "busy" in str(exc):
            raise StoreError(
                f"{where}: another process holds the store (its database stayed locked for "
                f"{time.monotonic() - started:.0f} s); wait for that process (an index run?) to finish or stop it, "
                "then run again"
            ) from None
        raise StoreError(f"{damaged}: {exc}; {advice}") from None
    except sqlite3.DatabaseError as exc:  # "file is not a database", "database disk image is malformed"
        raise StoreError(f"{damaged}: {exc}; {advice}") from None
    finally:
        conn.close()
    if "collections" not in tables:
        raise StoreError(f"{damaged}: {_SQLITE_FILE} holds no Chroma tables; {advice}")


def _check_texts(
    texts: list[str], metadatas: list[dict[str, Any]] | None, ids: list[str] | None, batch_size: int
) -> None:
    """Refuse arguments of :meth:`ChromaStore.add_texts` that do not fit together, and empty or non-string texts."""
    if isinstance(texts, str):
        raise TypeError("pass a list of strings, not a single string")
    if metadatas is not None and len(metadatas) != len(texts):
        raise ValueError(f"{len(metadatas)} metadatas for {len(texts)} texts")
    if ids is not None and len(ids) != len(texts):
        raise ValueError(f"{len(ids)} ids for {len(texts)} texts")
    if batch_size < 1:
        raise ConfigError(f"batch size must be at least 1, got {batch_size}")
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"text {i} is {'empty' if isinstance(text, str) else type(text).__name__}")


def _clean_metadata(metadata: dict[str, Any] | None, index: int) -> dict[str, Any] | None:
    if not metadata:
        return None
    clean: dict[str, Any] = {}
    for key, value in metadata.items():
        if value is None:
            continue
        if isinstance(value, (str, int, float, bool)):
            clean[str(key)] = value
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, (str, int, float, bool)) for v in value):
            clean[str(key)] = list(value)
        else:
            raise DataError(
                f"metadata of text {index}: Chroma stores strings, numbers, booleans and non-empty lists of them, "
                f"got {type(value).__name__}",
                field=str(key),
            )
    return clean or None


class ChromaStore:
    """One Chroma collection, embedded (``PersistentClient``) or on a server (``chroma run`` + ``HttpClient``).

    Args:
        path: Folder of the embedded store; default :func:`default_store_path`. Ignored with ``host``/``port``.
        collection: Collection name (3-512 characters from ``[a-zA-Z0-9._-]``).
        host: Chroma server host (client/server mode); ``port`` alone means ``localhost``.
        port: Chroma server port (default 8000 when only ``host`` is given).
        timeout: Seconds to wait for the server's heartbeat before giving up.
        must_exist: Refuse an embedded store folder that does not exist yet (instead of creating it).
        lock_timeout: Seconds to wait while another process holds the embedded store's database locked (default
            ``$LORE_RAG_STORE_LOCK_TIMEOUT`` or 10); then :class:`StoreError` instead of waiting without end.

    Raises:
        ConfigError: for an invalid collection name.
        StoreError: when the server cannot be reached or the folder cannot be opened.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        collection: str = DEFAULT_COLLECTION,
        host: str | None = None,
        port: int | None = None,
        timeout: float = 10.0,
        must_exist: bool = False,
        lock_timeout: float | None = None,
    ) -> None:
        if not _NAME.match(collection) or ".." in collection:
            raise ConfigError(
                f"collection name {collection!r}: use 3-512 characters from a-z A-Z 0-9 . _ -, "
                "starting and ending with a letter or digit"
            )
        self.collection_name = collection
        # Default settings on purpose: chromadb refuses a second client of the same folder with other settings
        # (e.g. a user's own chromadb.PersistentClient or langchain-chroma's), and its telemetry is a no-op.
        self.host: str | None = None
        self.port: int | None = None
        self.path: Path | None = None
        if host or port:
            self.host = host or "localhost"
            self.port = int(port or 8000)
            self.location = f"http://{self.host}:{self.port}"
            self._probe(timeout)
            import chromadb

            try:
                self.client = chromadb.HttpClient(host=self.host, port=self.port)
            except Exception as exc:  # noqa: BLE001 - httpx / chroma errors of many kinds
                raise StoreError(f"cannot connect to the Chroma server at {self.location}: {exc}") from exc
        else:
            self.path = Path(path).expanduser() if path is not None else default_store_path()
            self.location = str(self.path)
            if must_exist and not self.path.exists():
                raise StoreError(
                    f"{self.path}: no Chroma store there; build one with 'lore-rag index FILES --store {self.path}'"
                )
            if self.path.exists() and not self.path.is_dir():
                raise StoreError(f"{self.path}: exists and is not a folder; give a folder for the Chroma store")
            if must_exist and not (self.path / _SQLITE_FILE).exists():
                raise StoreError(
                    f"{self.path}: no Chroma store there (no {_SQLITE_FILE}); build one with "
                    f"'lore-rag index FILES --store {self.path}'"
                )
            _check_database(self.path / _SQLITE_FILE, _lock_timeout(lock_timeout))
            import chromadb  # after the checks: a bad store fails in a fraction of a second

            try:
                self.path.mkdir(parents=True, exist_ok=True)
                self.client = chromadb.PersistentClient(path=str(self.path))
            except Exception as exc:  # noqa: BLE001
                raise StoreError(f"cannot open the Chroma store at {self.path}: {exc}") from exc
        self._collection: Any = None
        self._space: str | None = None

    # ------------------------------------------------------------------ connection and collection
    @contextlib.contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Turn a Chroma or HTTP failure into a :class:`StoreError` that says where and what."""
        try:
            yield
        except LoreError:
            raise
        except Exception as exc:  # noqa: BLE001 - chromadb, httpx and OS errors alike
            hint = " (is the Chroma server still running?)" if self.host else ""
            raise StoreError(f"{self.describe()}: {action} failed{hint}: {exc}") from exc

    def _probe(self, timeout: float) -> None:
        url = f"{self.location}/api/v2/heartbeat"
        loopback = self.host in ("localhost", "::1") or str(self.host).startswith("127.")
        # a loopback server is reached directly, whatever HTTP(S)_PROXY says
        opener = (
            urllib.request.build_opener(urllib.request.ProxyHandler({})) if loopback else urllib.request.build_opener()
        )
        try:
            with opener.open(url, timeout=timeout) as response:
                json.loads(response.read() or b"{}")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise StoreError(
                f"cannot reach a Chroma server at {self.location} ({reason}); start one with "
                f"'chroma run --path DIR --host {self.host} --port {self.port}', or leave out --host/--port "
                "to use the embedded store"
            ) from None

    def _get(self, create: bool) -> Any:
        if self._collection is not None:
            return self._collection
        from chromadb.errors import NotFoundError

        try:
            if create:
                self._collection = self.client.get_or_create_collection(
                    self.collection_name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
                )
            else:
                self._collection = self.client.get_collection(self.collection_name, embedding_function=None)
        except NotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001
            raise StoreError(f"{self.location}: cannot open collection '{self.collection_name}': {exc}") from exc
        hnsw = (self._collection.configuration or {}).get("hnsw") or {}
        self._space = hnsw.get("space") or (self._collection.metadata or {}).get("hnsw:space") or "l2"
        return self._collection

    @property
    def collection(self) -> Any:
        """The underlying ``chromadb`` collection (created, in cosine space, when missing).

        Hand it to a host framework, e.g. ``ChromaVectorStore(chroma_collection=store.collection)``.
        """
        return self._get(create=True)

    def exists(self) -> bool:
        """True when the collection exists."""
        return self._get(create=False) is not None

    def _metadata(self) -> dict[str, Any]:
        col = self._get(create=False)
        if col is None:
            return {}
        with self._guard("reading the collection metadata"):
            fresh = self.client.get_collection(self.collection_name, embedding_function=None)
        return dict(fresh.metadata or {})

    @property
    def document_fingerprint(self) -> str | None:
        """Fingerprint of the document encoder that built the collection (``None`` when not recorded)."""
        value = self._metadata().get(FINGERPRINT_KEY)
        return str(value) if value else None

    @property
    def document_model(self) -> str | None:
        """Name of the document encoder that built the collection, as recorded."""
        value = self._metadata().get(MODEL_KEY)
        return str(value) if value else None

    def count(self) -> int:
        """Number of chunks in the collection (0 when it does not exist)."""
        col = self._get(create=False)
        if col is None:
            return 0
        with self._guard("counting"):
            return int(col.count())

    def describe(self) -> str:
        """Where the collection lives, e.g. ``collection 'lore' at /path``."""
        return f"collection '{self.collection_name}' at {self.location}"

    # ------------------------------------------------------------------ fingerprint guard
    def check_encoder(self, encoder: LoreEncoder, *, for_writing: bool = False) -> None:
        """Refuse an encoder whose document side is not the one that built the collection.

        A collection with no recorded fingerprint (made outside lore-rag) is accepted with a warning when its
        vectors have the encoder's dimension; adding to it records the encoder's fingerprint.

        Raises:
            StoreError: for another document encoder or another dimension.
        """
        meta = self._metadata()
        recorded = meta.get(FINGERPRINT_KEY)
        wanted = encoder.document_fingerprint
        if recorded and recorded != wanted:
            raise StoreError(
                f"{self.describe()} was built with document encoder {meta.get(MODEL_KEY, '?')} (fingerprint "
                f"{recorded}), but '{encoder.name}' embeds documents with {_describe(encoder)} (fingerprint "
                f"{wanted}). A LORE checkpoint can only query an index built with the base model it was "
                "trained from: use a checkpoint trained from that base model, or index the documents with this "
                "model into another collection (--collection NAME)."
            )
        dim = meta.get(DIM_KEY)
        if dim is not None and int(dim) != encoder.dim:
            raise StoreError(
                f"{self.describe()} holds {dim}-d vectors but '{encoder.name}' makes {encoder.dim}-d vectors"
            )
        if not recorded and self.count() > 0:
            with self._guard("reading a sample vector"):
                sample = self._get(create=False).get(limit=1, include=["embeddings"])
            embeddings = sample.get("embeddings")
            if embeddings is not None and len(embeddings) and len(embeddings[0]) != encoder.dim:
                raise StoreError(
                    f"{self.describe()} holds {len(embeddings[0])}-d vectors but '{encoder.name}' makes "
                    f"{encoder.dim}-d vectors"
                )
            logger.warning(
                "%s records no document encoder (built outside lore-rag?); cannot check that %s built it%s",
                self.describe(),
                _describe(encoder),
                ": recording it now" if for_writing else "",
            )

    def record_encoder(self, encoder: LoreEncoder) -> None:
        """Record ``encoder``'s document fingerprint in the collection (created if missing), after checking it.

        Call this when something other than :meth:`add_texts` (a LlamaIndex or LangChain vector store) will add
        vectors made by ``encoder`` to the collection.

        Raises:
            StoreError: when the collection was built by another document encoder.
        """
        self.check_encoder(encoder, for_writing=True)
        self._record(encoder)

    def _record(self, encoder: LoreEncoder) -> None:
        col = self._get(create=True)
        meta = self._metadata()
        if meta.get(FINGERPRINT_KEY) == encoder.document_fingerprint and meta.get(DIM_KEY) == encoder.dim:
            return
        meta.update(
            {FINGERPRINT_KEY: encoder.document_fingerprint, MODEL_KEY: _describe(encoder), DIM_KEY: encoder.dim}
        )
        meta.pop("hnsw:space", None)  # legacy key: Chroma refuses to change it
        with self._guard("recording the document encoder"):
            col.modify(metadata=meta)

    # ------------------------------------------------------------------ writing
    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        """The subset of ``ids`` already in the collection."""
        col = self._get(create=False)
        if col is None or not ids:
            return set()
        found: set[str] = set()
        for start in range(0, len(ids), _ID_LOOKUP_BATCH):
            part = list(ids[start : start + _ID_LOOKUP_BATCH])
            with self._guard("looking up ids"):
                found.update(col.get(ids=part, include=[])["ids"])
        return found

    def add_texts(
        self,
        texts: list[str],
        encoder: LoreEncoder,
        *,
        metadatas: list[dict[str, Any]] | None = None,
        ids: list[str] | None = None,
        batch_size: int = 256,
        show_progress: bool = True,
        embed: Callable[[list[str]], np.ndarray] | None = None,
    ) -> int:
        """Embed texts with the encoder's document side and add those not yet in the collection.

        Ids default to a hash of the text, so re-adding the same texts adds nothing. Ids already present are
        skipped before any embedding; texts are embedded longest first in batches of ``batch_size`` and each
        batch is written while the next one is embedded. Every finished batch is stored, so an interrupted
        run keeps its work and a re-run continues where it stopped.

        Args:
            texts: Chunk texts.
            encoder: Its ``embed_documents`` makes the vectors; its document fingerprint is recorded.
            metadatas: One metadata dict per text (strings, numbers, booleans, lists of them).
            ids: One id per text; default :func:`~lore_rag.retrieval.chunking.chunk_id` of the text.
            batch_size: Texts per embedding call and per write.
            show_progress: Show a progress bar.
            embed: Makes the vectors of a batch of texts instead of ``encoder.embed_documents``; it must give what
                the encoder's document side gives (e.g. a :class:`~lore_rag.models.doc_cache.DocEmbeddingCache` of
                its document model), since the collection records the encoder's fingerprint.

        Returns:
            How many texts were added.

        Raises:
            StoreError: when the collection was built by another document encoder.
            DataError: for a text that is not a non-empty string, or metadata Chroma cannot store.
            ValueError: when ``metadatas`` or ``ids`` do not match ``texts`` in length.
        """
        _check_texts(texts, metadatas, ids, batch_size)
        if not texts:
            return 0
        self.check_encoder(encoder, for_writing=True)
        keys = list(ids) if ids is not None else [chunk_id(t) for t in texts]
        todo = self._missing(keys)
        skipped = len(texts) - len(todo)
        if not todo:
            logger.info("all %d text(s) already in %s", len(texts), self.describe())
            return 0
        clean = [_clean_metadata(metadatas[i] if metadatas else None, i) for i in range(len(texts))]
        self._record(encoder)
        todo.sort(key=lambda i: len(texts[i]), reverse=True)  # like SentenceTransformer.encode: less padding
        embed = embed or (lambda batch: encoder.embed_documents(batch, show_progress=False))
        added = self._embed_and_write(texts, keys, clean, todo, embed, batch_size, show_progress)
        logger.info("added %d chunk(s) to %s (%d already there)", added, self.describe(), skipped)
        return added

    def _missing(self, keys: list[str]) -> list[int]:
        """Indices of the first occurrence of each key that is not yet in the collection."""
        first: dict[str, int] = {}
        for i, key in enumerate(keys):
            first.setdefault(str(key), i)
        present = self.existing_ids(list(first))
        return [i for key, i in first.items() if key not in present]

    def _embed_and_write(
        self,
        texts: list[str],
        keys: list[str],
        clean: list[dict[str, Any] | None],
        todo: list[int],
        embed: Callable[[list[str]], np.ndarray],
        batch_size: int,
        show_progress: bool,
    ) -> int:
        """Embed ``todo`` batch by batch; each batch is written in a background thread while the next is embedded.

        Returns:
            How many texts were written. On an error, the batch in flight is let land first, so the work is kept.
        """
        from tqdm.auto import tqdm

        col = self._get(create=True)
        added = 0
        pending: tuple[Future[None], int] | None = None
        bar = tqdm(total=len(todo), unit="chunk", desc="embedding + indexing", disable=not show_progress)

        def write(batch: list[int], vectors: np.ndarray) -> None:
            col.add(
                ids=[str(keys[i]) for i in batch],
                embeddings=vectors,
                documents=[texts[i] for i in batch],
                metadatas=[clean[i] for i in batch] if any(clean[i] for i in batch) else None,
            )

        def settle() -> None:
            nonlocal added, pending
            if pending is not None:
                future, size = pending
                pending = None
                try:
                    future.result()
                except Exception as exc:  # noqa: BLE001
                    hint = " (is the Chroma server still running?)" if self.host else ""
                    raise StoreError(
                        f"{self.describe()}: writing failed{hint} after {added} new chunk(s) were stored "
                        f"(re-run to continue): {exc}"
                    ) from exc
                added += size

        try:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="chroma-add") as pool:
                try:
                    for start in range(0, len(todo), batch_size):
                        batch = todo[start : start + batch_size]
                        vectors = embed([texts[i] for i in batch])
                        settle()
                        pending = (pool.submit(write, batch, vectors), len(batch))
                        bar.update(len(batch))
                    settle()
                except BaseException:
                    try:  # let the batch in flight land, so the work done is kept
                        settle()
                    except Exception:  # noqa: BLE001 - the first error is the one raised
                        pass
                    raise
        finally:
            bar.close()
        return added

    # ------------------------------------------------------------------ reading
    def query(self, vectors: np.ndarray, k: int = 10, *, where: dict[str, Any] | None = None) -> list[list[Hit]]:
        """Nearest chunks of each query vector.

        Args:
            vectors: Query vectors, shape ``[n, dim]`` (one 1-d vector is taken as one query).
            k: Hits per query.
            where: Chroma metadata filter, e.g. ``{"source": "a.txt"}``.

        Returns:
            One list of hits per query, best first, scored by cosine similarity.

        Raises:
            StoreError: when the collection does not exist or is empty, or for vectors of another dimension.
        """
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        array = np.asarray(vectors, dtype=np.float32)
        if array.ndim == 1:
            array = array[None, :]
        if array.ndim != 2:
            raise ValueError(f"expected query vectors of shape [n, dim], got {array.shape}")
        if len(array) == 0:
            return []
        col = self._get(create=False)
        if col is None:
            raise StoreError(f"{self.describe()} does not exist: build it first with 'lore-rag index FILES'")
        try:
            result = col.query(
                query_embeddings=array, n_results=k, where=where, include=["documents", "metadatas", "distances"]
            )
        except Exception as exc:  # noqa: BLE001 - chromadb, httpx and OS errors alike
            message = str(exc)
            if "dimension" in message:
                raise StoreError(f"{self.describe()}: {message}") from exc
            hint = " (is the Chroma server still running?)" if self.host else ""
            raise StoreError(f"{self.describe()}: query failed{hint}: {message}") from exc
        hits: list[list[Hit]] = []
        for ids, docs, metas, dists in zip(
            result["ids"], result["documents"], result["metadatas"], result["distances"], strict=True
        ):
            hits.append(
                [
                    Hit(id=i, text=d or "", score=self._score(float(dist)), rank=r + 1, metadata=dict(m or {}))
                    for r, (i, d, m, dist) in enumerate(zip(ids, docs, metas, dists, strict=True))
                ]
            )
        if not any(hits) and self.count() == 0:
            raise StoreError(f"{self.describe()} is empty: add documents first with 'lore-rag index FILES'")
        return hits

    def _score(self, distance: float) -> float:
        if self._space == "l2":  # squared L2 between unit vectors is 2 - 2 cos
            return 1.0 - distance / 2.0
        return 1.0 - distance  # cosine and ip: 1 - cos / 1 - dot

    def get(self, ids: Sequence[str]) -> list[Hit]:
        """The stored chunks with these ids (score 0, rank by position), missing ids left out."""
        col = self._get(create=False)
        if col is None or not ids:
            return []
        with self._guard("reading chunks"):
            result = col.get(ids=list(ids), include=["documents", "metadatas"])
        return [
            Hit(id=i, text=d or "", score=0.0, rank=r + 1, metadata=dict(m or {}))
            for r, (i, d, m) in enumerate(zip(result["ids"], result["documents"], result["metadatas"], strict=True))
        ]

    def stored_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """``{id: vector}`` for those of ``ids`` the collection holds (none when it does not exist), read in batches.

        Raises:
            StoreError: when the store cannot be read.
        """
        col = self._get(create=False)
        wanted = list(dict.fromkeys(str(i) for i in ids))
        found: dict[str, np.ndarray] = {}
        if col is None:
            return found
        for start in range(0, len(wanted), _ID_LOOKUP_BATCH):
            with self._guard("reading vectors"):
                result = col.get(ids=wanted[start : start + _ID_LOOKUP_BATCH], include=["embeddings"])
            for i, vector in zip(result["ids"], result["embeddings"], strict=True):
                found[i] = np.asarray(vector, dtype=np.float32)
        return found

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        """The stored vectors of these chunks, in the order of ``ids`` (for MMR and other re-ranking by vector).

        Raises:
            StoreError: when the collection does not exist or an id is not in it.
        """
        if self._get(create=False) is None:
            raise StoreError(f"{self.describe()} does not exist: build it first with 'lore-rag index FILES'")
        wanted = [str(i) for i in ids]
        if not wanted:
            return np.zeros((0, 0), dtype=np.float32)
        by_id = self.stored_vectors(wanted)
        missing = [i for i in wanted if i not in by_id]
        if missing:
            raise StoreError(f"{self.describe()}: no chunk with id {missing[0]!r}")
        return np.asarray([by_id[i] for i in wanted], dtype=np.float32)
