"""One thin client over the ``openai`` package for any OpenAI-compatible chat endpoint.

OpenAI itself, vLLM, Ollama, LM Studio and the llama.cpp server all speak ``/v1/chat/completions``; this module
adds what lore-rag's batch jobs need on top of the ``openai`` client: endpoint resolution from arguments or the
standard variables, retries with exponential backoff that are counted, a clear error when an endpoint is down,
slow or answers junk, JSON output checked against a schema with re-asking, and a concurrency limit.

The API key is handed to the ``openai`` client and nowhere else: it is never logged, put in an error message,
shown by ``repr`` or written to a file.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlparse

from lore_rag.concurrency import bounded_map
from lore_rag.errors import LoreError
from lore_rag.llm.json_replies import check_schema, extract_json

__all__ = [
    "DEFAULT_OPENAI_MODEL",
    "JSON_MODES",
    "LLMClient",
    "LLMError",
    "LLMOutputError",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")
X = TypeVar("X")
Y = TypeVar("Y")

#: Model used against api.openai.com when neither ``model`` nor ``LORE_RAG_LLM_MODEL`` names one.
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
OPENAI_URL = "https://api.openai.com/v1"
#: Sent to endpoints that need no key (a local server); the ``openai`` package refuses an empty key.
NO_KEY = "no-key-required"

#: How :meth:`LLMClient.chat_json` asks for JSON. ``auto`` tries them in this order and steps down when an
#: endpoint rejects one (HTTP 400/422): ``json_schema`` (OpenAI, vLLM, Ollama), ``llama_cpp`` (llama-cpp-python's
#: ``{"type": "json_object", "schema": ...}``), ``json_object`` (any JSON), ``none`` (plain text, parsed).
JSON_MODES = ("auto", "json_schema", "llama_cpp", "json_object", "none")
_SCHEMA_CHAIN = ("json_schema", "llama_cpp", "json_object", "none")
_PLAIN_CHAIN = ("json_object", "none")

_REASK = (
    "Your previous reply could not be used: {reason}. Reply again with only one JSON object{schema_hint}, "
    "no explanation and no code fence."
)


class LLMError(LoreError):
    """An LLM endpoint that cannot be reached, answers too slowly, refuses the request or answers junk.

    Attributes:
        attempts: How many HTTP requests were made for the call that failed.
        status: The HTTP status of the last answer, when there was one.
    """

    def __init__(self, message: str, *, attempts: int = 0, status: int | None = None) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.status = status


class LLMOutputError(LLMError, ValueError):
    """The model answered, but not with something usable (no JSON object, wrong shape, rejected by a validator).

    Attributes:
        reason: Why the last reply was rejected.
        text: The last reply (the model's text, never a credential).
    """

    def __init__(self, message: str, *, reason: str = "", text: str = "", attempts: int = 0) -> None:
        super().__init__(message, attempts=attempts)
        self.reason = reason
        self.text = text


class _Transient(Exception):
    """A failed attempt worth retrying; ``message`` says what happened."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class _Resend(Exception):
    """The request was adapted to what the endpoint asked for and should be sent again at once."""


class _FormatRejected(Exception):
    """The endpoint refused the ``response_format`` (or another optional parameter) with HTTP 400/422."""


def _is_loopback(url: str) -> bool:
    host = (urlparse(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def _connect_message(url: str, exc: BaseException) -> str:
    cause = _excerpt(str(exc.__cause__ or exc), 120)
    return (
        f"cannot connect to LLM endpoint {url} ({cause}): is the server running? Check --base-url / "
        "OPENAI_BASE_URL, or unset both to use the bundled local model"
    )


def _excerpt(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class LLMClient:
    """Chat with an OpenAI-compatible endpoint: retries, timeouts, JSON output, bounded concurrency.

    Args:
        base_url: The endpoint, e.g. ``http://127.0.0.1:8000/v1``; ``None`` means ``$OPENAI_BASE_URL``, else
            api.openai.com.
        model: Model name; ``None`` means ``$LORE_RAG_LLM_MODEL``, else ``gpt-4o-mini`` on api.openai.com, else
            the first model the endpoint lists at ``/v1/models``.
        api_key: API key; ``None`` means ``$OPENAI_API_KEY``. Endpoints other than api.openai.com may need none.
        timeout: Seconds to wait for each request (connect, and each read) before it counts as failed.
        max_retries: Retries after a failed request (connection error, timeout, HTTP 408/409/429/5xx, a reply
            that is not a chat completion); ``0`` makes exactly one request. Other HTTP errors fail at once.
        temperature: Default sampling temperature.
        max_tokens: Default limit on generated tokens.
        concurrency: Most requests in flight at once from this client (all threads), and :meth:`map`'s default
            worker count.
        backoff: First wait between retries in seconds; doubled each retry (with jitter), capped at ``max_backoff``.
        max_backoff: Longest wait between two retries (also caps a server's ``Retry-After``).
        json_mode: How :meth:`chat_json` asks for JSON, one of :data:`JSON_MODES`.

    Raises:
        LLMError: for api.openai.com without an API key, or a bad argument.
    """

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 2,
        temperature: float = 0.0,
        max_tokens: int = 256,
        concurrency: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        json_mode: str = "auto",
    ) -> None:
        import openai

        if timeout <= 0:
            raise LLMError(f"timeout must be > 0 seconds, got {timeout}")
        if max_retries < 0:
            raise LLMError(f"max_retries must be >= 0, got {max_retries}")
        if concurrency < 1:
            raise LLMError(f"concurrency must be >= 1, got {concurrency}")
        if json_mode not in JSON_MODES:
            raise LLMError(f"json_mode must be one of {', '.join(JSON_MODES)}, got {json_mode!r}")
        url = (base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL).rstrip("/")
        if not urlparse(url).scheme or not urlparse(url).hostname:
            raise LLMError(f"base URL {url!r} is not a URL: give one like http://127.0.0.1:8000/v1")
        self.base_url: str = url
        self.is_openai = urlparse(url).hostname == "api.openai.com"
        key = api_key or os.environ.get("OPENAI_API_KEY") or None
        if key is None and self.is_openai:
            raise LLMError(
                f"{url} needs an API key: set OPENAI_API_KEY (or pass --api-key), or set OPENAI_BASE_URL to "
                "another OpenAI-compatible server, or configure neither to use the bundled local model"
            )
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.temperature = float(temperature)
        self.max_tokens = int(max_tokens)
        self.concurrency = int(concurrency)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.json_mode = json_mode
        #: Counts, across threads: requests, retries, reasks, json_failures, errors, format_fallbacks,
        #: prompt_tokens, completion_tokens, failed_items.
        self.stats: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._model_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.concurrency)
        default_model = DEFAULT_OPENAI_MODEL if self.is_openai else None
        self._model = model or os.environ.get("LORE_RAG_LLM_MODEL") or default_model
        self._json_chain_start: dict[bool, int] = {True: 0, False: 0}
        self._token_param = "max_tokens"
        http_client = openai.DefaultHttpxClient(trust_env=False) if _is_loopback(url) else None
        # Retries are ours (counted, with our backoff), so the openai client makes exactly one attempt.
        self._client = openai.OpenAI(
            base_url=url, api_key=key or NO_KEY, timeout=self.timeout, max_retries=0, http_client=http_client
        )

    @classmethod
    def from_env(cls, **overrides: Any) -> LLMClient:
        """Make a client for ``$OPENAI_BASE_URL`` / ``$OPENAI_API_KEY`` / ``$LORE_RAG_LLM_MODEL``; ``overrides`` win.

        Args:
            **overrides: Any argument of :class:`LLMClient`; ``None`` values are ignored.
        """
        values: dict[str, Any] = {
            "base_url": os.environ.get("OPENAI_BASE_URL") or None,
            "api_key": os.environ.get("OPENAI_API_KEY") or None,
            "model": os.environ.get("LORE_RAG_LLM_MODEL") or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def __repr__(self) -> str:
        return f"LLMClient(base_url={self.base_url!r}, model={self._model!r})"

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    # ------------------------------------------------------------------ model
    @property
    def model(self) -> str:
        """The model name sent with each request (asked of ``/v1/models`` once when none was given).

        Raises:
            LLMError: when no model was given and the endpoint lists none.
        """
        if self._model is None:
            with self._model_lock:
                if self._model is None:
                    self._model = self._discover_model()
        return self._model

    @property
    def configured_model(self) -> str | None:
        """The model name given (or from the environment, or found already), without asking the endpoint.

        ``None`` while no name was given and :attr:`model` has not been read yet (it asks ``/v1/models`` once).
        """
        return self._model

    def list_models(self) -> list[str]:
        """Return the model ids the endpoint lists at ``/v1/models``.

        Raises:
            LLMError: when the endpoint cannot be reached or does not answer a model list.
        """
        return self._retrying(self._models_attempt)

    def _models_attempt(self) -> list[str]:
        import openai

        url = f"{self.base_url}/models"
        with self._slots:
            self._count("requests")
            try:
                page = self._client.models.list()
            except openai.APITimeoutError:
                raise _Transient(f"LLM endpoint {url} did not answer within {self.timeout:g} s") from None
            except openai.APIConnectionError as exc:
                raise _Transient(_connect_message(self.base_url, exc)) from None
            except openai.APIStatusError as exc:
                status, detail = int(exc.status_code), _excerpt(exc.message)
                if status in (408, 409, 429) or status >= 500:
                    raise _Transient(f"LLM endpoint {url} answered HTTP {status}: {detail}", status) from None
                raise LLMError(
                    f"LLM endpoint {url} answered HTTP {status}: {detail}; name the model with --model or "
                    "LORE_RAG_LLM_MODEL",
                    attempts=1,
                    status=status,
                ) from None
            except ValueError:
                raise _Transient(f"LLM endpoint {url} did not answer a model list") from None
        try:
            return [str(m.id) for m in page.data]
        except (AttributeError, TypeError):
            raise _Transient(f"LLM endpoint {url} did not answer a model list") from None

    def _discover_model(self) -> str:
        models = self.list_models()
        if not models:
            raise LLMError(f"{self.base_url} lists no model: pass --model or set LORE_RAG_LLM_MODEL")
        logger.info("using model %s, the first listed by %s", models[0], self.base_url)
        return models[0]

    # ------------------------------------------------------------------ plain chat
    def chat(
        self,
        messages: list[dict[str, str]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        stop: list[str] | str | None = None,
    ) -> str:
        """One chat completion; returns the reply text.

        Args:
            messages: ``[{"role": "system"|"user"|"assistant", "content": "..."}, ...]``.
            temperature: Overrides the client's temperature.
            max_tokens: Overrides the client's ``max_tokens``.
            stop: Stop sequence(s).

        Raises:
            LLMError: when every attempt failed (the message says why, and how many attempts were made).
        """
        return self._complete(messages, temperature=temperature, max_tokens=max_tokens, stop=stop)

    def _complete(
        self,
        messages: list[dict[str, str]],
        *,
        temperature: float | None,
        max_tokens: int | None,
        stop: list[str] | str | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> str:
        if not messages:
            raise LLMError("chat needs at least one message")
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature if temperature is None else temperature,
            self._token_param: self.max_tokens if max_tokens is None else max_tokens,
        }
        if stop:
            kwargs["stop"] = stop
        if response_format is not None:
            kwargs["response_format"] = response_format
        return self._retrying(lambda: self._attempt(kwargs))

    def _retrying(self, call: Callable[[], T]) -> T:
        """Run ``call`` with up to ``max_retries`` retries of ``_Transient`` failures, with backoff."""
        attempts = self.max_retries + 1
        last: _Transient | None = None
        attempt = 0
        resent = False
        while True:
            try:
                return call()
            except _Resend as exc:
                if resent:
                    message = f"LLM endpoint {self.base_url} refused the request: {exc}"
                    raise LLMError(message, attempts=attempt + 1) from None
                resent = True  # the request was adapted to the endpoint: send it again, not counted as a retry
                continue
            except _Transient as exc:
                last = exc
            attempt += 1
            if attempt >= attempts:
                break
            self._count("retries")
            delay = self._delay(attempt, last)
            logger.info("LLM request failed (%s); retry %d of %d in %.2f s", last, attempt, self.max_retries, delay)
            time.sleep(delay)
        self._count("errors")
        retries = f"{self.max_retries} retr{'ies' if self.max_retries != 1 else 'y'}"
        raise LLMError(f"{last} [{attempts} attempt(s), {retries}]", attempts=attempts, status=last.status)

    def _delay(self, attempt: int, last: _Transient | None) -> float:
        if last is not None and last.retry_after is not None:
            return min(self.max_backoff, max(0.0, last.retry_after))
        base = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        return base * (0.75 + 0.5 * random.random())

    def _attempt(self, kwargs: dict[str, Any]) -> str:
        """One HTTP request; returns the text, or raises _Transient, _FormatRejected or LLMError."""
        import openai

        url = self.base_url
        with self._slots:
            self._count("requests")
            try:
                raw = self._client.chat.completions.with_raw_response.create(**kwargs)
            except openai.APITimeoutError:
                raise _Transient(f"LLM endpoint {url} did not answer within {self.timeout:g} s") from None
            except openai.APIConnectionError as exc:
                raise _Transient(_connect_message(url, exc)) from None
            except openai.APIStatusError as exc:
                self._status_error(exc, kwargs)
        status = raw.status_code
        content_type = raw.headers.get("content-type", "?")
        try:
            completion = raw.parse()
            choice = completion.choices[0]
            content = choice.message.content
        except (AttributeError, IndexError, KeyError, TypeError, ValueError):
            raise _Transient(
                f"LLM endpoint {url} answered HTTP {status} ({content_type}) with something that is not a chat "
                f"completion: {_excerpt(raw.text, 160)!r}",
                status=status,
            ) from None
        if content is not None and not isinstance(content, str):
            raise _Transient(f"LLM endpoint {url} answered a non-text message content", status=status)
        usage = getattr(completion, "usage", None)
        if usage is not None:
            self._count("prompt_tokens", int(getattr(usage, "prompt_tokens", 0) or 0))
            self._count("completion_tokens", int(getattr(usage, "completion_tokens", 0) or 0))
        return content or ""

    def _status_error(self, exc: Any, kwargs: dict[str, Any]) -> NoReturn:
        status = int(exc.status_code)
        detail = _excerpt(getattr(exc, "message", "") or "", 200)
        url = self.base_url
        if "response_format" in kwargs and status >= 500 and "response_format" in detail:
            # llama-cpp-python answers a request it cannot validate with HTTP 500 naming the field
            raise _FormatRejected(f"HTTP {status}: {detail}") from None
        if status in (408, 409, 429) or status >= 500:
            retry_after = None
            header = exc.response.headers.get("retry-after") if exc.response is not None else None
            if header:
                try:
                    retry_after = float(header)
                except ValueError:
                    retry_after = None
            raise _Transient(f"LLM endpoint {url} answered HTTP {status}: {detail}", status, retry_after) from None
        if status in (400, 422):
            if self._token_param == "max_tokens" and "max_completion_tokens" in detail:
                self._token_param = "max_completion_tokens"
                kwargs["max_completion_tokens"] = kwargs.pop("max_tokens")
                raise _Resend(f"HTTP {status}: {detail}") from None
            if "response_format" in kwargs:
                raise _FormatRejected(f"HTTP {status}: {detail}") from None
        if status == 401:
            raise LLMError(
                f"LLM endpoint {url} refused the API key (HTTP 401): set OPENAI_API_KEY (or --api-key) to a valid "
                "key for this endpoint",
                attempts=1,
                status=status,
            ) from None
        if status == 404:
            raise LLMError(
                f"LLM endpoint {url} answered HTTP 404 for model {kwargs.get('model')!r}: {detail}. Check the "
                "model name (--model / LORE_RAG_LLM_MODEL) and that the base URL ends in /v1",
                attempts=1,
                status=status,
            ) from None
        raise LLMError(f"LLM endpoint {url} answered HTTP {status}: {detail}", attempts=1, status=status) from None

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.stats[key] += n

    # ------------------------------------------------------------------ JSON output
    def chat_json(
        self,
        messages: list[dict[str, str]],
        *,
        schema: dict[str, Any] | None = None,
        validate: Callable[[dict[str, Any]], T] | None = None,
        max_attempts: int = 3,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> T | dict[str, Any]:
        """Ask for one JSON object; check it against ``schema`` and ``validate``; re-ask on junk.

        The endpoint is asked for JSON output (constrained to ``schema`` where it supports that, see
        :data:`JSON_MODES`); the reply is parsed leniently (code fences and text around one object are
        tolerated), checked against ``schema`` (a JSON-schema subset: type, properties, required, items, enum,
        min/max length and items, additionalProperties false), then passed to ``validate``, which returns the
        value to give back or raises ``ValueError`` to reject it. A rejected reply is shown to the model with
        the reason and asked again, up to ``max_attempts`` replies in all.

        Args:
            messages: The chat so far; its last message should ask for JSON.
            schema: JSON schema the object must satisfy.
            validate: Turns the object into the result, raising ``ValueError`` to reject it.
            max_attempts: Most replies to ask for (each counted in ``stats["reasks"]`` after the first).
            temperature: Overrides the client's temperature.
            max_tokens: Overrides the client's ``max_tokens``.

        Returns:
            What ``validate`` returned, else the parsed object.

        Raises:
            LLMOutputError: when no reply was usable (counted in ``stats["json_failures"]``); a caller that
                skips such items catches it.
            LLMError: when the endpoint failed (see :meth:`chat`).
        """
        if max_attempts < 1:
            raise LLMError(f"max_attempts must be >= 1, got {max_attempts}")
        convo = list(messages)
        reason = ""
        text = ""
        hint = f" that satisfies this JSON schema: {json.dumps(schema, separators=(',', ':'))}" if schema else ""
        for attempt in range(max_attempts):
            if attempt:
                self._count("reasks")
                logger.debug("re-asking for JSON (attempt %d of %d): %s", attempt + 1, max_attempts, reason)
                convo = [
                    *messages,
                    {"role": "assistant", "content": text[:4000]},
                    {"role": "user", "content": _REASK.format(reason=reason, schema_hint=hint)},
                ]
            text = self._complete_json(convo, schema, temperature=temperature, max_tokens=max_tokens)
            try:
                obj = extract_json(text)
                if schema is not None:
                    check_schema(obj, schema)
                return validate(obj) if validate is not None else obj
            except ValueError as exc:
                reason = str(exc) or type(exc).__name__
        self._count("json_failures")
        raise LLMOutputError(
            f"{self.base_url} model {self._model!r} gave no usable JSON in {max_attempts} "
            f"repl{'ies' if max_attempts != 1 else 'y'}: {reason}; last reply: {_excerpt(text, 160)!r}",
            reason=reason,
            text=text,
            attempts=max_attempts,
        )

    def _complete_json(
        self,
        messages: list[dict[str, str]],
        schema: dict[str, Any] | None,
        *,
        temperature: float | None,
        max_tokens: int | None,
    ) -> str:
        with_schema = schema is not None
        chain: tuple[str, ...] = _SCHEMA_CHAIN if with_schema else _PLAIN_CHAIN
        if self.json_mode != "auto":
            mode = self.json_mode if self.json_mode in chain else "json_object"
            chain = (mode,)
            start = 0
        else:
            start = self._json_chain_start[with_schema]
        for index in range(start, len(chain)):
            mode = chain[index]
            try:
                text = self._complete(
                    messages,
                    temperature=temperature,
                    max_tokens=max_tokens,
                    response_format=_response_format(mode, schema),
                )
            except _FormatRejected as exc:
                if index + 1 >= len(chain):
                    message = f"LLM endpoint {self.base_url} refused the JSON request ({exc})"
                    raise LLMError(message, attempts=1) from None
                self._count("format_fallbacks")
                logger.info("%s refused response_format %s (%s); trying %s", self.base_url, mode, exc, chain[index + 1])
                continue
            if self.json_mode == "auto" and index != self._json_chain_start[with_schema]:
                self._json_chain_start[with_schema] = index  # remembered only once a request got through
            return text
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ batch
    def map(
        self,
        fn: Callable[[X], Y],
        items: Iterable[X],
        *,
        concurrency: int | None = None,
        show_progress: bool = True,
        desc: str = "",
    ) -> Iterator[tuple[X, Y | BaseException]]:
        """Run ``fn`` on each item in worker threads; yield ``(item, result or exception)`` as they complete.

        Items are read lazily (at most twice the worker count are pending), so ``items`` may be a long stream.
        ``fn`` usually calls :meth:`chat` or :meth:`chat_json`; an exception it raises is yielded, not raised,
        so a batch job can count and skip failures (``stats["failed_items"]``). Requests stay within the
        client's ``concurrency`` whatever the worker count. Stopping the iteration early cancels pending items.

        Args:
            fn: Function of one item.
            items: The items.
            concurrency: Worker threads; the client's ``concurrency`` when ``None``.
            show_progress: Show a tqdm bar.
            desc: The bar's label.
        """
        from tqdm.auto import tqdm

        total = len(items) if hasattr(items, "__len__") else None  # type: ignore[arg-type]
        bar = tqdm(total=total, desc=desc or "LLM", disable=not show_progress, unit="item")
        failed = 0
        try:
            for item, future in bounded_map(fn, items, workers=concurrency or self.concurrency, name="lore-rag-llm"):
                error = future.exception()
                bar.update(1)
                if error is not None:
                    failed += 1
                    self._count("failed_items")
                    bar.set_postfix(failed=failed)
                    yield item, error
                else:
                    yield item, future.result()
        finally:
            bar.close()


def _response_format(mode: str, schema: dict[str, Any] | None) -> dict[str, Any] | None:
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}
    if mode == "llama_cpp":
        return {"type": "json_object", "schema": schema} if schema is not None else {"type": "json_object"}
    if mode == "json_object":
        return {"type": "json_object"}
    return None
