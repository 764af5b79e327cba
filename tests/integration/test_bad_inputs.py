"""Bad input through the real CLI: every case is ``python -m lore_rag ...`` in a subprocess.

Each case must exit with its code (2 for a flag or config argparse refuses, 1 for a bad file or a failure at run
time), print exactly one ``lore-rag...: error: ...`` line that names the flag, file, line or field, no Python
traceback, and leave every input as it was: the whole work folder is hashed before and after the cases.

The cases run in parallel once per module (a fixture); one test per case then checks its result. Errors are
meant to come before any model loads, so the whole table takes seconds of CPU per case at most.
"""

# ruff: noqa: E501 - the case table reads best one case per line
from __future__ import annotations

import hashlib
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
WORKERS = max(2, min(6, (os.cpu_count() or 2) * 2))
CASE_TIMEOUT = 120  # seconds: far above what any case needs (the slowest waits 1 s for a locked store)
LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR) ")
ERROR_LINE = re.compile(r"^lore-rag( [\w-]+)?: error: ")


@dataclass
class Case:
    """One bad input: arguments (``{W}`` is the work folder, ``{PORT401}`` etc. are filled in), expectations."""

    id: str
    argv: list[str]
    code: int
    needles: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


def case(id: str, argv: str | list[str], code: int, *needles: str, **env: str) -> Case:
    return Case(id, argv.split() if isinstance(argv, str) else argv, code, needles, env)


RAW_ROW = {
    "id": "q1",
    "query": "Who directed Sinister?",
    "chunks": ["Sinister is a 2012 film directed by Scott Derrickson.", "Paris is in France.", "Cats purr."],
    "labels": [1, 0, 0],
    "answer": "Scott Derrickson",
}
TIERED_ROW = {
    **RAW_ROW,
    "query": "Cats purr, so who directed Sinister?",
    "original_query": "Who directed Sinister?",
    "labels": [1, 0, -1],
    "relation": "Causal",
    "used_distractors": [2],
}
GOOD_CSV = "question,passage,label\nWho directed Sinister?,Sinister is a 2012 film by Scott Derrickson.,1\n"
GOOD_CSV += "Who directed Sinister?,Paris is in France.,0\n"

T, C, B, E, L, A, IX, Q = "train", "convert", "build-data", "eval", "llm", "app", "index", "query"
CV = f"{C} table {{W}}/good.csv -o {{W}}/new/out.jsonl"  # a valid convert call to add one bad flag to
BD = f"{B} {{W}}/raw.jsonl -o {{W}}/new/built.jsonl --offline"  # likewise for build-data
KEY = "sk-lore-test-0123456789-secret"  # must never be printed, logged or written
ASK = f"{L} ask hello --llm-base-url http://127.0.0.1:{{PORTDEAD}}/v1 --llm-model m"

# fmt: off
CASES = [
    # ---------------------------------------------------------------- generic layer: commands, --config
    case("no-such-command", "frobnicate", 2, "frobnicate"),
    case("unknown-flag", f"{E} --frobnicate", 2, "--frobnicate"),
    case("config-is-a-folder", f"{T} --config {{W}}/cfgdir", 2, "cfgdir", "folder"),
    case("config-missing", f"{T} --config {{W}}/nope.yaml", 2, "nope.yaml", "no such"),
    case("config-wrong-type-list", f"{T} --config {{W}}/list_for_int.yaml", 2, "batch-size", "list"),
    case("config-nan", f"{T} --config {{W}}/nan.yaml", 2, "'lr'", "finite"),
    case("config-inf", f"{T} --config {{W}}/inf.json", 2, "'tau'", "finite"),
    case("config-bool-for-int", f"{T} --config {{W}}/bool_for_int.yaml", 2, "'epochs'"),
    case("config-text-for-float", f"{T} --config {{W}}/text_for_float.yaml", 2, "'lr'", "fast"),
    case("config-unknown-key", f"{T} --config {{W}}/unknown.yaml", 2, "'frobnicate'"),
    case("config-not-a-mapping", f"{T} --config {{W}}/list.yaml", 2, "list.yaml", "mapping"),
    case("config-invalid-yaml", f"{T} --config {{W}}/broken.yaml", 2, "broken.yaml:", "YAML"),
    case("config-invalid-json", f"{T} --config {{W}}/broken.json", 2, "broken.json:", "JSON"),
    case("config-latin1", f"{T} --config {{W}}/latin1.yaml", 2, "latin1.yaml", "UTF-8"),
    case("config-mapping-for-text", f"{E} --config {{W}}/mapping_for_text.yaml", 2, "'device'"),
    case("config-bad-choice", f"{E} --config {{W}}/bad_mode.yaml", 2, "'mode'", "corpus"),
    case("config-ks-zero", f"{E} --config {{W}}/ks_zero.yaml", 2, "'ks'", "at least 1"),
    case("config-bool-flag-text", f"{IX} {{W}}/doc.txt --config {{W}}/progress_text.yaml", 2, "'no-progress'"),
    # ---------------------------------------------------------------- train: what the generic layer handles
    case("train-lr-nan", f"{T} --lr nan", 2, "--lr", "finite"),
    case("train-lr-inf", f"{T} --lr inf", 2, "--lr"),
    case("train-tau-minus-inf", f"{T} --tau -inf", 2, "--tau"),
    case("train-alpha-nan", f"{T} --alpha nan", 2, "--alpha"),
    case("train-beta-inf", f"{T} --beta inf", 2, "--beta"),
    case("train-warmup-nan", f"{T} --warmup-ratio nan", 2, "--warmup-ratio"),
    case("train-weight-decay-nan", f"{T} --weight-decay NaN", 2, "--weight-decay"),
    case("train-anchor-nan", f"{T} --anchor-weight nan", 2, "--anchor-weight"),
    case("train-batch-size-text", f"{T} --batch-size x", 2, "--batch-size"),
    case("train-epochs-float", f"{T} --epochs 1.5", 2, "--epochs"),
    case("train-loss-choice", f"{T} --loss bogus", 2, "--loss"),
    # ---------------------------------------------------------------- eval
    case("eval-ks-zero", f"{E} --ks 0", 2, "--ks", "at least 1"),
    case("eval-ks-negative", f"{E} --ks -3", 2, "--ks"),
    case("eval-ks-text", f"{E} --ks 3 x", 2, "--ks"),
    case("eval-json-folder", f"{E} --json {{W}}/cfgdir", 1, "--json", "folder"),
    case("eval-json-read-only", f"{E} --json /proc/lore-rag-eval.json", 1, "--json", "cannot write"),
    case("eval-json-under-a-file", f"{E} --json {{W}}/plain.txt/eval.json", 1, "--json", "plain.txt"),
    case("eval-data-missing", f"{E} --data {{W}}/nope.jsonl", 1, "nope.jsonl"),
    case("eval-data-empty-folder", f"{E} --data {{W}}/emptydir", 1, "emptydir"),
    case("eval-mode-choice", f"{E} --mode everything", 2, "--mode"),
    # ---------------------------------------------------------------- convert
    case(
        "convert-latin1-csv", f"{C} table {{W}}/latin1.csv -o {{W}}/new/out.jsonl", 1, "latin1.csv:2", "UTF-8", "iconv"
    ),
    case("convert-output-folder", f"{C} table {{W}}/good.csv -o {{W}}/cfgdir", 1, "--output", "folder"),
    case("convert-output-read-only", f"{C} table {{W}}/good.csv -o /proc/lore.jsonl", 1, "--output", "cannot write"),
    case("convert-output-under-a-file", f"{C} table {{W}}/good.csv -o {{W}}/plain.txt/o.jsonl", 1, "--output"),
    case("convert-output-is-input", f"{C} table {{W}}/good.csv -o {{W}}/good.csv", 1, "also an input"),
    case("convert-limit-negative", f"{CV} --limit -1", 2, "--limit", "at least 1"),
    case("convert-limit-zero", f"{CV} --limit 0", 2, "--limit"),
    case("convert-limit-text", f"{CV} --limit many", 2, "--limit"),
    case("convert-no-output", f"{C} table {{W}}/good.csv", 2, "--output"),
    case("convert-format-choice", f"{C} parquet {{W}}/good.csv -o {{W}}/new/o.jsonl", 2, "parquet"),
    case("convert-empty-csv", f"{C} table {{W}}/empty.csv -o {{W}}/new/o.jsonl", 1, "empty.csv"),
    case("convert-header-only-csv", f"{C} table {{W}}/header.csv -o {{W}}/new/o.jsonl", 1, "header.csv", "no data"),
    case("convert-ragged-csv", f"{C} table {{W}}/ragged.csv -o {{W}}/new/o.jsonl", 1, "ragged.csv:2", "cells"),
    case("convert-unknown-column", f"{CV} --query-field nope", 1, "nope"),
    case("convert-delimiter-long", f"{CV} --delimiter ;;", 1, "--delimiter"),
    case("convert-threshold-nan", f"{CV} --label-threshold nan", 2, "--label-threshold"),
    case("convert-scoped-flag", f"{CV} --with-aliases", 1, "--with-aliases", "musique"),
    case("convert-k-zero", f"{C} beir {{W}}/emptydir -o {{W}}/new/o.jsonl --k 0", 2, "--k"),
    case("convert-min-score-nan", f"{C} beir {{W}}/emptydir -o {{W}}/new/o.jsonl --min-score nan", 2, "--min-score"),
    case("convert-missing-input", f"{C} hotpotqa {{W}}/nope.json -o {{W}}/new/o.jsonl", 1, "nope.json"),
    case("convert-malformed-json", f"{C} hotpotqa {{W}}/malformed.json -o {{W}}/new/o.jsonl", 1, "malformed.json"),
    case("convert-empty-jsonl", f"{C} musique {{W}}/empty.jsonl -o {{W}}/new/o.jsonl", 1, "empty.jsonl", "no musique"),
    case("convert-latin1-jsonl", f"{C} musique {{W}}/latin1.jsonl -o {{W}}/new/o.jsonl", 1, "latin1.jsonl", "UTF-8"),
    case("convert-beir-missing", f"{C} beir {{W}}/nope -o {{W}}/new/o.jsonl", 1, "nope"),
    # ---------------------------------------------------------------- build-data
    case("build-tiered-input", f"{B} {{W}}/tiered.jsonl -o {{W}}/new/b.jsonl --offline", 1, "tiered.jsonl:1", "tiered"),
    case(
        "build-empty-input", f"{B} {{W}}/empty.jsonl -o {{W}}/new/b.jsonl --offline", 1, "empty.jsonl", "no questions"
    ),
    case("build-output-read-only", f"{B} {{W}}/raw.jsonl -o /proc/b.jsonl --offline", 1, "--output", "cannot write"),
    case("build-output-folder", f"{B} {{W}}/raw.jsonl -o {{W}}/cfgdir --offline", 1, "--output", "folder"),
    case("build-output-under-a-file", f"{B} {{W}}/raw.jsonl -o {{W}}/plain.txt/b.jsonl --offline", 1, "--output"),
    case("build-output-is-input", f"{B} {{W}}/raw.jsonl -o {{W}}/raw.jsonl --offline", 1, "also an input"),
    case("build-output-gz", f"{B} {{W}}/raw.jsonl -o {{W}}/new/b.jsonl.gz --offline", 1, ".gz"),
    case("build-missing-input", f"{B} {{W}}/nope.jsonl -o {{W}}/new/b.jsonl --offline", 1, "nope.jsonl"),
    case("build-malformed-input", f"{B} {{W}}/malformed.jsonl -o {{W}}/new/b.jsonl --offline", 1, "malformed.jsonl:2"),
    case(
        "build-bad-label", f"{B} {{W}}/bad_label.jsonl -o {{W}}/new/b.jsonl --offline", 1, "bad_label.jsonl:1", "labels"
    ),
    case("build-latin1-input", f"{B} {{W}}/latin1.jsonl -o {{W}}/new/b.jsonl --offline", 1, "latin1.jsonl:1", "UTF-8"),
    case("build-fraction-nan", f"{BD} --fraction nan", 2, "--fraction"),
    case("build-fraction-above-one", f"{BD} --fraction 1.5", 1, "--fraction"),
    case("build-fraction-negative", f"{BD} --fraction -0.5", 2, "--fraction"),
    case("build-limit-negative", f"{BD} --limit -1", 2, "--limit"),
    case("build-limit-zero", f"{BD} --limit 0", 2, "--limit"),
    case("build-candidates-zero", f"{BD} --candidates 0", 2, "--candidates"),
    case("build-max-distractors-zero", f"{BD} --max-distractors 0", 2, "--max-distractors"),
    case("build-sharpness-nan", f"{BD} --sharpness nan", 2, "--sharpness"),
    case("build-min-keep-inf", f"{BD} --min-keep inf", 2, "--min-keep"),
    case("build-max-attempts-zero", f"{BD} --max-attempts 0", 2, "--max-attempts"),
    case("build-unknown-relation", f"{BD} --relations Sarcastic", 1, "Sarcastic"),
    case("build-mining-choice", f"{BD} --mining psychic", 2, "--mining"),
    case("build-concurrency-zero", f"{BD} --concurrency 0", 2, "--concurrency"),
    case("build-temperature-nan", f"{BD} --temperature nan", 2, "--temperature"),
    case(
        "build-every-request-401",
        f"{B} {{W}}/raw.jsonl -o {{W}}/new/b401.jsonl --llm-base-url http://127.0.0.1:{{PORT401}}/v1 --llm-model m "
        f"--no-progress --max-retries 0 --api-key {KEY}",
        1,
        "401",
    ),
    # ---------------------------------------------------------------- llm
    case("llm-max-tokens-zero", f"{ASK} --max-tokens 0", 2, "--max-tokens"),
    case("llm-temperature-nan", f"{ASK} --temperature nan", 2, "--temperature", "finite"),
    case("llm-temperature-negative", f"{ASK} --temperature -1", 2, "--temperature"),
    case("llm-timeout-zero", f"{ASK} --timeout 0", 2, "--timeout"),
    case("llm-timeout-inf", f"{ASK} --timeout inf", 2, "--timeout"),
    case("llm-max-retries-negative", f"{ASK} --max-retries -1", 2, "--max-retries"),
    case("llm-concurrency-zero", f"{ASK} --concurrency 0", 2, "--concurrency"),
    case("llm-n-ctx-zero", f"{ASK} --n-ctx 0", 2, "--n-ctx"),
    case("llm-port-zero", f"{L} serve --port 0", 2, "--port"),
    case("llm-serve-port-in-use", f"{L} serve --port {{PORTBUSY}}", 1, "--port {PORTBUSY}", "another program"),
    case("llm-action-choice", f"{L} chat", 2, "chat"),
    case("llm-ask-no-question", f"{L} ask", 1, "needs a question"),
    case("llm-ask-blank-question", [L, "ask", "   "], 1, "needs a question"),
    case("llm-serve-with-question", f"{L} serve hello", 1, "takes no question"),
    case("llm-context-file-missing", f"{ASK} --context-file {{W}}/nope.txt", 1, "--context-file", "nope.txt"),
    case("llm-context-file-folder", f"{ASK} --context-file {{W}}/cfgdir", 1, "--context-file", "cfgdir"),
    case("llm-context-file-latin1", f"{ASK} --context-file {{W}}/latin1.txt", 1, "--context-file", "UTF-8"),
    case(
        "llm-endpoint-refuses-401",
        f"{L} ask hello --llm-base-url http://127.0.0.1:{{PORT401}}/v1 --llm-model m --api-key {KEY}",
        1,
        "401",
    ),
    # ---------------------------------------------------------------- app (all before any model loads)
    case("app-port-in-use", f"{A} --port {{PORTBUSY}} --no-llm", 1, "--port {PORTBUSY}", "another program"),
    case("app-port-zero", f"{A} --port 0", 2, "--port"),
    case("app-port-too-big", f"{A} --port 70000", 2, "--port"),
    case("app-top-k-zero", f"{A} --top-k 0", 2, "--top-k"),
    case("app-answer-k-negative", f"{A} --answer-k -1", 2, "--answer-k"),
    case("app-auth-malformed", f"{A} --auth nocolon --no-llm", 1, "--auth"),
    case("app-auth-env-malformed", f"{A} --no-llm", 1, "LORE_RAG_APP_AUTH", LORE_RAG_APP_AUTH="user:"),
    case("app-data-dir-missing", f"{A} --data-dir {{W}}/nope --no-llm", 1, "--data-dir", "nope"),
    case("app-data-missing", f"{A} --data {{W}}/nope.jsonl --no-llm", 1, "--data", "nope.jsonl"),
    case("app-checkpoint-missing", f"{A} --checkpoint {{W}}/nope --no-llm", 1, "--checkpoint", "nope"),
    case("app-tradeoff-missing", f"{A} --tradeoff {{W}}/nope --no-llm", 1, "--tradeoff", "nope"),
    case("app-max-upload-zero", f"{A} --max-upload-mb 0", 2, "--max-upload-mb"),
    case("app-max-upload-nan", f"{A} --max-upload-mb nan", 2, "--max-upload-mb"),
    case("app-temperature-nan", f"{A} --temperature nan", 2, "--temperature"),
    # ---------------------------------------------------------------- index
    case("index-missing-input", f"{IX} {{W}}/nope.txt --store {{W}}/new/s", 1, "nope.txt"),
    case("index-zero-byte-store", f"{IX} {{W}}/doc.txt --store {{W}}/zero_store", 1, "zero_store", "damaged"),
    case("index-garbage-store", f"{IX} {{W}}/doc.txt --store {{W}}/garbage_store", 1, "garbage_store", "damaged"),
    case("index-foreign-sqlite-store", f"{IX} {{W}}/doc.txt --store {{W}}/foreign_store", 1, "damaged"),
    case("index-locked-store", f"{IX} {{W}}/doc.txt --store {{W}}/locked_store", 1, "another process holds the store"),
    case("index-store-is-a-file", f"{IX} {{W}}/doc.txt --store {{W}}/plain.txt", 1, "plain.txt", "not a folder"),
    case("index-collection-name", f"{IX} {{W}}/doc.txt --store {{W}}/new/s --collection x", 1, "collection name"),
    case("index-server-down", f"{IX} {{W}}/doc.txt --host 127.0.0.1 --port {{PORTDEAD}}", 1, "cannot reach"),
    case("index-batch-size-text", f"{IX} {{W}}/doc.txt --batch-size x", 2, "--batch-size"),
    case("index-batch-size-zero", f"{IX} {{W}}/doc.txt --store {{W}}/new/s --batch-size 0", 2, "--batch-size"),
    case("index-server-port-zero", f"{IX} {{W}}/doc.txt --host 127.0.0.1 --port 0", 2, "--port"),
    case("index-chunk-unit-choice", f"{IX} {{W}}/doc.txt --chunk-unit lines", 2, "--chunk-unit"),
    case("index-latin1-text", f"{IX} {{W}}/latin1.txt --store {{W}}/new/s", 1, "latin1.txt"),
    case("index-malformed-jsonl", f"{IX} {{W}}/malformed.jsonl --store {{W}}/new/s", 1, "malformed.jsonl:2"),
    case("index-empty-folder", f"{IX} {{W}}/emptydir --store {{W}}/new/s", 1, "emptydir"),
    # ---------------------------------------------------------------- query
    case("query-zero-byte-store", f"{Q} hello --store {{W}}/zero_store", 1, "zero_store", "damaged"),
    case("query-garbage-store", f"{Q} hello --store {{W}}/garbage_store", 1, "garbage_store", "not an SQLite"),
    case("query-locked-store", f"{Q} hello --store {{W}}/locked_store", 1, "another process holds the store"),
    case("query-missing-store", f"{Q} hello --store {{W}}/nope", 1, "nope", "no Chroma store"),
    case("query-empty-folder-store", f"{Q} hello --store {{W}}/emptydir", 1, "emptydir", "no Chroma store"),
    case("query-no-query", f"{Q} --store {{W}}/emptydir", 1, "no query"),
    case("query-blank-query", [Q, " ", "--store", "{W}/emptydir"], 1, "no query"),
    case("query-top-k-zero", f"{Q} hello --top-k 0", 1, "--top-k"),
    case("query-top-k-text", f"{Q} hello --top-k some", 2, "--top-k"),
    case("query-where-not-json", [Q, "hello", "--where", "{bad", "--store", "{W}/emptydir"], 1, "--where"),
    case("query-where-not-an-object", [Q, "hello", "--where", "[1]", "--store", "{W}/emptydir"], 1, "--where", "object"),
    case("query-queries-file-missing", f"{Q} --queries-file {{W}}/nope.txt", 1, "nope.txt"),
    case("query-queries-file-latin1", f"{Q} --queries-file {{W}}/latin1.txt", 1, "latin1.txt", "UTF-8"),
    case("query-queries-file-malformed", f"{Q} --queries-file {{W}}/malformed.jsonl", 1, "malformed.jsonl:2"),
    case("query-queries-file-no-query-field", f"{Q} --queries-file {{W}}/raw_noquery.jsonl", 1, "'query'"),
    case("query-width-text", f"{Q} hello --width wide", 2, "--width"),
    case("query-width-zero", f"{Q} hello --width 0", 2, "--width"),
    case("query-server-port-text", f"{Q} hello --port http", 2, "--port"),
    case("query-server-down", f"{Q} hello --host 127.0.0.1 --port {{PORTDEAD}}", 1, "cannot reach"),
]
# fmt: on


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Refuse401(http.server.BaseHTTPRequestHandler):
    """An OpenAI-style endpoint that refuses every request with HTTP 401, as with a wrong API key."""

    def _refuse(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})
        self.send_response(401)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    do_GET = do_POST = _refuse  # noqa: N815 - http.server's names

    def log_message(self, *args: object) -> None:
        pass


def _write_inputs(work: Path) -> None:
    def jsonl(name: str, rows: list[object]) -> None:
        (work / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    (work / "cfgdir").mkdir()
    (work / "emptydir").mkdir()
    (work / "plain.txt").write_text("a plain file, not a folder\n", encoding="utf-8")
    (work / "doc.txt").write_text("Sinister is a 2012 film directed by Scott Derrickson.\n", encoding="utf-8")
    (work / "latin1.txt").write_bytes("Caf\xe9 au lait, cr\xe8me br\xfbl\xe9e.\n".encode("latin-1"))
    (work / "latin1.yaml").write_bytes("lr: 0.1  # caf\xe9\n".encode("latin-1"))
    (work / "latin1.csv").write_bytes(
        ("question,passage,label\nQui a \xe9crit?,Caf\xe9 cr\xe8me.,1\n").encode("latin-1")
    )
    (work / "latin1.jsonl").write_bytes(json.dumps(RAW_ROW).replace("Paris", "Par\xeds").encode("latin-1") + b"\n")
    (work / "good.csv").write_text(GOOD_CSV, encoding="utf-8")
    (work / "empty.csv").write_text("", encoding="utf-8")
    (work / "header.csv").write_text("question,passage,label\n", encoding="utf-8")
    (work / "ragged.csv").write_text("question,passage,label\nq,a,1,extra\n", encoding="utf-8")
    (work / "empty.jsonl").write_text("", encoding="utf-8")
    (work / "malformed.json").write_text('[{"_id": "1", "question": "x",\n', encoding="utf-8")
    (work / "malformed.jsonl").write_text(json.dumps(RAW_ROW) + '\n{"query": "unfinished\n', encoding="utf-8")
    jsonl("raw.jsonl", [RAW_ROW, {**RAW_ROW, "id": "q2", "query": "Where is Paris?", "labels": [0, 1, 0]}])
    jsonl("raw_noquery.jsonl", [{"question": "no query field here"}])
    jsonl("tiered.jsonl", [TIERED_ROW])
    jsonl("bad_label.jsonl", [{**RAW_ROW, "labels": [1, 0, 2]}])
    (work / "list_for_int.yaml").write_text("batch-size: [4, 5]\n", encoding="utf-8")
    (work / "nan.yaml").write_text("lr: .nan\n", encoding="utf-8")
    (work / "inf.json").write_text('{"tau": Infinity}\n', encoding="utf-8")
    (work / "bool_for_int.yaml").write_text("epochs: true\n", encoding="utf-8")
    (work / "text_for_float.yaml").write_text("lr: fast\n", encoding="utf-8")
    (work / "unknown.yaml").write_text("frobnicate: 1\n", encoding="utf-8")
    (work / "list.yaml").write_text("- 1\n- 2\n", encoding="utf-8")
    (work / "broken.yaml").write_text("lr: 0.1\nepochs: [1\n", encoding="utf-8")
    (work / "broken.json").write_text('{"lr": 0.1,\n "epochs": }\n', encoding="utf-8")
    (work / "mapping_for_text.yaml").write_text("device: {cuda: 0}\n", encoding="utf-8")
    (work / "bad_mode.yaml").write_text("mode: everything\n", encoding="utf-8")
    (work / "ks_zero.yaml").write_text("ks: [3, 0]\n", encoding="utf-8")
    (work / "progress_text.yaml").write_text("no-progress: sometimes\n", encoding="utf-8")
    (work / "zero_store").mkdir()
    (work / "zero_store" / "chroma.sqlite3").write_bytes(b"")
    (work / "garbage_store").mkdir()
    (work / "garbage_store" / "chroma.sqlite3").write_bytes(bytes(range(256)) * 16)
    import sqlite3

    (work / "foreign_store").mkdir()
    with sqlite3.connect(work / "foreign_store" / "chroma.sqlite3") as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    import chromadb

    client = chromadb.PersistentClient(path=str(work / "locked_store"))
    client.get_or_create_collection("lore", embedding_function=None).add(ids=["a"], embeddings=[[0.1] * 8])
    del client


def _snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root``: path -> sha256 of its bytes (``"dir"`` for folders)."""
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        out[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@dataclass
class Result:
    argv: list[str]
    code: int | None
    stdout: str
    stderr: str
    seconds: float


@pytest.fixture(scope="module")
def run_all(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Result], dict, dict]]:
    """Run every case once, in parallel; yields results by id and the work folder's snapshots before and after."""
    work = tmp_path_factory.mktemp("bad_inputs")
    home = tmp_path_factory.mktemp("bad_inputs_home")
    _write_inputs(work)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refuse401)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    # another process holds the store's database: SQLite's exclusive lock, as a long write would
    locker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True)\n"
            "time.sleep(600)\n",
            str(work / "locked_store" / "chroma.sqlite3"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
    fills = {
        "{W}": str(work),
        "{PORT401}": str(server.server_address[1]),
        "{PORTBUSY}": str(busy.getsockname()[1]),
        "{PORTDEAD}": str(_free_port()),
    }

    def fill(text: str) -> str:
        for key, value in fills.items():
            text = text.replace(key, value)
        return text

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")])),
        "LORE_RAG_HOME": str(home),
        "LORE_RAG_STORE_LOCK_TIMEOUT": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "COLUMNS": "200",
    }
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "LORE_RAG_APP_AUTH", "LORE_RAG_DEBUG", "LORE_RAG_LLM_MODEL"):
        env.pop(name, None)

    def one(c: Case) -> tuple[str, Result]:
        argv = [fill(a) for a in c.argv]
        started = time.perf_counter()
        try:
            done = subprocess.run(
                [sys.executable, "-m", "lore_rag", *argv],
                env={**env, **c.env},
                cwd=work,
                capture_output=True,
                text=True,
                timeout=CASE_TIMEOUT,
                stdin=subprocess.DEVNULL,
            )
            result = Result(argv, done.returncode, done.stdout, done.stderr, time.perf_counter() - started)
        except subprocess.TimeoutExpired as exc:
            result = Result(argv, None, str(exc.stdout or ""), str(exc.stderr or ""), time.perf_counter() - started)
        return c.id, result

    before = _snapshot(work)
    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            results = dict(pool.map(one, CASES))
    finally:
        locker.kill()
        locker.wait()
        busy.close()
        server.shutdown()
    wall = time.perf_counter() - started
    slowest = sorted(results.items(), key=lambda item: -item[1].seconds)[:5]
    print(f"\n{len(CASES)} bad-input cases in {wall:.1f} s wall ({WORKERS} at a time); slowest: "
          + ", ".join(f"{key} {r.seconds:.1f} s" for key, r in slowest))  # fmt: skip
    yield results, before, _snapshot(work)


def test_the_table_has_at_least_100_distinct_cases() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) >= 100 and len(set(ids)) == len(ids)


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input_gives_one_clear_line(c: Case, run_all: tuple[dict[str, Result], dict, dict]) -> None:
    results, _, _ = run_all
    r = results[c.id]
    shown = f"argv: {r.argv}\nexit: {r.code}\nstdout:\n{r.stdout[-2000:]}\nstderr:\n{r.stderr[-4000:]}"
    assert r.code is not None, f"timed out after {CASE_TIMEOUT} s\n{shown}"
    assert "Traceback" not in r.stderr + r.stdout, shown
    assert r.code == c.code, shown
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and not LOG_LINE.match(ln)]
    errors = [ln for ln in lines if ERROR_LINE.match(ln)]
    assert len(errors) == 1, shown
    assert lines == errors, f"more than the one error line on stderr\n{shown}"
    line = errors[0]
    port_busy = [a for a in r.argv if a.isdigit()]
    for needle in c.needles:
        needle = needle.replace("{PORTBUSY}", port_busy[0] if port_busy else "")
        assert needle in line, f"{needle!r} not in the error line\n{shown}"


def test_no_case_touched_any_input(run_all: tuple[dict[str, Result], dict, dict]) -> None:
    _, before, after = run_all
    changed = sorted(k for k in before if after.get(k) != before[k])
    added = sorted(set(after) - set(before))
    assert not changed and not added, f"changed: {changed}; created: {added}"


def test_the_api_key_is_never_printed_or_written(run_all: tuple[dict[str, Result], dict, dict]) -> None:
    results, _, _ = run_all
    used = [key for key, r in results.items() if KEY in r.argv]
    assert len(used) >= 2
    for key in used:
        assert KEY not in results[key].stdout + results[key].stderr, key


def test_llm_serve_and_app_bind_loopback_unless_told() -> None:
    from lore_rag.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["llm", "serve"]).host == "127.0.0.1"
    assert parser.parse_args(["app"]).host == "127.0.0.1"
    assert parser.parse_args(["llm", "serve", "--host", "0.0.0.0"]).host == "0.0.0.0"
