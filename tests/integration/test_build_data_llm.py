"""build-data against real HTTP endpoints: a small OpenAI-protocol server in this test (well-behaved, or returning
junk and leaking answers) and the bundled local llama.cpp server; kill -9 in the middle of a run, then resume."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lore_rag.data.builder import RELATIONS, BuildConfig, build_data, sidecar_paths
from lore_rag.data.schema import Example, Tier

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
RAW = REPO / ".." / "shared" / "data" / "raw"

Reply = Callable[[dict, int], str]


def raw_sample(tmp_path: Path, n: int, name: str = "hotpotqa_dev_distractor.jsonl") -> Path:
    path = RAW / name
    if not path.is_file():
        pytest.skip(f"{path} is not there (shared data sits beside the repository)")
    lines = path.read_text(encoding="utf-8").splitlines()[:n]
    out = tmp_path / "raw.jsonl"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def parse_prompt(body: dict) -> dict:
    """Question, answer, candidate ids/texts and relation from the builder's rewrite prompt (first user turn)."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    question = re.search(r"^Question: (.*)$", user, re.M).group(1)
    answer = re.search(r"^Answer \(never write it\): (.*)$", user, re.M)
    candidates = [(m.group(1), m.group(2)) for m in re.finditer(r"^\[(\d+)\] (.*)$", user, re.M)]
    relation = re.search(r"^Relation: (\w+)", user, re.M).group(1)
    return {
        "question": question,
        "answer": answer.group(1) if answer else None,
        "candidates": candidates,
        "relation": relation if relation in RELATIONS else "Causal",
    }


def good_reply(body: dict, n: int) -> str:
    p = parse_prompt(body)
    index, text = p["candidates"][0]
    avoid = set(re.findall(r"\w+", ((p["answer"] or "") + " " + p["question"]).lower()))
    words = [w for w in re.findall(r"[A-Za-z]+", text.split(": ", 1)[-1]) if len(w) > 3 and w.lower() not in avoid][:5]
    lead = " ".join(words) or "Something else"
    return json.dumps(
        {"relation": p["relation"], "distractor_ids": [index], "query": f"Setting aside {lead}, {p['question']}"}
    )


class FakeOpenAI:
    """A real HTTP server on 127.0.0.1 speaking /v1/models and /v1/chat/completions; ``reply`` makes the text."""

    def __init__(self, reply: Reply, delay: float = 0.0) -> None:
        self.reply = reply
        self.delay = delay
        self.requests = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, payload: dict, status: int = 200) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                self._send({"object": "list", "data": [{"id": "fake-model", "object": "model", "owned_by": "test"}]})

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.requests += 1
                    n = outer.requests
                if outer.delay:
                    time.sleep(outer.delay)
                content = outer.reply(body, n)
                self._send(
                    {
                        "id": f"chatcmpl-{n}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", "fake-model"),
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                    }
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def client_for(base_url: str, **kw):
    from lore_rag.llm import LLMClient

    return LLMClient(base_url=base_url, model="fake-model", max_retries=0, timeout=20, **kw)


def rows_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def assert_valid_lore_rows(rows: list[dict], raw: Path) -> None:
    sources = {json.loads(line)["id"]: json.loads(line) for line in raw.read_text(encoding="utf-8").splitlines()}
    assert len({r["id"] for r in rows}) == len(rows), "duplicate ids"
    for row in rows:
        e = Example.from_dict(row)
        src = sources[e.id]
        assert e.chunks == src["chunks"] and e.original_query == src["query"]
        if e.relation is None:
            assert e.query == src["query"] and Tier.DISTRACTOR not in e.tiers
            continue
        assert e.relation in RELATIONS and e.used_distractors and e.query != src["query"]
        for i, (tier, label) in enumerate(zip(e.tiers, src["labels"], strict=False)):
            if label == 1:
                assert tier == Tier.POSITIVE
            else:
                assert tier == (Tier.DISTRACTOR if i in e.used_distractors else Tier.NEGATIVE)


# ------------------------------------------------------------------------------------------------ junk endpoint
JUNK = [
    lambda p: "I'm sorry, I can't help with that.",  # no JSON at all
    lambda p: '```json\n{"relation": "Causal", "query": "' + p["question"] + ' again"}\n```',  # no ids
    lambda p: json.dumps(
        {"relation": "Causal", "distractor_ids": [p["positive"]], "query": "Because of it, " + p["question"]}
    ),
    lambda p: json.dumps({"relation": "Causal", "distractor_ids": ["99"], "query": "Because of it, " + p["question"]}),
    lambda p: json.dumps(
        {"relation": "Sarcastic", "distractor_ids": [p["candidates"][0][0]], "query": "Oh sure, " + p["question"]}
    ),
    lambda p: json.dumps({"relation": "Causal", "distractor_ids": [p["candidates"][0][0]], "query": p["question"]}),
    lambda p: json.dumps(
        {
            "relation": "Causal",
            "distractor_ids": [p["candidates"][0][0]],
            "query": f"The answer is {p['answer']}; {p['question']}",
        }
    ),
    lambda p: '{"relation": "Causal", "distractor_ids": [',  # truncated JSON
    lambda p: json.dumps(["Causal", p["candidates"][0][0], p["question"]]),  # JSON, but not an object
    lambda p: json.dumps({"relation": "Causal", "distractor_ids": [p["candidates"][0][0]], "query": "Nice weather."}),
]


def test_malformed_and_leaking_endpoint_every_bad_row_rejected_and_counted(tmp_path):
    raw = raw_sample(tmp_path, 12)
    out = tmp_path / "lore.jsonl"
    first_positive = {}
    for line in raw.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        first_positive[row["query"]] = str(row["labels"].index(1))

    def junk_reply(body: dict, n: int) -> str:
        p = parse_prompt(body)
        p["positive"] = first_positive[p["question"]]  # the endpoint names a gold chunk, which it was not offered
        if p["answer"] is None or p["answer"].lower() in ("yes", "no"):
            p["answer"] = "the answer"
        return JUNK[(n - 1) % len(JUNK)](p)

    with FakeOpenAI(junk_reply) as server:
        client = client_for(server.base_url, concurrency=3)
        report = build_data(
            BuildConfig(inputs=[str(raw)], output=str(out), concurrency=3, max_attempts=3, show_progress=False),
            client=client,
        )
        requests = server.requests
    assert report.written == 0 and not out.read_text()
    assert sum(report.skipped.values()) == 12
    assert report.replies == 36 == sum(report.rejections.values()) == requests
    for reason in (
        "malformed",
        "no_ids",
        "positive_id",
        "unknown_id",
        "bad_relation",
        "unchanged",
        "answer_leak",
        "info_lost",
    ):
        assert report.rejections[reason] > 0, reason
    skipped = rows_of(sidecar_paths(out)[0])
    assert len(skipped) == 12 and all(len(s["rejections"]) == 3 for s in skipped)
    assert Counter(s["reason"] for s in skipped) == report.skipped
    text = "\n".join(report.lines())
    assert "36 rejected" in text and "skipped questions:" in text


def test_reasked_rows_are_written_and_counted(tmp_path):
    raw = raw_sample(tmp_path, 8)
    out = tmp_path / "lore.jsonl"

    def leak_then_good(body: dict, n: int) -> str:
        if len(body["messages"]) == 2:  # first ask: leak the answer
            p = parse_prompt(body)
            return json.dumps(
                {
                    "relation": p["relation"],
                    "distractor_ids": [p["candidates"][0][0]],
                    "query": f"{p['answer'] or 'x'} is it: {p['question']}",
                }
            )
        assert "rejected" in body["messages"][-1]["content"]  # the re-ask says why
        return good_reply(body, n)

    with FakeOpenAI(leak_then_good) as server:
        report = build_data(
            BuildConfig(inputs=[str(raw)], output=str(out), concurrency=2, show_progress=False),
            client=client_for(server.base_url, concurrency=2),
        )
    rows = rows_of(out)
    assert report.written == len(rows) == 8 and report.reasked == 8
    assert report.replies == 16 and sum(report.rejections.values()) == 8
    assert report.rejections["answer_leak"] >= 4  # most of the first answers leak a real answer
    assert_valid_lore_rows(rows, raw)


# ------------------------------------------------------------------------------------------------ kill -9 + resume
def run_cli(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    """Start ``lore-rag ARGS``; its output goes to files (a full pipe would stall it)."""
    with log.with_suffix(".out").open("w") as out, log.with_suffix(".err").open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lore_rag", "-q", *args], cwd=REPO, env=env, stdout=out, stderr=err, text=True
        )
    proc.log = log  # type: ignore[attr-defined]
    return proc


def finish(proc: subprocess.Popen, timeout: float) -> tuple[str, str]:
    proc.wait(timeout=timeout)
    log: Path = proc.log  # type: ignore[attr-defined]
    return log.with_suffix(".out").read_text(), log.with_suffix(".err").read_text()


def cli_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "LORE_RAG_LLM_MODEL")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def wait_for_lines(path: Path, n: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= n:
            return
        if proc.poll() is not None:
            pytest.fail(f"build-data ended before it was killed: {finish(proc, 5)[1][-2000:]}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail(f"{path} did not reach {n} lines in {timeout} s")


def test_kill_9_mid_run_then_resume_without_duplicates_or_losses(tmp_path):
    raw = raw_sample(tmp_path, 40)
    out = tmp_path / "lore.jsonl"
    args = [
        "build-data",
        str(raw),
        "-o",
        str(out),
        "--concurrency",
        "4",
        "--no-progress",
        "--fraction",
        "0.9",
        "--max-retries",
        "0",
    ]
    with FakeOpenAI(good_reply, delay=0.05) as server:
        env = cli_env(OPENAI_BASE_URL=server.base_url)
        proc = run_cli(args, env, tmp_path / "first")
        wait_for_lines(out, 10, proc, timeout=120)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        first = rows_of_tolerant(out)
        assert 10 <= len(first) < 40
        resumed = run_cli(args, env, tmp_path / "second")
        stdout, stderr = finish(resumed, 300)
        assert resumed.returncode == 0, stderr[-2000:]
    rows = rows_of(out)
    skips = rows_of(sidecar_paths(out)[0]) if sidecar_paths(out)[0].exists() else []
    settled = [r["id"] for r in rows] + [s["id"] for s in skips]
    assert len(settled) == 40 and len(set(settled)) == 40  # every question once: no duplicate, none lost
    assert {r["id"] for r in first} <= {r["id"] for r in rows}
    assert f"{len(first)} were already done" in stdout
    assert "re-asked:" in stdout and "relations:" in stdout
    assert len(rows) >= 36
    assert_valid_lore_rows(rows, raw)


def rows_of_tolerant(path: Path) -> list[dict]:
    rows = []
    for line in path.read_bytes().split(b"\n"):
        try:
            rows.append(json.loads(line))
        except ValueError:
            pass  # the line the kill cut short
    return rows


# ------------------------------------------------------------------------------------------------ real local LLM
def servers_started_by(pid: int) -> set[int]:
    """Local llama.cpp servers started by process ``pid`` (their watchdog names that parent pid in argv)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"llama_cpp.server" in b" ".join(argv) and str(pid).encode() in argv:
            found.add(int(entry))
    return found


def assert_gone(pids: set[int], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
        time.sleep(0.2)
    assert not any(Path(f"/proc/{p}").exists() for p in pids), "a llama.cpp server outlived build-data"


@pytest.mark.slow
def test_local_llm_server_build_survives_kill_and_resumes(tmp_path):
    pytest.importorskip("llama_cpp")
    raw = raw_sample(tmp_path, 5, "2wikimultihopqa_dev.jsonl")
    out = tmp_path / "lore.jsonl"
    skipped = sidecar_paths(out)[0]
    args = ["build-data", str(raw), "-o", str(out), "--no-progress", "--max-attempts", "2", "--candidates", "3"]
    env = cli_env(LORE_RAG_LLM_THREADS="2")
    proc = run_cli(args, env, tmp_path / "first")
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:  # kill -9 once the first question is settled (written or skipped)
        lines = sum(p.read_bytes().count(b"\n") for p in (out, skipped) if p.exists())
        if lines >= 1 or proc.poll() is not None:
            break
        time.sleep(0.2)
    assert proc.poll() is None, finish(proc, 5)[1][-2000:]
    server = servers_started_by(proc.pid)
    assert server, "build-data did not start the local llama.cpp server"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert_gone(server)  # the server's watchdog stops it when its parent dies, even by kill -9
    first_done = {r["id"] for r in rows_of_tolerant(out)} | {r["id"] for r in rows_of_tolerant(skipped)}
    assert first_done
    resumed = run_cli(args, env, tmp_path / "second")
    stdout, stderr = finish(resumed, 1800)
    assert resumed.returncode == 0, stderr[-2000:]
    assert_gone(servers_started_by(resumed.pid))
    rows = rows_of(out)
    skips = rows_of(skipped)
    settled = [r["id"] for r in rows] + [s["id"] for s in skips]
    assert sorted(settled) == sorted(json.loads(line)["id"] for line in raw.read_text().splitlines())
    assert_valid_lore_rows(rows, raw)
    assert "re-asked:" in stdout and "replies examined" in stdout
    if skips:
        assert "skipped questions:" in stdout or "skipped before" in stdout
    assert any(r.get("relation") for r in rows), "the local model produced no accepted rewrite:\n" + stdout
