"""Evaluation: scores for every target language, significance, sentence chrF."""

import math

import pytest

from s2s_keras.evaluation import (
    bleu_by_length,
    bleu_gap_by_length,
    corpus_scores,
    paired_bootstrap,
    sentence_chrf,
    source_length,
)


def test_sentence_chrf_is_100_for_an_exact_match_and_0_with_nothing_shared():
    scores = sentence_chrf(["the cat sat", "xyz", "the cat"], ["the cat sat", "abc", "the cat sat"])
    assert scores[0] == pytest.approx(100.0)
    assert scores[1] == 0.0
    assert 0.0 < scores[2] < 100.0


def test_sentence_chrf_of_one_sentence_equals_corpus_chrf_of_that_sentence():
    hyp, ref = "a dog runs in the park", "the dog is running in the park"
    assert sentence_chrf([hyp], [ref])[0] == pytest.approx(corpus_scores([hyp], [ref])["chrf"])


def test_sentence_chrf_rejects_misaligned_inputs():
    with pytest.raises(ValueError, match="2 hypotheses for 1 references"):
        sentence_chrf(["a", "b"], ["a"])


# --- BLEU for the target language -------------------------------------------------------

ZH_HYP, ZH_REF = "猫坐在垫子上。", "猫坐在垫子上了。"


def test_a_chinese_target_is_scored_with_the_zh_tokenizer():
    # One token per character: 7/7, 5/6, 4/5 and 3/4 n-grams match; 7 against 8 characters.
    expected = 100 * math.exp(1 - 8 / 7) * (1 * 5 / 6 * 4 / 5 * 3 / 4) ** 0.25
    scores = corpus_scores([ZH_HYP], [ZH_REF], target_lang="zh")
    assert scores["bleu"] == pytest.approx(expected)
    assert "|tok:zh|" in scores["bleu_signature"] and "case:lc" in scores["bleu_signature"]
    assert scores["chrf"] == corpus_scores([ZH_HYP], [ZH_REF])["chrf"]


def test_13a_would_read_a_chinese_sentence_as_one_word():
    scores = corpus_scores([ZH_HYP], [ZH_REF])
    assert scores["bleu"] == 0.0 and "|tok:13a|" in scores["bleu_signature"]


def test_other_target_languages_keep_13a():
    hyps, refs = ["The cat sat on the mat."], ["The cat sat on a mat."]
    assert corpus_scores(hyps, refs, target_lang="en") == corpus_scores(hyps, refs)
    assert corpus_scores(hyps, refs, target_lang="es")["bleu_signature"].startswith(
        "nrefs:1|case:lc|eff:no|tok:13a|"
    )


def test_bleu_by_length_scores_a_chinese_target_like_corpus_scores():
    [row] = bleu_by_length(["The cat sat on the mat."], [ZH_HYP], [ZH_REF], target_lang="zh")
    assert row["bleu"] == pytest.approx(corpus_scores([ZH_HYP], [ZH_REF], target_lang="zh")["bleu"])


# --- paired bootstrap -------------------------------------------------------------------

REFS = [f"the {a} sat on the {b} today" for a in ("cat", "dog", "bird", "cow") for b in "xyzuv"]
GOOD = list(REFS)
BAD = [r.replace("the ", "a ").replace(" today", "") for r in REFS]
ALMOST = [*GOOD[:-1], "the cow sat on a v today"]  # one word wrong in one sentence of 20


@pytest.fixture(autouse=True)
def default_sacrebleu_seed(monkeypatch):
    monkeypatch.delenv("SACREBLEU_SEED", raising=False)


def test_a_system_better_on_every_sentence_is_significantly_better():
    result = paired_bootstrap(BAD, GOOD, REFS, samples=200)
    assert result["bleu"]["system"] == pytest.approx(100.0)
    assert result["bleu"]["baseline"] < 50.0
    assert result["bleu"]["p_value"] == 1 / 201  # no resample reaches the observed difference
    assert result["bleu"]["significant"] and result["chrf"]["significant"]
    assert "|bs:200|seed:12345|" in result["bleu_signature"]
    assert "|bs:200|seed:12345|" in result["chrf_signature"]


def test_one_wrong_word_in_twenty_sentences_is_not_significant():
    result = paired_bootstrap(GOOD, ALMOST, REFS, samples=200)
    assert result["bleu"]["baseline"] == pytest.approx(100.0)
    assert result["bleu"]["system"] < result["bleu"]["baseline"]
    assert result["bleu"]["p_value"] > 0.05 and not result["bleu"]["significant"]


def test_identical_outputs_are_never_significant():
    result = paired_bootstrap(ALMOST, ALMOST, REFS, samples=100)
    # sacrebleu's p-value for a zero difference is its smallest one, 1 / (samples + 1).
    assert result["bleu"]["p_value"] == 1 / 101
    assert not result["bleu"]["significant"] and not result["chrf"]["significant"]


def test_paired_bootstrap_uses_the_zh_tokenizer_for_a_chinese_target():
    result = paired_bootstrap([ZH_HYP], [ZH_REF], [ZH_REF], target_lang="zh", samples=10)
    assert result["bleu"]["baseline"] == pytest.approx(
        corpus_scores([ZH_HYP], [ZH_REF], target_lang="zh")["bleu"]
    )
    assert "|tok:zh|" in result["bleu_signature"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"samples": 0}, "samples must be a positive integer, got 0"),
        ({"alpha": 1.5}, r"alpha must be in \(0, 1\), got 1.5"),
    ],
)
def test_paired_bootstrap_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        paired_bootstrap(GOOD, GOOD, REFS, **kwargs)


def test_paired_bootstrap_rejects_misaligned_outputs():
    with pytest.raises(ValueError, match="got 20 baseline and 19 system outputs for 20 references"):
        paired_bootstrap(GOOD, GOOD[:-1], REFS)


@pytest.mark.parametrize(
    "sentence, language, length",
    [
        ("Tom会说法语吗？", "zh", 6),  # Tom + 5 characters; punctuation not counted
        ("我有3只猫。", "zh", 5),
        ("我們會說國語", "zh", 6),  # traditional characters count the same
        ("", "zh", 0),
        ("¿Habla Tom francés?", "es", 3),
        ("¿Habla Tom francés?", None, 3),
    ],
)
def test_source_length_counts_words_or_chinese_characters(sentence, language, length):
    assert source_length(sentence, language) == length


def test_bleu_by_length_measures_a_chinese_source_in_characters():
    sources = ["你好。", "我是一个学生。", "他们明天早上八点去北京。"]  # 2, 6 and 11 characters
    rows = bleu_by_length(sources, ["Hi."] * 3, ["Hi."] * 3, edges=(0, 5, 10), source_lang="zh")
    assert [(r["bucket"], r["sentences"]) for r in rows] == [("0-4", 1), ("5-9", 1), ("10+", 1)]
    words = bleu_by_length(sources, ["Hi."] * 3, ["Hi."] * 3, edges=(0, 5, 10))
    assert [(r["bucket"], r["sentences"]) for r in words] == [("0-4", 3)]


# --- BLEU gap by length ------------------------------------------------------------------


def test_bleu_gap_by_length_subtracts_the_baseline_bucket_by_bucket():
    sources = ["a b", "a b c d e f", "a"]
    # every reference has 4-grams: an exact copy scores 100, a disjoint output 0
    refs = ["the cat sat on the mat", "a dog ran in the park today", "we are here now"]
    baseline = bleu_by_length(sources, ["x y z w", "a dog ran in the park today", "no"], refs)
    system = bleu_by_length(sources, refs, refs)
    rows = bleu_gap_by_length(baseline, system)
    assert [(r["bucket"], r["sentences"]) for r in rows] == [("0-4", 2), ("5-9", 1)]
    assert [r["system"] for r in rows] == [pytest.approx(100.0), pytest.approx(100.0)]
    assert rows[1]["baseline"] == pytest.approx(100.0) and rows[1]["gap"] == pytest.approx(0.0)
    assert rows[0]["baseline"] == pytest.approx(0.0) and rows[0]["gap"] == pytest.approx(100.0)


def test_bleu_gap_by_length_rejects_buckets_of_other_sentences():
    one = [{"bucket": "0-4", "sentences": 3, "bleu": 10.0}]
    with pytest.raises(ValueError, match="buckets"):
        bleu_gap_by_length(one, [{"bucket": "0-4", "sentences": 2, "bleu": 12.0}])
    with pytest.raises(ValueError, match="buckets"):
        bleu_gap_by_length(one, [])
