"""The trade-off rule grammar, the choice it makes, weight interpolation, and per-question metric arrays."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lore_rag.data.schema import Example, Tier
from lore_rag.errors import ConfigError, ModelError
from lore_rag.evaluation.candidates import candidate_metrics, per_question_metrics
from lore_rag.evaluation.tradeoff import choose, interpolate_state, parse_rule

P, N1, N2 = Tier.POSITIVE, Tier.DISTRACTOR, Tier.NEGATIVE


def test_a_rule_reads_constraints_then_one_objective():
    rule = parse_rule("corpus/plain/P@10>=raw-0.5; candidates/original/P@3 > 70 ;min candidates/rewritten/N1@3")
    assert rule.goal == "min" and rule.objective == "candidates/rewritten/N1@3"
    first, second = rule.constraints
    assert (first.metric, first.op, first.ref, first.delta) == ("corpus/plain/P@10", ">=", "raw", -0.5)
    assert (second.metric, second.op, second.ref, second.delta) == ("candidates/plain/P@3", ">", None, 70.0)
    assert parse_rule("max corpus/rewritten/MRR@10").constraints == ()
    assert parse_rule("corpus/plain/P@3 <= tuned+2; max corpus/plain/P@3").constraints[0].delta == 2.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("corpus/plain/P@10>=raw", "add an objective"),
        ("min corpus/plain/P@10; max corpus/plain/P@5", "only one objective"),
        ("min P@3", "PROTOCOL/VIEW/METRIC"),
        ("min index/plain/P@3", "protocol must be"),
        ("min corpus/weird/P@3", "view must be"),
        ("min corpus/plain/R@3", "metric must be"),
        ("min corpus/plain/P@4", "k=4 is not among"),
        ("min candidates/rewritten/MRR@10", "P@k and N1@k only"),
        ("min corpus/plain/N1@3", "no distractors"),
        ("corpus/plain/P@10 => raw; min corpus/plain/P@3", "not 'METRIC >= BOUND'"),
        ("corpus/plain/P@10 >= base-1; min corpus/plain/P@3", "the bound must be"),
        ("min", "'min METRIC'"),
    ],
)
def test_a_bad_rule_is_one_clear_line(text, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_rule(text)
    assert "\n" not in str(info.value) and str(info.value).startswith("--rule")


def test_choose_keeps_ratios_meeting_every_constraint_then_optimises():
    by_ratio = {
        0.0: {"corpus/plain/P@10": 87.0, "candidates/rewritten/N1@3": 97.0},
        0.5: {"corpus/plain/P@10": 86.5, "candidates/rewritten/N1@3": 50.0},
        0.75: {"corpus/plain/P@10": 84.0, "candidates/rewritten/N1@3": 30.0},
        1.0: {"corpus/plain/P@10": 80.0, "candidates/rewritten/N1@3": 25.0},
    }
    choice = choose(parse_rule("corpus/plain/P@10>=raw-1; min candidates/rewritten/N1@3"), by_ratio)
    assert choice.ratio == 0.5 and choice.feasible == [0.0, 0.5]
    assert "needs >= 86.00" in choice.failed[0.75][0]
    assert choose(parse_rule("corpus/plain/P@10>=raw-5; min candidates/rewritten/N1@3"), by_ratio).ratio == 0.75
    assert choose(parse_rule("min candidates/rewritten/N1@3"), by_ratio).ratio == 1.0
    none = choose(parse_rule("corpus/plain/P@10>=90; min candidates/rewritten/N1@3"), by_ratio)
    assert none.ratio is None and set(none.failed) == set(by_ratio)
    # ties go to the smaller ratio (closer to the base model)
    flat = {r: {"corpus/plain/P@10": 1.0} for r in (0.0, 0.5, 1.0)}
    assert choose(parse_rule("max corpus/plain/P@10"), flat).ratio == 0.0
    with pytest.raises(ConfigError, match="ratios must include 0"):
        choose(parse_rule("corpus/plain/P@10>=raw; max corpus/plain/P@10"), {0.5: flat[0.5]})


def test_interpolation_is_linear_in_float_weights_and_keeps_integer_buffers():
    base = {"w": torch.zeros(2, 2), "ids": torch.arange(3)}
    tuned = {"w": torch.ones(2, 2) * 4, "ids": torch.arange(3)}
    assert torch.equal(interpolate_state(base, tuned, 0.0)["w"], base["w"])
    assert torch.equal(interpolate_state(base, tuned, 1.0)["w"], tuned["w"])
    assert torch.allclose(interpolate_state(base, tuned, 0.75)["w"], torch.full((2, 2), 3.0))
    assert interpolate_state(base, tuned, 0.5)["ids"].dtype == torch.int64
    with pytest.raises(ModelError, match="different weights"):
        interpolate_state(base, {"w": tuned["w"]}, 0.5)
    with pytest.raises(ModelError, match="shape"):
        interpolate_state(base, {"w": torch.ones(3), "ids": tuned["ids"]}, 0.5)


def test_per_question_metrics_average_to_the_reported_means():
    examples = [
        Example(query="a", chunks=["p", "d", "n", "m"], tiers=[P, N1, N2, N2]),
        Example(query="b", chunks=["p", "q", "d", "n"], tiers=[P, P, N1, N2]),
        Example(query="c", chunks=["p", "n"], tiers=[P, N2]),
    ]
    scores = [np.array([0.1, 0.9, 0.2, 0.0]), np.array([0.9, 0.1, 0.8, 0.0]), np.array([0.5, 0.4])]
    per = per_question_metrics(scores, examples, ks=(1, 3))
    assert per["P@1"].tolist() == [0.0, 50.0, 100.0]
    assert per["N1@1"].tolist() == [100.0, 0.0, 0.0]  # no distractor counts 0
    assert per["P@3"].tolist() == [100.0, 100.0, 100.0]
    assert per["N1@3"].tolist() == [100.0, 100.0, 0.0]
    means = candidate_metrics(scores, examples, ks=(1, 3))
    for key, values in per.items():
        assert means[key] == pytest.approx(values.mean())
