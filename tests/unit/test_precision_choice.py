"""bf16 by default where the device computes it natively, fp32 elsewhere; --bf16 / --no-bf16 decide it outright."""

from __future__ import annotations

import pytest

from lore_rag.cli import build_parser
from lore_rag.cli.options import config_from_args
from lore_rag.errors import ConfigError
from lore_rag.models import loading
from lore_rag.training.args import TrainConfig

INTEL = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_tile\n\nprocessor\t: 1\nflags\t\t: fpu\n"
OLD_X86 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n"
ARM_BF16 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"
ARM_PLAIN = "processor\t: 0\nFeatures\t: fp asimd\n"
NAMED_ONLY = "model name\t: Imaginary CPU with avx512_bf16 in its name\nflags\t\t: fpu sse2\n"


@pytest.fixture
def cpuinfo(monkeypatch, tmp_path):
    """Point /proc/cpuinfo reads at a file of the test's choosing."""
    real_open = open

    def use(text: str | None) -> None:
        loading.has_native_bf16.cache_clear()
        path = tmp_path / "cpuinfo"
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(text)

        def fake_open(file, *args, **kwargs):
            return real_open(path if str(file) == "/proc/cpuinfo" else file, *args, **kwargs)

        monkeypatch.setattr("builtins.open", fake_open)

    yield use
    loading.has_native_bf16.cache_clear()


@pytest.mark.parametrize(
    ("text", "expected"),
    [(INTEL, True), (OLD_X86, False), (ARM_BF16, True), (ARM_PLAIN, False), (NAMED_ONLY, False), (None, False)],
    ids=["avx512-bf16", "avx512-without-bf16", "arm-bf16", "arm-plain", "only-in-the-name", "unreadable"],
)
def test_a_cpu_has_native_bf16_only_with_the_instructions(cpuinfo, text, expected) -> None:
    cpuinfo(text)
    assert loading.has_native_bf16("cpu") is expected


def test_other_devices_are_never_chosen_for_bf16_automatically() -> None:
    assert loading.has_native_bf16("mps") is False
    assert loading.has_native_bf16("xpu:0") is False


def test_the_default_follows_the_machine_and_the_flags_override_it(cpuinfo) -> None:
    cpuinfo(INTEL)
    auto = TrainConfig(device="cpu")
    assert auto.bf16 is None and auto.use_bf16 and auto.precision == "bf16"
    assert auto.resolved().bf16 is True
    assert TrainConfig(device="cpu", bf16=False).precision == "fp32"
    assert TrainConfig(device="cpu", fp16=True).use_bf16 is False  # --fp16 turns the automatic choice off
    cpuinfo(OLD_X86)
    assert TrainConfig(device="cpu").precision == "fp32"
    assert TrainConfig(device="cpu").resolved().bf16 is False


def test_a_resolved_run_key_says_which_precision_trained(cpuinfo) -> None:
    cpuinfo(INTEL)
    bf16_key = TrainConfig(device="cpu").resolved().run_key()
    assert bf16_key == TrainConfig(device="cpu", bf16=True).run_key()
    assert bf16_key != TrainConfig(device="cpu", bf16=False).run_key()


def test_insisting_on_bf16_without_it_is_a_one_line_error_before_any_work(cpuinfo, tmp_path) -> None:
    cpuinfo(OLD_X86)
    TrainConfig(device="cpu", output_dir=str(tmp_path / "auto")).check_runtime()  # automatic: fp32, no error
    with pytest.raises(ConfigError, match="--bf16: this CPU has no bfloat16"):
        TrainConfig(device="cpu", bf16=True, output_dir=str(tmp_path / "out")).check_runtime()


@pytest.mark.parametrize(("argv", "value"), [([], None), (["--bf16"], True), (["--no-bf16"], False)])
def test_the_train_flags_give_auto_on_and_off(argv, value) -> None:
    args = build_parser().parse_args(["train", *argv])
    assert config_from_args(TrainConfig, args).bf16 is value
