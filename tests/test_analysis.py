"""Error analysis (`s2s_keras.analysis`) and the timing helpers of the bench,
on tiny inputs with exact expectations."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from s2s_keras import analysis, bench
from s2s_keras.models import Seq2SeqConfig, build_model
from s2s_keras.training import compile_model


@pytest.mark.parametrize(
    "text, loops",
    [
        ("I'm m m mmmmmmmmmppppp", True),  # a letter five times in a row
        ("and and and so on", True),  # a word three times
        ("of the of the of the house", True),  # a two-word n-gram three times
        ("Tom is is is here.", True),
        ("Go, go!", False),  # twice is not a loop
        ("Tom knows that Tom knows.", False),  # repeated, but not back to back
        ("Zzzz.", False),  # four letters
        ("The cat. The cat. The cat.", True),  # punctuation between copies is ignored
        ("", False),
    ],
)
def test_has_loop(text, loops):
    assert analysis.has_loop(text) is loops


def test_has_loop_settings_and_count():
    assert analysis.has_loop("Go, go!", repeats=2)
    assert not analysis.has_loop("of the of the of the", max_ngram=1)
    assert analysis.loop_count(["fine", "and and and", "mmmmm", "no no"]) == 2
    with pytest.raises(ValueError, match="repeats >= 2"):
        analysis.has_loop("x", repeats=1)


def test_quartile_profile_splits_at_the_25th_percentile():
    scores = [10, 80, 90, 70, 20, 60, 50, 40]  # 25th percentile: 32.5 → 10 and 20 are worst
    profile = analysis.quartile_profile(
        scores, {"loops": [1, 0, 0, 0, 0, 0, 0, 1], "words": [8, 2, 2, 4, 6, 2, 2, 4]}
    )
    assert profile["sentences"] == {"worst": 2, "rest": 6}
    assert profile["loops"] == {"worst": 0.5, "rest": pytest.approx(1 / 6)}
    assert profile["words"] == {"worst": 7.0, "rest": 16 / 6}
    with pytest.raises(ValueError, match="3 values for 8 scores"):
        analysis.quartile_profile(scores, {"bad": [1, 2, 3]})


def test_retrieval_misses_longest_source_first_and_duplicates_are_no_miss():
    targets = ["a", "b", "c", "a"]
    sources = ["one", "two words", "three words here", "four"]
    source_vectors = np.eye(4)[[0, 2, 1, 0]]  # 1 and 2 swapped; 3 retrieves 0, the same text
    target_vectors = np.eye(4)
    assert analysis.retrieval_misses(source_vectors, target_vectors, targets, sources) == [
        (2, 1),
        (1, 2),
    ]
    assert analysis.retrieval_misses(source_vectors, target_vectors, targets) == [(1, 2), (2, 1)]
    with pytest.raises(ValueError, match="aligned"):
        analysis.retrieval_misses(source_vectors, target_vectors, targets[:3])


def test_bootstrap_against_compares_every_other_system_with_the_baseline():
    references = [f"the cat sat on mat number {i}" for i in range(20)]
    outputs = {
        "good": references,
        "bad": [f"a dog stood {i}" for i in range(20)],
        "same": list(references),
    }
    rows = analysis.bootstrap_against("good", outputs, references, samples=50)
    assert set(rows) == {"bad", "same"}
    assert rows["bad"]["bleu"]["significant"] and rows["bad"]["bleu"]["baseline"] == pytest.approx(
        100.0
    )
    assert not rows["same"]["bleu"]["significant"]  # equal scores are never significant
    with pytest.raises(ValueError, match="baseline 'best'"):
        analysis.bootstrap_against("best", outputs, references)


def _batches(n_batches=3, batch=4, source_length=5, target_length=6):
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n_batches):
        source = rng.integers(4, 20, size=(batch, source_length))
        target = rng.integers(4, 20, size=(batch, target_length))
        target[:, -2:] = 0  # two padding positions per sentence
        out.append(((source, target), target))
    return out


def _tiny_model():
    keras.utils.set_random_seed(0)
    model = build_model(Seq2SeqConfig(embedding_dim=4, units=4), 20, 20)
    compile_model(model, learning_rate=1e-3)
    return model


def test_target_tokens_counts_real_target_tokens_only():
    assert bench.target_tokens(_batches()) == 3 * 4 * 4  # 3 batches of 4 rows, 4 real tokens


def test_median_step_ms_warms_up_every_shape_first():
    model = _tiny_model()
    batches = _batches(2) + _batches(1, target_length=9)  # two shapes
    ms = bench.median_step_ms(model, batches)
    assert ms > 0
    assert int(model.optimizer.iterations.numpy()) == 6  # 3 warm-up steps + 3 timed
    with pytest.raises(ValueError, match="empty"):
        bench.median_step_ms(model, [])


def test_timed_after_warmup_times_only_the_calls_after_the_untimed_first(monkeypatch):
    clock = iter([10.0, 13.0, 20.0, 21.0, 30.0, 35.0])  # start, end of each timed call
    monkeypatch.setattr(bench.timing.time, "perf_counter", lambda: next(clock))
    calls = []

    def call():
        calls.append(len(calls))
        return f"result {len(calls)}"

    result, seconds = bench.timed_after_warmup(call, repeats=3)
    assert calls == [0, 1, 2, 3]  # one warm-up call, then three timed ones
    assert (result, seconds) == ("result 4", 3.0)  # the last result; median of 3, 1, 5 s
    for repeats in (0, 1.5, True):
        with pytest.raises(ValueError, match="repeats must be an integer >= 1"):
            bench.timed_after_warmup(call, repeats=repeats)
    assert len(calls) == 4  # a bad argument calls nothing


@pytest.mark.parametrize(
    "text, accented",
    [("¿Qué hora es?", True), ("Mañana", True), ("pingüino", True), ("Hola, Tom.", False)],
)
def test_has_accent_is_a_combining_mark_after_nfkd(text, accented):
    assert analysis.has_accent(text) is accented


@pytest.mark.parametrize(
    "piece, single",
    [
        ("##p", True),
        ("##e\u0301", True),  # a letter and its accent, decomposed
        ("##\u0301", True),  # a bare accent
        ("##\u0308", True),
        ("##ing", False),
        ("##", False),
        ("p", False),
        ("\u0301", False),  # not a continuation
    ],
)
def test_is_single_character_piece(piece, single):
    assert analysis.is_single_character_piece(piece) is single


def test_loop_profile_compares_looping_outputs_with_the_others():
    sources = ["uno dos tres cuatro", "sí", "hola", "adiós amigo"]
    outputs = ["mmmmm", "yes", "and and and", "goodbye friend"]
    pieces = [["m", "##m", "##m"], ["yes"], ["and", "and", "and"], ["good", "##bye", "friend"]]
    profile = analysis.loop_profile(sources, outputs, pieces)
    assert profile["looping"] == {
        "sentences": 2,
        "source_words": 2.5,
        "accented": 0.0,
        "single_character_pieces": 0.5,
    }
    assert profile["other"] == {
        "sentences": 2,
        "source_words": 1.5,
        "accented": 1.0,
        "single_character_pieces": 0.0,
    }
    none = analysis.loop_profile(["a"], ["fine"], [["fine"]])["looping"]
    assert none["sentences"] == 0 and np.isnan(none["source_words"])
    with pytest.raises(ValueError, match="aligned"):
        analysis.loop_profile(sources, outputs, pieces[:3])


def _dataset(batches):
    shapes = {tuple(b[1].shape) for b in batches}
    (shape,) = shapes
    source_shape = tuple(batches[0][0][0].shape)
    return tf.data.Dataset.from_generator(
        lambda: iter(batches),
        output_signature=(
            (tf.TensorSpec(source_shape, tf.int64), tf.TensorSpec(shape, tf.int64)),
            tf.TensorSpec(shape, tf.int64),
        ),
    )


def test_pass_rates_leave_out_the_first_pass_and_give_median_and_spread():
    timer = bench.StepTimer()
    timer.epochs = [[9.0], [0.2, 0.2], [0.1, 0.1], [0.4, 0.4]]  # 40 tokens a pass
    rates = bench.pass_rates(timer, 40)
    assert rates["rates"] == [100.0, 200.0, 50.0]
    assert rates["tokens_per_second"] == 100.0
    assert (rates["low"], rates["high"]) == (50.0, 200.0)
    assert rates["median_step_ms"] == pytest.approx(200.0)
    assert rates["steps"] == 2 and rates["first_pass_seconds"] == 9.0 and rates["tokens"] == 40
    timer.epochs = [[1.0]]
    with pytest.raises(ValueError, match="two or more timed passes"):
        bench.pass_rates(timer, 40)
    timer.epochs = [[1.0], []]
    with pytest.raises(ValueError, match="no steps"):
        bench.pass_rates(timer, 40)


def test_within_spread_is_overlap_of_the_slowest_to_fastest_ranges():
    assert bench.within_spread({"low": 1, "high": 3}, {"low": 3, "high": 5})
    assert bench.within_spread({"low": 2, "high": 9}, {"low": 3, "high": 5})
    assert not bench.within_spread({"low": 1, "high": 2}, {"low": 3, "high": 5})
    assert not bench.within_spread({"low": 6, "high": 7}, {"low": 3, "high": 5})


@pytest.mark.slow
def test_training_rates_trace_once_then_time_every_variant_repeats_times():
    model = _tiny_model()
    variants = {
        "short": (model, _dataset(_batches(2))),
        "long": (model, _dataset(_batches(3, target_length=9))),
    }
    rates = bench.training_rates(variants, repeats=2)
    assert rates["short"]["steps"] == 2 and rates["long"]["steps"] == 3
    assert rates["short"]["tokens"] == 2 * 4 * 4 and rates["long"]["tokens"] == 3 * 4 * 7
    for rate in rates.values():
        assert len(rate["rates"]) == 2 and rate["first_pass_seconds"] > 0
        assert rate["low"] <= rate["tokens_per_second"] <= rate["high"]
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        bench.training_rates(variants, repeats=0)
