"""Paired bootstrap intervals: exact cases, pairing, seeds, determinism and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from lore_rag.evaluation.bootstrap import (
    bootstrap_mean,
    format_interval,
    paired_bootstrap,
    paired_differences,
)


def test_identical_models_give_a_zero_width_interval_at_zero():
    values = np.random.default_rng(1).uniform(0, 100, size=200)
    interval = paired_bootstrap(values, values.copy())
    assert interval.estimate == 0.0 and interval.low == 0.0 and interval.high == 0.0
    assert not interval.excludes_zero


def test_a_constant_shift_is_recovered_exactly_whatever_the_questions():
    base = np.random.default_rng(2).uniform(0, 100, size=150)
    interval = paired_bootstrap(base + 3.0, base)
    assert interval.estimate == pytest.approx(3.0)
    assert interval.low == pytest.approx(3.0) and interval.high == pytest.approx(3.0)
    assert interval.excludes_zero


def test_pairing_removes_question_difficulty_an_unpaired_interval_keeps():
    rng = np.random.default_rng(3)
    difficulty = rng.uniform(0, 100, size=300)
    model = difficulty + 1.0 + rng.normal(0, 0.5, size=300)
    paired = paired_bootstrap(model, difficulty)
    alone = bootstrap_mean(model)
    assert paired.low > 0.8 and paired.high < 1.2
    assert (paired.high - paired.low) < 0.1 * (alone.high - alone.low)


def test_interval_width_matches_the_normal_approximation():
    rng = np.random.default_rng(4)
    a, b = rng.normal(0, 10, size=400), np.zeros(400)
    interval = paired_bootstrap(a, b, n_resamples=4000, seed=7)
    expected_half = 1.96 * a.std(ddof=1) / np.sqrt(len(a))
    assert (interval.high - interval.low) / 2 == pytest.approx(expected_half, rel=0.12)
    assert interval.low < interval.estimate < interval.high
    assert interval.std_error == pytest.approx(a.std(ddof=1) / np.sqrt(len(a)), rel=0.12)


def test_seed_variation_widens_the_interval_and_the_estimate_averages_seeds():
    rng = np.random.default_rng(5)
    base = rng.uniform(0, 100, size=200)
    one_seed = base + 2.0
    # Three seeds whose offsets vary a lot from seed to seed: the interval must cover that spread.
    seeds = np.stack([base + 2.0 + offset for offset in (-3.0, 0.0, 3.0)])
    narrow = paired_bootstrap(one_seed, base)
    wide = paired_bootstrap(seeds, base)
    assert wide.estimate == pytest.approx(2.0)
    assert wide.n_seeds == (3, 1) and narrow.n_seeds == (1, 1)
    assert (wide.high - wide.low) > 2.0 > (narrow.high - narrow.low)


def test_same_seed_same_interval_other_seed_other_draws():
    rng = np.random.default_rng(6)
    a, b = rng.uniform(0, 100, size=100), rng.uniform(0, 100, size=100)
    first, again = paired_bootstrap(a, b, seed=3), paired_bootstrap(a, b, seed=3)
    assert first == again
    assert paired_bootstrap(a, b, seed=4).low != first.low


@pytest.mark.parametrize(
    ("model", "baseline", "kwargs", "message"),
    [
        ([1.0, 2.0], [1.0], {}, "same questions"),
        ([1.0, float("nan")], [1.0, 2.0], {}, "finite"),
        ([], [], {}, "no questions"),
        ([1.0], [1.0], {"n_resamples": 999}, "at least 1000"),
        ([1.0], [1.0], {"confidence": 1.0}, "confidence"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(model, baseline, kwargs, message):
    with pytest.raises(ValueError, match=message):
        paired_bootstrap(model, baseline, **kwargs)


def test_paired_differences_compares_every_model_with_the_baseline():
    base = np.array([0.0, 100.0, 50.0, 100.0])
    per_question = {
        "raw": {"P@3": base, "N1@3": base},
        "lore": {"P@3": base + 10, "N1@3": base - 20},
    }
    out = paired_differences(per_question, "raw")
    assert list(out) == ["lore"]
    assert out["lore"]["P@3"].estimate == pytest.approx(10.0)
    assert out["lore"]["N1@3"].estimate == pytest.approx(-20.0)
    with pytest.raises(ValueError, match="baseline 'nope'"):
        paired_differences(per_question, "nope")
    with pytest.raises(ValueError, match="metric 'MRR@10'"):
        paired_differences(per_question, "raw", metrics=["MRR@10"])


def test_format_interval_uses_minus_signs_and_no_negative_zero():
    rng = np.random.default_rng(8)
    base = rng.uniform(0, 100, size=50)
    text = format_interval(paired_bootstrap(base - 4.7, base))
    assert text == "−4.7 [−4.7, −4.7]"
    assert format_interval(paired_bootstrap(base - 0.01, base)) == "+0.0 [+0.0, +0.0]"
