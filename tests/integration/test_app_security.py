"""The real ``lore-rag app`` (a subprocess) attacked with a raw HTTP client, with and without ``--auth``.

The "Path on the server" handler is private in the UI but any client can POST to ``/gradio_api/queue/join``: it
must read only data files under the ``--data-dir`` folders (and uploads), answer the same for a file outside that
exists and one that does not, and refuse uploads above ``--max-upload-mb``. With ``--auth`` every API route
refuses a client without the login. The app binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
USER, PASSWORD = "lore", "s3cret-pass"
ROW = {
    "id": "q1",
    "query": "Cats purr, so who directed Sinister?",
    "original_query": "Who directed Sinister?",
    "chunks": ["Sinister is a 2012 film directed by Scott Derrickson.", "Cats purr when content.", "Paris."],
    "labels": [1, -1, 0],
}
SECRET = {**ROW, "id": "secret", "query": "What is the secret?", "original_query": "What is the secret?"}
MAX_UPLOAD_MB = 0.01  # about 10 kB


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class App:
    url: str
    pid: int
    data_dir: Path
    outside: Path
    log: Path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from _checkpoints import make_checkpoints

    root = tmp_path_factory.mktemp("app_security")
    data_dir, outside = root / "data", root / "outside"
    data_dir.mkdir()
    outside.mkdir()
    (data_dir / "allowed.jsonl").write_text(json.dumps(ROW) + "\n", encoding="utf-8")
    (data_dir / "notes.txt").write_text("not a data file\n", encoding="utf-8")
    (outside / "secret.jsonl").write_text(json.dumps(SECRET) + "\n", encoding="utf-8")
    (outside / "malformed.jsonl").write_text("{not json\n", encoding="utf-8")
    (data_dir / "link.jsonl").symlink_to(outside / "secret.jsonl")
    checkpoints = make_checkpoints(root / "models")
    return {"root": root, "data": data_dir, "outside": outside, "checkpoint": checkpoints["lore"]}


def _start(files: dict[str, Path], name: str, *, auth: bool) -> Iterator[App]:
    port = _free_port()
    home = files["root"] / f"home-{name}"
    log = files["root"] / f"{name}.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")])),
        "LORE_RAG_HOME": str(home),
        "NO_PROXY": "127.0.0.1,localhost",
        "HF_HUB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    env.pop("GRADIO_TEMP_DIR", None)
    env.pop("LORE_RAG_APP_AUTH", None)
    if auth:
        env["LORE_RAG_APP_AUTH"] = f"{USER}:{PASSWORD}"
    argv = [
        sys.executable, "-m", "lore_rag", "app", "--checkpoint", str(files["checkpoint"]),
        "--data", str(files["data"] / "allowed.jsonl"), "--store", str(home / "store"), "--no-llm",
        "--no-progress", "--port", str(port), "--data-dir", str(files["data"]), "--max-upload-mb", str(MAX_UPLOAD_MB),
    ]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, f"the app exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
            try:
                if httpx.get(url + "/", timeout=2).status_code in (200, 401, 302, 307):
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"the app did not answer in 300 s:\n{log.read_text()[-3000:]}"
            time.sleep(1)
        yield App(url, proc.pid, files["data"], files["outside"], log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def open_app(files: dict[str, Path]) -> Iterator[App]:
    yield from _start(files, "open", auth=False)


@pytest.fixture(scope="module")
def auth_app(files: dict[str, Path]) -> Iterator[App]:
    yield from _start(files, "auth", auth=True)


def _load_set_endpoint(client: httpx.Client, url: str) -> tuple[int, int]:
    """``(fn_index, trigger_id)`` of the "Load data set" button's handler, read from the app's /config."""
    config = client.get(url + "/config").raise_for_status().json()
    button = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "lore-load")
    for index, dep in enumerate(config["dependencies"]):
        if any(target[0] == button for target in dep.get("targets", [])):
            return int(dep.get("id", index)), button
    raise AssertionError("no handler on the load button")


def _load(client: httpx.Client, url: str, path: str | None, upload: dict | None = None) -> str:
    """POST the load handler straight to the queue, as a script would, and return the status HTML it answers."""
    fn_index, trigger = _load_set_endpoint(client, url)
    session = uuid.uuid4().hex[:10]
    joined = client.post(
        url + "/gradio_api/queue/join",
        json={"data": [path, upload], "fn_index": fn_index, "trigger_id": trigger, "session_hash": session},
    )
    assert joined.status_code == 200, joined.text
    with client.stream("GET", url + "/gradio_api/queue/data", params={"session_hash": session}, timeout=120) as reply:
        for line in reply.iter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            if message.get("msg") == "process_completed":
                output = message.get("output") or {}
                if not message.get("success"):  # Gradio itself refused the request
                    return f"refused by Gradio: {output.get('error')}"
                return str(output["data"][0])
    raise AssertionError("the queue closed without a result")


REFUSED = "not a data file this app may read"


def test_a_file_under_data_dir_loads(open_app: App) -> None:
    with httpx.Client(timeout=60) as client:
        status = _load(client, open_app.url, str(open_app.data_dir / "allowed.jsonl"))
        assert "Loaded 1 question" in status, status
        relative = _load(client, open_app.url, "allowed.jsonl")
        assert "Loaded 1 question" in relative, relative


@pytest.mark.parametrize(
    "name",
    ["outside-existing", "outside-missing", "outside-malformed", "etc-passwd", "dot-dot", "symlink-out", "wrong-suffix",
     "folder", "proc"],
)  # fmt: skip
def test_every_other_server_path_gets_the_same_refusal(open_app: App, name: str) -> None:
    paths = {
        "outside-existing": str(open_app.outside / "secret.jsonl"),
        "outside-missing": str(open_app.outside / "no-such-file.jsonl"),
        "outside-malformed": str(open_app.outside / "malformed.jsonl"),
        "etc-passwd": "/etc/passwd",
        "dot-dot": "../outside/secret.jsonl",
        "symlink-out": "link.jsonl",
        "wrong-suffix": str(open_app.data_dir / "notes.txt"),
        "folder": str(open_app.data_dir),
        "proc": "/proc/self/environ",
    }
    with httpx.Client(timeout=60) as client:
        status = _load(client, open_app.url, paths[name])
        reference = _load(client, open_app.url, str(open_app.outside / "no-such-file.jsonl"))
    assert REFUSED in status, status
    assert status == reference  # the same words whether the file exists, is malformed or is missing
    assert "secret" not in status.lower().replace(REFUSED, "")


def test_uploads_are_size_capped_and_small_ones_load(open_app: App) -> None:
    small = (json.dumps(ROW) + "\n").encode()
    big = small * (int(MAX_UPLOAD_MB * 1024 * 1024) // len(small) + 10)
    with httpx.Client(timeout=60) as client:
        refused = client.post(open_app.url + "/gradio_api/upload", files={"files": ("big.jsonl", big)})
        assert refused.status_code == 413, refused.text
        accepted = client.post(open_app.url + "/gradio_api/upload", files={"files": ("small.jsonl", small)})
        assert accepted.status_code == 200, accepted.text
        uploaded = accepted.json()[0]
        status = _load(client, open_app.url, None, {"path": uploaded, "meta": {"_type": "gradio.FileData"}})
        assert "Loaded 1 question" in status, status
        # a forged "upload" that points elsewhere is refused like a typed path
        forged = _load(
            client,
            open_app.url,
            None,
            {"path": str(open_app.outside / "secret.jsonl"), "meta": {"_type": "gradio.FileData"}},
        )
        assert "Loaded" not in forged and SECRET["query"] not in forged, forged


def test_the_app_listens_on_loopback_only(open_app: App) -> None:
    import psutil

    listening = [
        c.laddr for c in psutil.Process(open_app.pid).net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN
    ]
    assert listening and all(addr.ip in ("127.0.0.1", "::1") for addr in listening), listening


ROUTES = [
    ("GET", "/config"),
    ("GET", "/gradio_api/info"),
    ("POST", "/gradio_api/queue/join"),
    ("GET", "/gradio_api/queue/data?session_hash=x"),
    ("POST", "/gradio_api/call/search"),
    ("POST", "/gradio_api/upload"),
    ("GET", "/gradio_api/file=/etc/passwd"),
    ("POST", "/gradio_api/run/search"),
]


def test_auth_refuses_every_api_route_without_the_login(auth_app: App) -> None:
    with httpx.Client(timeout=30) as client:
        for method, route in ROUTES:
            body = {"data": ["x", 5, False], "fn_index": 0, "session_hash": "x"} if method == "POST" else None
            reply = client.request(method, auth_app.url + route, json=body)
            assert reply.status_code in (401, 403), f"{method} {route}: HTTP {reply.status_code} {reply.text[:200]}"
        wrong = client.post(auth_app.url + "/login", data={"username": USER, "password": "wrong"})
        assert wrong.status_code in (400, 401), wrong.status_code
        assert client.get(auth_app.url + "/config").status_code in (401, 403)


def test_auth_login_then_server_paths_are_still_restricted(auth_app: App) -> None:
    with httpx.Client(timeout=60) as client:
        login = client.post(auth_app.url + "/login", data={"username": USER, "password": PASSWORD})
        assert login.status_code == 200, login.text
        assert REFUSED in _load(client, auth_app.url, str(auth_app.outside / "secret.jsonl"))
        assert "Loaded 1 question" in _load(client, auth_app.url, str(auth_app.data_dir / "allowed.jsonl"))
    assert PASSWORD not in auth_app.log.read_text()  # the login never reaches the app's log
