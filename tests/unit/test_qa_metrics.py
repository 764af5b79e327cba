"""Answer metrics against the corner cases of the official HotpotQA, SQuAD v1.1/v2.0 and MuSiQue scripts.

Expected values are worked out by hand from the scripts' definitions (normalise, then bag-of-tokens overlap).
"""

from __future__ import annotations

import pytest

from lore_rag.evaluation.qa import (
    best_exact_match,
    best_f1,
    exact_match,
    f1_precision_recall,
    f1_score,
    gold_answers,
    normalize_answer,
    score_answer,
    style_for_dataset,
)

# --- normalisation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Beatles", "beatles"),
        ("THE END", "end"),
        ("an apple a day", "apple day"),
        ("A", ""),
        ("the", ""),
        # articles only as whole words: inside words they stay
        ("theatre anthem", "theatre anthem"),
        ("Athens and Thebes", "athens and thebes"),
        # punctuation goes before articles, so a punctuated article survives as part of a word ...
        ("the.answer", "theanswer"),
        ("a-team", "ateam"),
        # ... and a bracketed one is removed
        ("(the) answer", "answer"),
        ("U.S.A.", "usa"),
        ("1,000,000", "1000000"),
        ("rock-and-roll", "rockandroll"),
        ("O'Neil's", "oneils"),
        ("$5.00!", "500"),
        # whitespace: leading, trailing, runs, tabs, newlines, and the Unicode no-break space
        ("  New   York \n\t City ", "new york city"),
        ("New\u00a0York", "new york"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_normalize_answer(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


def test_normalize_unicode_lowercases_but_keeps_non_ascii_punctuation() -> None:
    # str.lower() handles accented capitals; only string.punctuation (ASCII) is removed
    assert normalize_answer("Ángel Di María") == "ángel di maría"
    assert normalize_answer("ÉCOLE Normale") == "école normale"
    assert normalize_answer("\u201cParis\u201d") == "\u201cparis\u201d"
    assert normalize_answer("1990\u20131995") == "1990\u20131995"
    assert normalize_answer("Tōkyō") == "tōkyō"
    # the article pattern is word-bounded in Unicode too: "thé" is not "the"
    assert normalize_answer("thé vert") == "thé vert"


# --- exact match ---------------------------------------------------------------------------------------------


def test_exact_match_ignores_case_articles_punctuation_whitespace() -> None:
    assert exact_match("The Beatles.", "beatles") == 1.0
    assert exact_match("  the  BEATLES ", "Beatles") == 1.0
    assert exact_match("Beatles", "The Rolling Stones") == 0.0
    assert exact_match("Paris, France", "Paris") == 0.0


def test_exact_match_of_two_answers_that_normalise_to_nothing() -> None:
    # official quirk: "the" vs "a" is an exact match (both normalise to "") ...
    assert exact_match("the", "a") == 1.0
    # ... but HotpotQA / SQuAD v1.1 F1 is 0 (no common token), and SQuAD v2.0 / MuSiQue F1 is 1 (both empty)
    assert f1_score("the", "a", style="hotpotqa") == 0.0
    assert f1_score("the", "a", style="squad") == 0.0
    assert f1_score("the", "a", style="squad2") == 1.0


def test_empty_prediction() -> None:
    for style in ("hotpotqa", "squad", "squad2"):
        assert f1_score("", "Paris", style=style) == 0.0
        assert f1_score("Paris", "", style=style) == 0.0
    assert exact_match("", "Paris") == 0.0


# --- token F1 ------------------------------------------------------------------------------------------------


def test_f1_partial_overlap() -> None:
    # pred tokens [new, york], gold [new, york, city]: p = 1, r = 2/3, f1 = 0.8
    f1, p, r = f1_precision_recall("New York", "New York City")
    assert (f1, p, r) == pytest.approx((0.8, 1.0, 2 / 3))


def test_f1_counts_repeated_tokens_as_a_multiset() -> None:
    # common = min counts: cat 1, dog 1 -> 2 of 3 on each side
    f1, p, r = f1_precision_recall("cat cat dog", "cat dog dog")
    assert (f1, p, r) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    # repeats in the prediction lower precision only
    f1, p, r = f1_precision_recall("Paris Paris", "Paris")
    assert (p, r) == pytest.approx((0.5, 1.0))
    assert f1 == pytest.approx(2 / 3)


def test_f1_articles_do_not_count_as_tokens() -> None:
    assert f1_score("the cat", "a cat") == 1.0
    # "in" is a token: pred [cat, in, hat] vs gold [cat, hat] -> p 2/3, r 1 -> 0.8
    assert f1_score("The Cat in the Hat", "cat hat") == pytest.approx(0.8)


def test_f1_no_overlap_is_zero() -> None:
    assert f1_precision_recall("London", "Paris") == (0.0, 0.0, 0.0)


def test_hotpotqa_yes_no_rule() -> None:
    # same yes/no after normalisation: full marks
    assert f1_score("Yes.", "yes", style="hotpotqa") == 1.0
    assert f1_score("no", "No", style="hotpotqa") == 1.0
    # a yes/no gold with any other prediction scores 0, even when the prediction contains it ...
    assert f1_score("yes, he was", "yes", style="hotpotqa") == 0.0
    assert f1_score("no way", "no", style="hotpotqa") == 0.0
    assert f1_score("yes", "no", style="hotpotqa") == 0.0
    # ... and a yes/no/noanswer prediction against another gold scores 0
    assert f1_score("yes", "yes sir", style="hotpotqa") == 0.0
    assert f1_score("noanswer", "no answer", style="hotpotqa") == 0.0
    # SQuAD has no such rule: plain token overlap
    assert f1_score("yes, he was", "yes", style="squad") == pytest.approx(0.5)  # p 1/3, r 1
    assert f1_score("no way", "no", style="squad2") == pytest.approx(2 / 3)  # p 1/2, r 1
    assert f1_score("yes", "yes sir", style="squad") == pytest.approx(2 / 3)


def test_yes_no_rule_reaches_exact_match_too() -> None:
    # EM needs no special rule: it is already 0 for "yes, he was" vs "yes"
    assert exact_match("yes, he was", "yes") == 0.0
    assert exact_match("YES!", "yes") == 1.0


def test_unknown_style_is_refused() -> None:
    with pytest.raises(ValueError, match="style"):
        f1_score("a", "b", style="bleu")  # type: ignore[arg-type]


# --- several golds (aliases) ---------------------------------------------------------------------------------


def test_best_over_aliases() -> None:
    golds = ["New York City", "NYC"]
    assert best_exact_match("nyc", golds) == 1.0
    assert best_f1("nyc", golds) == 1.0
    assert best_exact_match("Boston", golds) == 0.0
    assert best_f1("Boston", golds) == 0.0


def test_em_and_f1_are_maximised_separately() -> None:
    golds = ["York", "New York City"]
    score = score_answer("New York", golds)
    assert score.em == 0.0
    # vs "York": p 1/2, r 1 -> 2/3; vs "New York City": p 1, r 2/3 -> 0.8 (the best)
    assert score.f1 == pytest.approx(0.8)
    assert (score.precision, score.recall) == pytest.approx((1.0, 2 / 3))
    assert score.best_gold == "New York City"
    # EM from one alias, F1 from the same one here
    score = score_answer("york", golds)
    assert (score.em, score.f1, score.best_gold) == (1.0, 1.0, "York")


def test_single_gold_string_is_accepted() -> None:
    assert best_f1("Paris", "paris") == 1.0
    assert score_answer("Paris", "paris").best_gold == "paris"


def test_no_gold_is_an_error() -> None:
    with pytest.raises(ValueError, match="no gold"):
        best_f1("x", [])
    with pytest.raises(ValueError, match="no gold"):
        score_answer("x", [])


def test_gold_answers_collects_aliases_and_lists() -> None:
    # MuSiQue: answer + answer_aliases
    assert gold_answers("Barack Obama", {"answer_aliases": ["Obama", "Barack Obama", " "]}) == [
        "Barack Obama",
        "Obama",
    ]
    # MS MARCO: several answers, and its no-answer marker dropped
    assert gold_answers(["42 days", "six weeks"]) == ["42 days", "six weeks"]
    assert gold_answers(None, {"answers": ["No Answer Present."]}) == []
    assert gold_answers("No Answer Present.") == []
    assert gold_answers(None) == []
    assert gold_answers("  Cork ") == ["Cork"]


@pytest.mark.parametrize(
    ("dataset", "style"),
    [
        ("hotpotqa", "hotpotqa"),
        ("HotpotQA", "hotpotqa"),
        ("2wikimultihopqa", "hotpotqa"),
        ("musique", "squad2"),
        ("msmarco", "squad"),
        ("ms_marco", "squad"),
        ("MS MARCO", "squad"),
        ("2WikiMultiHopQA", "hotpotqa"),
        ("something-else", "hotpotqa"),
        (None, "hotpotqa"),
    ],
)
def test_style_for_dataset(dataset: str | None, style: str) -> None:
    assert style_for_dataset(dataset) == style
