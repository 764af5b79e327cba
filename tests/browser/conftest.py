"""The real app (``python -m app``) in a subprocess, and headless Debian Chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Validation questions the browser app loads (their chunks are its whole index).
N_QUESTIONS = 12


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    """Wait until ``url`` answers 200; fail with the app's log when it dies or takes too long."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the app exited with code {process.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            with opener.open(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1.0)
    pytest.fail(f"the app did not answer {url} in {timeout:.0f} s:\n{log.read_text(errors='replace')[-4000:]}")


def app_env(home: Path) -> dict[str, str]:
    """The environment of a fresh user: no LLM endpoint configured (so the bundled model is served), offline."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "LORE_RAG_LLM_MODEL")}
    env.update(
        LORE_RAG_HOME=str(home),
        PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        GRADIO_ANALYTICS_ENABLED="False",
        ANONYMIZED_TELEMETRY="False",
    )
    return env


@pytest.fixture(scope="session")
def app_data(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """The first questions of the shared HotpotQA validation set, as a tiered JSONL file."""
    from lore_rag.data.io import read_examples, write_examples

    path = tmp_path_factory.mktemp("app_data") / "validation_small.jsonl"
    write_examples(read_examples(shared_data / "lore" / "validation_hotpotqa.jsonl")[:N_QUESTIONS], path)
    return path


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory, lore_checkpoint: Path, app_data: Path) -> Iterator[str]:
    """``python -m app`` with a tiny real checkpoint, a fresh store and the bundled LLM on a local llama.cpp server."""
    root = tmp_path_factory.mktemp("app_run")
    log = root / "app.log"
    try:
        with _served_app(root, ["--checkpoint", str(lore_checkpoint), "--data", str(app_data)], timeout=600) as url:
            yield url
    finally:
        text = log.read_text(errors="replace")
        # the app stops its llama.cpp server when it stops
        assert "llama.cpp server ready" in text, text[-3000:]
        assert "stopped" in text.split("llama.cpp server ready", 1)[1], text[-3000:]


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium (Playwright cannot download its own browsers here).

    Module-scoped: Playwright's sync API keeps an asyncio loop running in this thread while it is open, which
    would break later tests that call ``asyncio.run`` (LlamaIndex, LangChain async paths).
    """
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="module")
def tradeoff_app(tradeoff_output: dict, app_data: Path) -> Iterator[str]:
    """``python -m app`` serving a ``lore-rag tradeoff`` checkpoint (``tradeoff_output`` of the requesting module),
    no ``--tradeoff`` and no LLM: it must find the curve itself."""
    checkpoint = tradeoff_output["out"] / "checkpoint"
    args = ["--checkpoint", str(checkpoint), "--data", str(app_data), "--no-llm"]
    with _served_app(tradeoff_output["root"], args, timeout=300) as url:
        yield url


@contextlib.contextmanager
def _served_app(root: Path, args: list[str], *, timeout: float) -> Iterator[str]:
    """``python -m app ARGS`` with its store and home under ``root`` and its output in ``root/app.log``; yields its URL
    once it answers, and stops it afterwards."""
    port, log = free_port(), root / "app.log"
    command = [
        sys.executable, "-m", "app", *args,
        "--store", str(root / "store"), "--index-data", "--port", str(port), "--no-progress",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=REPO, env=app_env(root / "home"), stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url + "/", process, log, timeout=timeout)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
