"""--select-rule: best/ chosen by constraints against the base model (step 0), then one objective."""

from __future__ import annotations

import pytest

from lore_rag.errors import ConfigError
from lore_rag.training.args import TrainConfig
from lore_rag.training.selection import evaluator_view, needs_corpus, parse_selection_rule, select

RULE = "candidates/plain/P@3>=raw-0.5; corpus/plain/P@10>=raw-1; min candidates/rewritten/N1@3"


def _eval(plain_p3: float, corpus_p10: float, n1: float) -> dict[str, dict[str, float]]:
    return {
        "rewritten": {"P@3": 60.0, "N1@3": n1},
        "original": {"P@3": plain_p3},
        "corpus-original": {"P@10": corpus_p10, "MRR@10": 0.8},
    }


EVALS = {
    0: _eval(72.0, 87.0, 95.0),  # the base model
    10: _eval(71.8, 86.5, 50.0),  # within both bounds
    20: _eval(71.6, 86.2, 35.0),  # within both bounds, fewer distractors: the choice
    30: _eval(70.0, 86.5, 20.0),  # fewest distractors, but plain P@3 fell 2 points
    40: _eval(71.9, 85.0, 25.0),  # corpus plain P@10 fell 2 points
}


def test_the_rule_keeps_steps_within_bounds_of_the_base_model_then_minimises() -> None:
    choice = select(parse_selection_rule(RULE), EVALS)
    assert choice.step == 20
    assert choice.feasible == [10, 20]
    assert set(choice.failed) == {30, 40}
    assert "candidates/plain/P@3 = 70.00, needs >= 71.50" in choice.failed[30][0]
    assert "corpus/plain/P@10 = 85.00, needs >= 86.00" in choice.failed[40][0]


def test_the_base_model_is_a_reference_never_a_choice_and_ties_go_to_the_earlier_step() -> None:
    rule = parse_selection_rule("max candidates/rewritten/P@3")  # every step scores 60
    assert select(rule, EVALS).step == 10
    assert select(rule, {0: EVALS[0]}).step is None


def test_no_step_within_bounds_chooses_nothing_and_says_why() -> None:
    choice = select(parse_selection_rule("candidates/plain/P@3>=raw+5; max candidates/rewritten/P@3"), EVALS)
    assert choice.step is None and choice.feasible == []
    assert sorted(choice.failed) == [10, 20, 30, 40]


def test_a_raw_bound_without_the_base_models_evaluation_is_an_error() -> None:
    rule = parse_selection_rule(RULE)
    with pytest.raises(ConfigError, match="base model was not evaluated"):
        select(rule, {k: v for k, v in EVALS.items() if k})
    assert select(parse_selection_rule("candidates/plain/P@3>=71.7; max candidates/plain/P@3"), {10: EVALS[10]}).step


def test_a_metric_the_evaluation_lacks_is_named() -> None:
    with pytest.raises(ConfigError, match="corpus/rewritten/P@10 is not among the validation metrics of step 0"):
        select(parse_selection_rule("corpus/rewritten/P@10>=raw; min candidates/rewritten/N1@3"), EVALS)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "--select-rule: empty"),
        ("candidates/plain/P@3>=tuned-1; min candidates/rewritten/N1@3", "'tuned' is lore-rag tradeoff's"),
        ("candidates/plain/N1@3<=5; max candidates/plain/P@3", "plain questions have no distractors"),
        ("candidates/rewritten/MRR@10>=raw; max candidates/plain/P@3", "candidates protocol has P@k and N1@k only"),
        ("candidates/plain/P@3>=raw", "add an objective"),
    ],
)
def test_a_bad_rule_is_one_line_naming_the_flag_and_the_clause(text, message) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_selection_rule(text)
    assert "--select-rule" in str(info.value) and "\n" not in str(info.value)


def test_the_config_checks_its_rule_before_any_work() -> None:
    with pytest.raises(
        ConfigError, match="field 'select_rule': --select-rule: metric 'x/plain/P@3': protocol must be one of"
    ):
        TrainConfig(select_rule="x/plain/P@3>=0; min candidates/rewritten/N1@3")
    config = TrainConfig(select_rule=RULE)
    assert "select_rule" not in config.result_settings()  # choosing best/ does not change the weights


def test_rule_metrics_map_onto_the_evaluators_views() -> None:
    assert evaluator_view("candidates/plain/P@3") == ("original", "P@3")
    assert evaluator_view("corpus/rewritten/N1@3") == ("corpus-rewritten", "N1@3")
    assert needs_corpus(parse_selection_rule(RULE))
    assert not needs_corpus(parse_selection_rule("candidates/plain/P@3>=raw; min candidates/rewritten/N1@3"))
