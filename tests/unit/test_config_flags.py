"""Flags generated from config dataclasses: every command lists them, old names warn, a config key equals its flag."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pytest

from lore_rag.cli import _apply_config, build_parser, main
from lore_rag.cli.options import add_config_arguments, config_from_args
from lore_rag.config import option, positive_int
from lore_rag.data.builder import BuildConfig
from lore_rag.data.builder.model_settings import BuildModelSettings
from lore_rag.data.converters import ConvertConfig
from lore_rag.demo.app_config import AppConfig
from lore_rag.errors import ConfigError
from lore_rag.evaluation.eval_config import EvalConfig
from lore_rag.evaluation.qa_run import QAEvalConfig
from lore_rag.evaluation.tradeoff import TradeoffConfig
from lore_rag.llm.settings import SERVE_PORT, AskSettings, LLMSettings, LocalServerSettings
from lore_rag.models.hub import PushConfig
from lore_rag.retrieval.settings import EncoderSettings, IndexConfig, QueryConfig, StoreSettings
from lore_rag.training.args import TrainConfig

#: command -> (config dataclass, fields the command declares itself or leaves out)
from lore_rag.training.pipeline import ComparisonConfig  # noqa: E402

GENERATED = [
    ("train", TrainConfig, ()),
    ("train", ComparisonConfig, ()),
    ("tradeoff", TradeoffConfig, ()),
    ("eval", EvalConfig, ()),
    ("qa-eval", QAEvalConfig, ()),
    ("qa-eval", LLMSettings, ("max_tokens", "concurrency")),
    ("build-data", BuildConfig, ()),
    ("build-data", LLMSettings, ()),
    ("build-data", BuildModelSettings, ()),
    ("llm", LLMSettings, ()),
    ("llm", AskSettings, ()),
    ("llm", LocalServerSettings, ()),
    ("convert", ConvertConfig, ()),
    ("push", PushConfig, ()),
    ("app", LLMSettings, ()),
    ("app", AppConfig, ()),
    ("index", IndexConfig, ()),
    ("index", StoreSettings, ()),
    ("index", EncoderSettings, ("model",)),  # --model's help is each command's own
    ("query", QueryConfig, ()),
    ("query", StoreSettings, ()),
    ("query", EncoderSettings, ("model",)),
]
OLD_NAMES = {"--base-url": "--llm-base-url", "--model": "--llm-model", "--model-path": "--llm-gguf"}


def _subparser(command: str) -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command]


def _visible(parser: argparse.ArgumentParser, dest: str) -> argparse.Action:
    (action,) = [a for a in parser._actions if a.dest == dest and a.help is not argparse.SUPPRESS]
    return action


@pytest.mark.parametrize(("command", "config", "skip"), GENERATED, ids=[f"{c}-{k.__name__}" for c, k, _ in GENERATED])
def test_every_command_help_lists_the_flags_generated_from_its_config(command, config, skip) -> None:
    parser = _subparser(command)
    text = " ".join(parser.format_help().split())
    fields = [f for f in dataclasses.fields(config) if f.metadata.get("cli", True) and f.name not in skip]
    assert fields
    for f in fields:
        action = _visible(parser, f.name)
        names = action.option_strings or [action.metavar or f.name]
        assert all(name in text for name in names), (command, f.name, names)
        help_words = " ".join(str(f.metadata["help"]).split("%(")[0].split())[:30]
        if command not in ("qa-eval",) or f.name != "timeout":  # qa-eval keeps its own default and help for it
            assert help_words in text, (command, f.name)
    usage = parser.format_usage().replace("--models", "")
    for old in OLD_NAMES if config is LLMSettings else ():  # old spellings are hidden
        assert f"[{old} " not in usage


@pytest.mark.parametrize("command", ["llm", "build-data", "app"])
@pytest.mark.parametrize(("old", "new"), list(OLD_NAMES.items()))
def test_an_old_llm_flag_still_works_and_prints_one_deprecation_line(command, old, new, capsys) -> None:
    argv = {"llm": ["llm", "ask", "hi"], "build-data": ["build-data", "in.jsonl", "-o", "out.jsonl"], "app": ["app"]}
    args = build_parser().parse_args([*argv[command], old, "value"])
    dest = new[2:].replace("-", "_")
    assert getattr(args, dest) == "value"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "deprecated" in err[0] and old in err[0] and new in err[0], err
    fresh = build_parser().parse_args([*argv[command], new, "value"])
    assert getattr(fresh, dest) == "value" and capsys.readouterr().err == ""


def test_qa_eval_never_had_the_old_names_so_model_still_abbreviates_models() -> None:
    args = build_parser().parse_args(["qa-eval", "--model", "raw", "ckpt"])
    assert args.models == ["raw", "ckpt"] and args.llm_model is None


CONFIG_CASES = [
    # (command argv before the flags, config text, the same on the command line, dest, expected value)
    (["train"], "lr: 0.003\n", ["--lr", "0.003"], "lr", 0.003),
    (
        ["train"],
        "train: [a.jsonl, b.jsonl]\n",
        ["--train", "a.jsonl", "b.jsonl"],
        "train_files",
        ["a.jsonl", "b.jsonl"],
    ),  # noqa: E501
    (["train"], "anchor-weight: 0\n", ["--anchor-weight", "0"], "anchor_weight", 0.0),
    (["eval"], "model: [raw, ck]\n", ["--model", "raw", "ck"], "models", ["raw", "ck"]),
    (["eval"], "no-show-progress: true\n", ["--no-show-progress"], "show_progress", False),
    (["tradeoff"], "ratios: [0.25, 0.5]\n", ["--ratios", "0.25", "0.5"], "ratios", [0.25, 0.5]),
    (["qa-eval"], "output: runs/x\n", ["--output", "runs/x"], "output_dir", "runs/x"),
    (["qa-eval"], "limit: 7\n", ["--limit", "7"], "limit", 7),
    (["qa-eval"], "index: idx\n", ["--index", "idx"], "index_path", "idx"),
    (["qa-eval"], "no-progress: true\n", ["--no-progress"], "show_progress", False),
    (["qa-eval"], "show-progress: false\n", ["--no-progress"], "show_progress", False),
    (["qa-eval"], "llm-model: m\n", ["--llm-model", "m"], "llm_model", "m"),
    (["qa-eval"], "timeout: 30\n", ["--timeout", "30"], "timeout", 30.0),
    (["build-data", "in.jsonl", "-o", "o.jsonl"], "fraction: 0.5\n", ["--fraction", "0.5"], "fraction", 0.5),
    (["build-data", "in.jsonl", "-o", "o.jsonl"], "no-progress: true\n", ["--no-progress"], "show_progress", False),
    (["build-data", "in.jsonl", "-o", "o.jsonl"], "concurrency: 3\n", ["--concurrency", "3"], "concurrency", 3),
    (["build-data", "in.jsonl", "-o", "o.jsonl"], "offline: true\n", ["--offline"], "offline", True),
    (["build-data", "in.jsonl", "-o", "o.jsonl"], "anchor-question: 'off'\n", ["--anchor-question", "off"],
     "anchor_question", "off"),
    (["build-data", "in.jsonl", "-o", "o.jsonl"], "embedding_model: m\n", ["--embedding-model", "m"],
     "embedding_model", "m"),
    (
        ["llm", "ask", "hi"],
        "llm-base-url: http://h/v1\n",
        ["--llm-base-url", "http://h/v1"],
        "llm_base_url",
        "http://h/v1",
    ),
    (["llm", "ask", "hi"], "llm-gguf: m.gguf\n", ["--llm-gguf", "m.gguf"], "llm_gguf", "m.gguf"),
    (["app"], "local: true\n", ["--local"], "local", True),
    (["index", "a.txt"], "chunk-size: 100\n", ["--chunk-size", "100"], "chunk_size", 100),
    (["index", "a.txt"], "no-progress: true\n", ["--no-progress"], "no_progress", True),
    (["query", "q"], "top-k: 3\n", ["--top-k", "3"], "top_k", 3),
    (["query", "q"], "store: s\n", ["--store", "s"], "store", "s"),
    (["app"], "data-dir: [a, b]\n", ["--data-dir", "a", "--data-dir", "b"], "data_dirs", ["a", "b"]),
    (["app"], "no-index-data: true\n", ["--no-index-data"], "index_data", False),
    (["app"], "top-k: 7\n", ["-k", "7"], "top_k", 7),
    (["convert", "hotpotqa", "a.json", "-o", "o.jsonl"], "limit: 5\n", ["--limit", "5"], "limit", 5),
    (["convert", "hotpotqa", "a.json", "-o", "o.jsonl"], "dataset: ours\n", ["--dataset", "ours"], "dataset", "ours"),
    (["convert", "musique", "a.jsonl", "-o", "o.jsonl"], "with-aliases: true\n", ["--with-aliases"], "with_aliases",
     True),
    (["convert", "beir", "d", "-o", "o.jsonl"], "min_score: 2\n", ["--min-score", "2"], "min_score", 2.0),
    (["convert", "beir", "d", "-o", "o.jsonl"], "missing-positives: skip\n", ["--missing-positives", "skip"],
     "missing_positives", "skip"),
    (["convert", "beir", "d", "-o", "o.jsonl"], "title-in-chunk: true\n", ["--title-in-chunk"], "title_in_chunk", True),
    (["convert", "table", "t.csv", "-o", "o.jsonl"], "layout: wide\n", ["--layout", "wide"], "layout", "wide"),
    (["convert", "table", "t.csv", "-o", "o.jsonl"], "label-threshold: 2.5\n", ["--label-threshold", "2.5"],
     "label_threshold", 2.5),
    (["llm", "ask", "hi"], "context: [a, b]\n", ["--context", "a", "--context", "b"], "context", ["a", "b"]),
    (["llm", "ask", "hi"], "context_file: c.txt\n", ["--context-file", "c.txt"], "context_file", "c.txt"),
    (["llm", "ask", "hi"], "long: true\n", ["--long"], "long", True),
    (["llm", "ask", "hi"], "system: be brief\n", ["--system", "be brief"], "system", "be brief"),
    (["llm", "ask", "hi"], "json: true\n", ["--json"], "json", True),
    (["llm", "serve"], "host: 0.0.0.0\n", ["--host", "0.0.0.0"], "host", "0.0.0.0"),
    (["llm", "serve"], "port: 9001\n", ["--port", "9001"], "port", 9001),
    (["llm", "serve"], "log-file: s.log\n", ["--log-file", "s.log"], "log_file", "s.log"),
    (["llm", "serve"], "n-threads: 2\n", ["--n-threads", "2"], "n_threads", 2),
    (["llm", "ask", "hi"], "max_tokens: 16\n", ["--max-tokens", "16"], "max_tokens", 16),
    (["push", "ckpt", "me/m"], "private: true\n", ["--private"], "private", True),
    (["push", "ckpt", "me/m"], "message: first\n", ["--message", "first"], "commit_message", "first"),
    (["push", "ckpt", "me/m"], "commit_message: first\n", ["--message", "first"], "commit_message", "first"),
    (["push", "ckpt", "me/m"], "revision: dev\n", ["--revision", "dev"], "revision", "dev"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("head", "text", "flags", "dest", "value"), CONFIG_CASES, ids=[c[1].strip() for c in CONFIG_CASES]
)
def test_a_config_key_and_its_flag_give_the_same_value(head, text, flags, dest, value, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(text, encoding="utf-8")
    from_file = _apply_config(build_parser(), [*head, "--config", str(config)])
    from_flag = _apply_config(build_parser(), [*head, *flags])
    default = _apply_config(build_parser(), list(head))
    assert getattr(from_file, dest) == getattr(from_flag, dest) == value
    assert getattr(default, dest) != value  # the case sets something


def test_an_old_config_key_still_works_and_names_the_new_one(tmp_path: Path, capsys) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("base-url: http://h/v1\nmodel-path: m.gguf\n", encoding="utf-8")
    args = _apply_config(build_parser(), ["llm", "ask", "hi", "--config", str(config)])
    assert (args.llm_base_url, args.llm_gguf) == ("http://h/v1", "m.gguf")
    err = capsys.readouterr().err
    assert "field 'base-url' is deprecated; use 'llm-base-url'" in err
    assert "field 'model-path' is deprecated; use 'llm-gguf'" in err


def test_a_bad_value_of_a_generated_flag_is_one_line_naming_the_flag(capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["qa-eval", "--limit", "0"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--limit" in err[0] and "at least 1" in err[0]


def test_the_generated_flags_rebuild_the_dataclass_with_its_defaults() -> None:
    parser = _subparser("qa-eval")
    args = parser.parse_args([])
    config = config_from_args(QAEvalConfig, args)
    assert config == QAEvalConfig()
    args = _subparser("build-data").parse_args(["a.jsonl", "-o", "b.jsonl"])
    assert config_from_args(BuildConfig, args) == BuildConfig(inputs=["a.jsonl"], output="b.jsonl")
    assert config_from_args(LLMSettings, _subparser("llm").parse_args(["serve"])) == LLMSettings()


@dataclasses.dataclass
class _Toy:
    paths: list[str] = option("input files", flags=("paths",), nargs="+", metavar="PATH")
    out: str = option("where to write", flags=("-o", "--out"))
    count: int | None = option("how many", None, type=positive_int, deprecated=("--n",))
    ratios: list[float] = option("ratios", default_factory=lambda: [0.5])
    fast: bool = option("go fast", False)
    show_progress: bool = option("no progress bars", True, flags=("--quiet-bars",), action="store_false")
    internal: int = option("set by the program", 0, cli=False)


def test_the_generator_reads_types_positionals_required_flags_and_switches(capsys) -> None:
    parser = argparse.ArgumentParser(prog="toy")
    added = add_config_arguments(parser, _Toy)
    assert added == ["paths", "out", "count", "ratios", "fast", "show_progress"]
    args = parser.parse_args(["a", "b", "-o", "x", "--n", "3", "--ratios", "0.1", "0.2", "--fast", "--quiet-bars"])
    assert "toy: warning: --n is deprecated" in capsys.readouterr().err
    toy = config_from_args(_Toy, args)
    assert toy == _Toy(paths=["a", "b"], out="x", count=3, ratios=[0.1, 0.2], fast=True, show_progress=False)
    assert config_from_args(_Toy, parser.parse_args(["a", "-o", "x", "--no-fast"])).show_progress is True
    with pytest.raises(SystemExit):
        parser.parse_args(["a"])  # -o/--out has no default: required
    assert "required" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["a", "-o", "x", "--count", "0"])
    assert "--count" in capsys.readouterr().err


def test_build_data_takes_its_concurrency_from_the_llm_client_once(monkeypatch, tmp_path: Path, capsys) -> None:
    import lore_rag.data.builder as builder
    import lore_rag.llm as llm

    raw = tmp_path / "raw.jsonl"
    raw.write_text('{"id": "q", "query": "who?", "chunks": ["a", "b"], "labels": [1, 0], "answer": "a"}\n')
    seen: dict[str, object] = {}

    @contextlib.contextmanager
    def fake_connect(**options):
        seen["options"] = options
        yield SimpleNamespace(concurrency=options.get("concurrency", 1), model="m", base_url="http://h/v1")

    def fake_build(config, **kwargs):
        seen["config"] = config
        return SimpleNamespace(lines=lambda: ["done"], error=None)

    monkeypatch.setattr(llm, "connect", fake_connect)
    monkeypatch.setattr(builder, "build_data", fake_build)
    out = str(tmp_path / "out.jsonl")
    assert main(["build-data", str(raw), "-o", out, "--llm-base-url", "http://h/v1", "--concurrency", "7"]) == 0
    assert seen["options"]["concurrency"] == 7 and seen["config"].concurrency == 7
    assert main(["build-data", str(raw), "-o", out, "--llm-base-url", "http://h/v1"]) == 0
    assert "concurrency" not in seen["options"] and seen["config"].concurrency == 1  # the client's own default
    assert seen["options"]["base_url"] == "http://h/v1"
    assert seen["config"].anchor_question is False  # auto: model "m" is not the bundled one
    assert main(["build-data", str(raw), "-o", out, "--llm-base-url", "http://h/v1", "--anchor-question", "on"]) == 0
    assert seen["config"].anchor_question is True


def test_qa_eval_flags_become_its_run_and_llm_settings(monkeypatch) -> None:
    from lore_rag.evaluation.qa_args import qa_settings

    monkeypatch.setenv("MY_KEY", "sk-test")
    args = build_parser().parse_args(
        ["qa-eval", "--data", "q.jsonl", "--reranker", "ce", "--fetch-k", "30", "-k", "4", "--max-tokens", "8",
         "--llm-base-url", "http://h/v1", "--llm-api-key-env", "MY_KEY", "--no-progress"]
    )  # fmt: skip
    config, llm = qa_settings(args)
    assert (config.data, config.reranker, config.fetch_k, config.k, config.show_progress) == (
        ["q.jsonl"],
        "ce",
        30,
        4,
        False,
    )
    options = llm.connect_options()
    assert options["base_url"] == "http://h/v1" and options["api_key"] == "sk-test"
    assert options["max_tokens"] == 8 and options["timeout"] == 120.0 and "concurrency" not in options


def test_a_convert_config_file_and_its_flags_give_the_same_convert_config(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("k: 3\n", encoding="utf-8")
    from_file = _apply_config(build_parser(), ["convert", "beir", "d", "-o", "out.jsonl", "--config", str(config)])
    from_flag = _apply_config(build_parser(), ["convert", "beir", "d", "-o", "out.jsonl", "--k", "3"])
    assert config_from_args(ConvertConfig, from_file) == config_from_args(ConvertConfig, from_flag)
    assert config_from_args(ConvertConfig, from_flag) == ConvertConfig(
        format="beir", inputs=["d"], output="out.jsonl", k=3
    )


@pytest.mark.parametrize(
    ("head", "text", "message"),
    [
        (["convert", "beir", "d", "-o", "o.jsonl"], "k: 0\n", "field 'k': must be at least 1, got 0"),
        (["convert", "table", "t.csv", "-o", "o.jsonl"], "layout: tall\n", "field 'layout': expected one of auto"),
        (["convert", "beir", "d", "-o", "o.jsonl"], "min-score: .nan\n", "field 'min-score': must be a finite number"),
        (["llm", "serve"], "port: 70000\n", "field 'port': must be a port number from 1 to 65535, got 70000"),
        (["llm", "ask", "hi"], "context: {a: 1}\n", "field 'context': expected a single value, got a mapping"),
        (["llm", "ask", "hi"], "json: 1\n", "field 'json': expected true or false, got 1"),
        (["llm", "ask", "hi"], "hostname: h\n", "field 'hostname': not an option of 'lore-rag llm'"),
    ],
)
def test_a_bad_config_value_of_convert_or_llm_is_one_line_naming_file_and_field(
    head, text, message, tmp_path: Path, capsys
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(text, encoding="utf-8")
    assert main([*head, "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"lore-rag: error: {config}: ") and message in err[0], err


@pytest.mark.parametrize(
    ("argv", "flag", "message"),
    [
        (["convert", "beir", "d", "-o", "o.jsonl", "--k", "0"], "--k", "at least 1"),
        (["convert", "table", "t.csv", "-o", "o.jsonl", "--label-threshold", "inf"], "--label-threshold", "finite"),
        (["convert", "hotpotqa", "a.json", "-o", "o.jsonl", "--limit", "-2"], "--limit", "at least 1"),
        (["llm", "serve", "--port", "0"], "--port", "port number from 1 to 65535"),
        (["push", "ckpt"], "repo_id", "required"),
    ],
)
def test_a_bad_value_of_a_generated_convert_llm_or_push_flag_is_one_line(argv, flag, message, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and flag in err[0] and message in err[0], err


def test_a_format_option_set_in_a_config_file_for_another_format_is_refused(tmp_path: Path, capsys) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("k: 5\n", encoding="utf-8")
    table = tmp_path / "t.csv"
    table.write_text("query,chunk,label\nwho?,a,1\n", encoding="utf-8")
    assert main(["convert", "table", str(table), "-o", str(tmp_path / "o.jsonl"), "--config", str(config)]) == 1
    assert capsys.readouterr().err.strip() == "lore-rag: error: --k applies to beir only, not to table"
    assert not (tmp_path / "o.jsonl").exists()


def test_convert_options_follow_the_format() -> None:
    base = {"inputs": ["x"], "output": "o.jsonl"}
    assert ConvertConfig(format="hotpotqa", **base).converter_options() == {}
    assert ConvertConfig(format="musique", dataset="m", **base).converter_options() == {
        "dataset": "m",
        "with_aliases": False,
    }
    beir = ConvertConfig(format="beir", k=4, **base).converter_options(show_progress=False)
    assert beir == {
        "split": "test",
        "candidates": "bm25",
        "k": 4,
        "min_score": 1.0,
        "missing_positives": "add",
        "title_in_chunk": False,
        "show_progress": False,
    }
    mapping = ConvertConfig(format="table", query_field="q", delimiter=";", **base).converter_options()["mapping"]
    assert (mapping.query_field, mapping.delimiter, mapping.layout) == ("q", ";", "auto")
    with pytest.raises(ConfigError, match="--prefer-well-formed applies to msmarco only, not to beir"):
        ConvertConfig(format="beir", prefer_well_formed=True, **base).converter_options()


def test_the_llm_and_push_flags_rebuild_their_settings() -> None:
    serve = _subparser("llm").parse_args(["serve"])
    assert config_from_args(AskSettings, serve) == AskSettings()
    assert config_from_args(LocalServerSettings, serve) == LocalServerSettings()
    ask = _subparser("llm").parse_args(["ask", "why?", "--context", "a", "--long", "--port", "9002"])
    assert config_from_args(AskSettings, ask) == AskSettings(question="why?", context=["a"], long=True)
    assert config_from_args(LocalServerSettings, ask).port == 9002
    push = _subparser("push").parse_args(["runs/x", "me/model", "--private", "--message", "first"])
    assert config_from_args(PushConfig, push) == PushConfig(
        checkpoint="runs/x", repo_id="me/model", private=True, commit_message="first"
    )


def test_the_local_server_listens_on_the_serve_port_or_a_free_one() -> None:
    default = LocalServerSettings()
    assert default.server_options(serving=True) == {"host": "127.0.0.1", "port": SERVE_PORT, "log_path": "-"}
    assert default.server_options(serving=False) == {"host": "127.0.0.1"}  # a free port, a temporary log
    given = LocalServerSettings(host="0.0.0.0", port=9003, log_file="s.log")
    assert given.server_options(serving=False) == {"host": "0.0.0.0", "port": 9003, "log_path": "s.log"}
    assert given.server_options(serving=True) == {"host": "0.0.0.0", "port": 9003, "log_path": "s.log"}


def test_build_data_anchors_llm_queries_for_the_bundled_model_only_unless_told() -> None:
    from lore_rag.llm import BUNDLED_MODEL_NAME

    args = _subparser("build-data").parse_args(["a.jsonl", "-o", "b.jsonl"])
    auto = config_from_args(BuildModelSettings, args)
    assert auto == BuildModelSettings() and auto.anchors(BUNDLED_MODEL_NAME) and not auto.anchors("gpt-4o-mini")
    assert config_from_args(BuildConfig, args).anchor_question is False  # BuildConfig's own field has no flag
    assert BuildModelSettings(anchor_question="on").anchors("gpt-4o-mini")
    assert not BuildModelSettings(anchor_question="off").anchors(BUNDLED_MODEL_NAME)


@pytest.mark.parametrize(
    ("argv", "losses", "files"),
    [
        ([], ("infonce", "lore"), 1),  # no data: the default comparison on the bundled validation set
        (["--train", "t.jsonl"], None, 0),  # one plain run
        (["--train", "t.jsonl", "--seeds", "0", "1"], ("lore",), 0),
        (["--train", "t.jsonl", "--compare", "--validation", "v.jsonl", "--eval", "e.jsonl"], ("infonce", "lore"), 2),
    ],
)
def test_train_comparison_flags_choose_the_run(argv, losses, files) -> None:
    from lore_rag.cli import build_parser
    from lore_rag.config import config_from_args

    args = build_parser().parse_args(["train", *argv])
    config, comparison = config_from_args(TrainConfig, args), config_from_args(ComparisonConfig, args)
    assert comparison.losses(config) == losses
    if losses is not None:
        assert len(comparison.files(config)) == files
