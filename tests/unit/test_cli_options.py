"""Checked flag types, output probes, config values by flag type, and the app's server-file policy (fast, no models)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from lore_rag.cli import main
from lore_rag.cli.options import (
    check_output_dir,
    check_output_file,
    finite_float,
    non_negative_float,
    non_negative_int,
    port_number,
    positive_float,
    positive_int,
)
from lore_rag.demo.examples import ServerFiles
from lore_rag.errors import ConfigError, DemoError


@pytest.mark.parametrize(
    ("convert", "text", "value"),
    [
        (positive_int, "3", 3),
        (non_negative_int, "0", 0),
        (finite_float, "-2.5", -2.5),
        (positive_float, "1e-5", 1e-5),
        (non_negative_float, "0", 0.0),
        (port_number, "65535", 65535),
    ],
)
def test_types_accept_sensible_values(convert, text: str, value: float) -> None:
    assert convert(text) == value


@pytest.mark.parametrize(
    ("convert", "text", "words"),
    [
        (positive_int, "0", "at least 1"),
        (positive_int, "-3", "at least 1"),
        (positive_int, "2.5", "integer"),
        (non_negative_int, "-1", "at least 0"),
        (finite_float, "nan", "finite"),
        (finite_float, "-inf", "finite"),
        (positive_float, "0", "greater than 0"),
        (positive_float, "inf", "finite"),
        (non_negative_float, "-0.1", "at least 0"),
        (port_number, "0", "port"),
        (port_number, "65536", "port"),
        (port_number, "http", "integer"),
    ],
)
def test_types_refuse_with_a_reason(convert, text: str, words: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=words):
        convert(text)


def test_output_file_probe_creates_nothing(tmp_path: Path) -> None:
    before = sorted(tmp_path.rglob("*"))
    assert (
        check_output_file(tmp_path / "new" / "deeper" / "out.jsonl", "-o") == tmp_path / "new" / "deeper" / "out.jsonl"
    )
    assert sorted(tmp_path.rglob("*")) == before  # no folder, no probe file left behind


def test_output_file_probe_refuses_folder_file_parent_and_unwritable(tmp_path: Path) -> None:
    (tmp_path / "plain.txt").write_text("x")
    with pytest.raises(ConfigError, match="-o .*is a folder"):
        check_output_file(tmp_path, "-o")
    with pytest.raises(ConfigError, match="plain.txt is a file, not a folder"):
        check_output_file(tmp_path / "plain.txt" / "out.json", "--json")
    with pytest.raises(ConfigError, match="cannot write"):  # root can write almost anywhere, not under /proc
        check_output_file("/proc/lore-rag-probe.json", "--json")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        check_output_dir(tmp_path / "plain.txt", "--output")
    assert check_output_dir(tmp_path / "run", "--output") == tmp_path / "run"


def test_config_values_are_checked_like_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = {
        "ks: [3, 0]\n": "field 'ks': must be at least 1",
        "json: [a, b]\n": "field 'json': expected a single value, got a list",
        "show-progress: 'yes'\n": "field 'show-progress': expected true or false",
        "mode: everything\n": "field 'mode': expected one of candidates, corpus",
    }
    for text, error in cases.items():
        config = tmp_path / "c.yaml"
        config.write_text(text)
        assert main(["eval", "--config", str(config)]) == 2
        assert error in capsys.readouterr().err


def test_nan_from_the_line_is_refused_for_a_plain_float_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["train", "--alpha", "nan"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--alpha" in err[0] and "finite" in err[0]


def test_unexpected_errors_are_one_line_unless_debugging(monkeypatch, capsys) -> None:
    def boom(args):
        raise RuntimeError("something\nbroke")

    monkeypatch.delenv("LORE_RAG_DEBUG", raising=False)
    from lore_rag.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["query"]
    sub.set_defaults(func=boom)
    monkeypatch.setattr("lore_rag.cli.build_parser", lambda: parser)
    assert main(["query", "x"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unexpected RuntimeError: something broke" in err and "Traceback" not in err
    assert main(["--debug", "query", "x"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_server_files_allow_only_data_files_under_the_roots(tmp_path: Path) -> None:
    root, outside = tmp_path / "data", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "a.jsonl").write_text("{}\n")
    (root / "b.json.gz").write_bytes(b"")
    (root / "notes.txt").write_text("x")
    (outside / "secret.jsonl").write_text("{}\n")
    os.symlink(outside / "secret.jsonl", root / "link.jsonl")
    files = ServerFiles([root])
    assert files.resolve(str(root / "a.jsonl")) == (root / "a.jsonl").resolve()
    assert files.resolve("a.jsonl") == (root / "a.jsonl").resolve()
    assert files.resolve("b.json.gz").name == "b.json.gz"
    messages = set()
    for bad in [
        outside / "secret.jsonl", outside / "missing.jsonl", "../outside/secret.jsonl", "link.jsonl", "notes.txt",
        root, "/etc/passwd", "", "a.jsonl\x00.txt",
    ]:  # fmt: skip
        with pytest.raises(DemoError) as refused:
            files.resolve(str(bad))
        messages.add(str(refused.value))
    assert len(messages) == 1  # one message whatever the reason: nothing to learn about the file system
