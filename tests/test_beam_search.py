"""Beam search, sampling and the decoding methods of `translate`.

Toy "models" here are small Python classes that follow the decode_step protocol with
hand-written probability tables, so expected tokens and scores are computed by hand.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from s2s_keras.decoding import (
    _beam_search,
    _sample,
    attention_map,
    beam_search,
    greedy_decode,
    length_penalty,
    n_best_translations,
    sample_decode,
    translate,
)
from s2s_keras.models import AttentionSeq2Seq
from s2s_keras.text import END_ID, PAD_ID, START_ID, WordTokenizer

A, B, C, D = 4, 5, 6, 7  # toy tokens after the reserved ids 0-3
TOY_VOCAB = 8
TOY_SOURCE = np.array([[START_ID, END_ID]])  # toy models ignore their source

SOURCE_VOCAB, TARGET_VOCAB = 20, 16
# Right-padded [START] … [END] sources of lengths 5, 3, 4 and 5 (the last one cut).
SOURCE = np.array(
    [[2, 5, 6, 7, 3], [2, 8, 3, 0, 0], [2, 9, 10, 3, 0], [2, 11, 12, 13, 14]], dtype="int32"
)


def lp(length, alpha):
    """GNMT's length penalty, by hand (Wu et al. 2016, eq. 14)."""
    return ((5 + length) / 6) ** alpha


class Bigram:
    """A toy model whose next-token distribution depends on the last token only.

    Args:
        rows: `{last_token: {next_token: probability}}`; each row sums to 1 and
            unlisted tokens have probability 0.
    """

    def __init__(self, rows):
        table = np.full((TOY_VOCAB, TOY_VOCAB), -1e9, "float32")  # log 0, kept finite
        for last, probabilities in rows.items():
            assert sum(probabilities.values()) == pytest.approx(1.0)
            for token, p in probabilities.items():
                table[last, token] = np.log(p)
        self.table = tf.constant(table)

    def encode(self, source_ids, max_length=None):
        # A nested state, every entry batch-first, as the protocol allows.
        batch = tf.shape(source_ids)[0]
        return {"source": source_ids, "history": {"last": tf.fill([batch], np.int64(START_ID))}}

    def decode_step(self, state, last_ids, step):
        return tf.gather(self.table, last_ids), {**state, "history": {"last": last_ids}}


# Greedy takes A (0.6), whose continuations are spread out: A C [END] has p = 0.27.
# B (0.4) concentrates on C: B C [END] has p = 0.36, and beam search (K = 2) finds it.
GREEDY_TRAP = Bigram(
    {
        START_ID: {A: 0.6, B: 0.4},
        A: {C: 0.45, D: 0.35, END_ID: 0.2},
        B: {C: 0.9, END_ID: 0.1},
        C: {END_ID: 1.0},
        D: {END_ID: 1.0},
    }
)
# A short hypothesis, A [END] (p = 0.52), against a long one, B C D [END]
# (p = 0.48 * 0.95 * 0.97 = 0.44232): length normalisation decides between them.
SHORT_OR_LONG_ROWS = {
    START_ID: {A: 0.52, B: 0.48},
    A: {END_ID: 1.0},
    B: {C: 0.95, D: 0.05},
    C: {D: 0.97, END_ID: 0.03},
    D: {END_ID: 1.0},
}
SHORT_OR_LONG = Bigram(SHORT_OR_LONG_ROWS)


class CountsSteps(Bigram):
    """A `Bigram` that counts its decoding steps (a variable: it counts inside graphs)."""

    def __init__(self, rows):
        super().__init__(rows)
        self.steps = tf.Variable(0)

    def decode_step(self, state, last_ids, step):
        self.steps.assign_add(1)
        return super().decode_step(state, last_ids, step)


class RefusesPadding:
    """Fails, like cuDNN's GRU on GPU, when a row's input is padding."""

    def __init__(self, model):
        self.model = model

    def encode(self, source_ids, max_length=None):
        return self.model.encode(source_ids, max_length=max_length)

    def decode_step(self, state, last_ids, step):
        tf.debugging.assert_none_equal(last_ids, tf.constant(PAD_ID, last_ids.dtype))
        return self.model.decode_step(state, last_ids, step)


def tiny_model(seed=0):
    keras.utils.set_random_seed(seed)
    model = AttentionSeq2Seq(SOURCE_VOCAB, TARGET_VOCAB, embedding_dim=8, units=8)
    model.encode(SOURCE)  # build
    return model


@pytest.fixture(scope="module")
def model():
    return tiny_model()


def log_probs_one_by_one(model, sources, hypotheses):
    """`(log P(Y | X), |Y|)` of each row's hypothesis, teacher-forced through `decode_step`.

    The reference for beam scores: every row holds one hypothesis from start to end, so
    nothing is reordered, and the scores are the model's own full-softmax log-probs.

    Args:
        sources: `[N, S]`; hypotheses: `[N, L]`, padded after `[END]`.
    """
    hypotheses = np.asarray(hypotheses, "int64")
    state = model.encode(sources)
    last = np.full(len(sources), START_ID, "int64")
    totals, lengths = np.zeros(len(sources)), np.zeros(len(sources), "int64")
    for step in range(hypotheses.shape[1]):
        logits, state = model.decode_step(state, last, step)
        log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float64)).numpy()  # [N, V]
        live = hypotheses[:, step] != PAD_ID
        totals += np.where(live, log_probs[np.arange(len(sources)), hypotheses[:, step]], 0.0)
        lengths += live
        last = np.where(live, hypotheses[:, step], END_ID)
    return totals, lengths


# --- beam search on hand-made models --------------------------------------------------


def test_beam_search_finds_the_likelier_sequence_greedy_misses():
    greedy, attention = greedy_decode(GREEDY_TRAP, TOY_SOURCE, 5)
    assert greedy.numpy().tolist() == [[A, C, END_ID, 0, 0]]  # p = 0.27
    assert attention is None  # the toy's state has no "attention" entry
    tokens, scores = beam_search(GREEDY_TRAP, TOY_SOURCE, 5, beam_size=2, alpha=0.6)
    assert tokens.shape == (1, 1, 5) and tokens.dtype == tf.int64  # [B, n_best, L]
    assert scores.shape == (1, 1) and scores.dtype == tf.float32
    assert tokens.numpy().tolist() == [[[B, C, END_ID, 0, 0]]]  # p = 0.36
    np.testing.assert_allclose(scores, [[np.log(0.36) / lp(3, 0.6)]], rtol=1e-6)


def test_length_normalisation_picks_the_short_or_the_long_hypothesis_as_alpha_predicts():
    short, long = [A, END_ID, 0, 0, 0, 0], [B, C, D, END_ID, 0, 0]
    log_short, log_long = np.log(0.52), np.log(0.48 * 0.95 * 0.97)
    # Short wins while log_short / lp(2) > log_long / lp(4), i.e. alpha below ~0.88.
    for alpha, best, second in [(0.0, short, long), (0.6, short, long), (1.0, long, short)]:
        tokens, scores = beam_search(
            SHORT_OR_LONG, TOY_SOURCE, 6, beam_size=2, alpha=alpha, n_best=2
        )
        assert tokens.numpy()[0].tolist() == [best, second], f"alpha={alpha}"
        expected = {
            tuple(short): log_short / lp(2, alpha),
            tuple(long): log_long / lp(4, alpha),
        }
        np.testing.assert_allclose(
            scores[0], [expected[tuple(best)], expected[tuple(second)]], rtol=1e-6
        )
        # Asking for the best only stops the search earlier, with the same winner.
        tokens, scores = beam_search(SHORT_OR_LONG, TOY_SOURCE, 6, beam_size=2, alpha=alpha)
        assert tokens.numpy()[0].tolist() == [best], f"alpha={alpha}, n_best=1"


def test_beam_search_stops_once_no_live_hypothesis_can_beat_the_finished_ones():
    toy = CountsSteps(SHORT_OR_LONG_ROWS)
    tokens, _ = beam_search(toy, TOY_SOURCE, 50, beam_size=2, alpha=0.0)
    assert tokens.numpy()[0, 0, :3].tolist() == [A, END_ID, 0]
    # After step 1, A [END] (log 0.52) is finished and the best live prefix, B C, has
    # log 0.456 already: without length normalisation it can only fall further behind.
    assert int(toy.steps.numpy()) == 2


def test_a_hypothesis_that_never_ends_is_returned_scored_with_its_length():
    never_ends = Bigram({START_ID: {A: 1.0}, A: {A: 0.7, B: 0.3}, B: {A: 0.7, B: 0.3}})
    tokens, scores = beam_search(never_ends, TOY_SOURCE, 3, beam_size=2, alpha=0.6)
    assert tokens.numpy().tolist() == [[[A, A, A]]]
    np.testing.assert_allclose(scores, [[np.log(0.49) / lp(3, 0.6)]], rtol=1e-6)


def test_padding_and_start_are_never_output_even_when_the_model_prefers_them():
    # Both are impossible outputs: padding would be read as "after [END]" and, fed back,
    # is an all-padding row for a GRU. A toy that likes them most must still write A.
    likes_padding = Bigram({t: {PAD_ID: 0.5, START_ID: 0.3, A: 0.2} for t in (START_ID, A)})
    expected = [[A, A, A]]
    assert greedy_decode(likes_padding, TOY_SOURCE, 3)[0].numpy().tolist() == expected
    assert sample_decode(likes_padding, TOY_SOURCE, 3, seed=0)[0].numpy().tolist() == expected
    tokens, scores = beam_search(likes_padding, TOY_SOURCE, 3, beam_size=2)
    assert tokens.numpy().tolist() == [[expected[0]]]
    np.testing.assert_allclose(scores, [[3 * np.log(0.2) / lp(3, 0.6)]], rtol=1e-6)


# --- beam search on a real model ------------------------------------------------------


def test_beam_size_one_equals_greedy_for_any_alpha(model):
    greedy, _ = greedy_decode(model, SOURCE, 8)
    greedy = greedy.numpy()
    # The random model ends some rows early and never ends others: both paths are tested.
    ended = (greedy == END_ID).any(axis=1)
    assert ended.any() and not ended.all()
    for alpha in (0.0, 0.6, 2.0):
        tokens, _ = beam_search(model, SOURCE, 8, beam_size=1, alpha=alpha)
        np.testing.assert_array_equal(tokens[:, 0], greedy, err_msg=f"alpha={alpha}")


def test_n_best_are_distinct_sorted_and_scored_as_the_model_scores_them(model):
    alpha = 0.6
    tokens, scores = beam_search(model, SOURCE, 8, beam_size=4, alpha=alpha, n_best=4)
    tokens, scores = tokens.numpy(), scores.numpy()
    assert tokens.shape == (4, 4, 8) and scores.shape == (4, 4)
    assert np.all(np.diff(scores, axis=1) <= 0)  # best first
    for b in range(len(SOURCE)):
        assert len({tuple(t) for t in tokens[b]}) == 4  # distinct
    # Re-scoring every hypothesis on a row of its own catches any beam whose state was
    # not reordered with it: the model's GRU state would belong to another prefix.
    log_probs, lengths = log_probs_one_by_one(
        model, np.repeat(SOURCE, 4, axis=0), tokens.reshape(16, 8)
    )
    np.testing.assert_allclose(scores.reshape(16), log_probs / lp(lengths, alpha), rtol=1e-5)
    for hypothesis, length in zip(tokens.reshape(16, 8), lengths, strict=True):
        assert END_ID not in hypothesis[: length - 1]  # [END] only last, then padding


def test_one_max_length_per_sentence_gives_what_decoding_each_sentence_alone_gives(model):
    limits = np.array([3, 8, 5, 6])
    tokens, scores = beam_search(model, SOURCE, limits, beam_size=3, n_best=3)
    assert tokens.shape == (4, 3, 8)
    for b, limit in enumerate(limits):
        alone_tokens, alone_scores = beam_search(
            model, SOURCE[b : b + 1], int(limit), beam_size=3, n_best=3
        )
        np.testing.assert_array_equal(tokens[b, :, :limit], alone_tokens[0])
        assert np.all(tokens.numpy()[b, :, limit:] == PAD_ID)
        np.testing.assert_allclose(scores[b], alone_scores[0], rtol=1e-5)


def test_beam_search_never_feeds_padding_to_finished_beams(model):
    tokens, _ = beam_search(RefusesPadding(model), SOURCE, 8, beam_size=3, n_best=3)
    assert (tokens.numpy() == END_ID).any()  # some beams did finish


def test_beam_search_is_traced_once_per_batch_shape_not_per_max_length():
    model = tiny_model(seed=1)  # a new model object: its own traces, counted from here
    before = _beam_search.experimental_get_tracing_count()
    for max_length, alpha in [(5, 0.6), (7, 0.0), (9, 1.0)]:
        tokens, _ = beam_search(model, SOURCE, max_length, beam_size=2, alpha=alpha)
        assert tokens.shape == (4, 1, max_length)
    assert _beam_search.experimental_get_tracing_count() - before == 1
    # A new source length S retraces once, then `reduce_retracing` relaxes the shape.
    padded = np.pad(SOURCE, ((0, 0), (0, 4)))
    for source_length, max_length in [(4, 5), (9, 7), (6, 9), (7, 3)]:
        beam_search(model, padded[:, :source_length], max_length, beam_size=2)
    assert _beam_search.experimental_get_tracing_count() - before <= 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"beam_size": 0}, "beam_size must be a positive integer, got 0"),
        ({"beam_size": 2.0}, "beam_size must be a positive integer, got 2.0"),
        (
            {"beam_size": 2, "n_best": 3},
            r"n_best must be an integer from 1 to beam_size \(2\), got 3",
        ),
        ({"alpha": -0.5}, "alpha must be a non-negative number, got -0.5"),
        ({"alpha": float("nan")}, "alpha must be a non-negative number, got nan"),
    ],
)
def test_beam_search_rejects_bad_arguments_and_says_what_it_got(kwargs, message):
    with pytest.raises(ValueError, match=message):
        beam_search(GREEDY_TRAP, TOY_SOURCE, 5, **kwargs)


@pytest.mark.parametrize("max_length", [0, 2.5, [3, 4]])
def test_decoders_reject_a_bad_max_length(max_length):
    with pytest.raises(ValueError, match="max_length must be a positive integer"):
        beam_search(GREEDY_TRAP, TOY_SOURCE, max_length)
    with pytest.raises(ValueError, match="max_length must be a positive integer"):
        greedy_decode(GREEDY_TRAP, TOY_SOURCE, max_length)


def test_length_penalty_is_gnmts():
    np.testing.assert_allclose(length_penalty([1, 4, 10], 0.6), lp(np.array([1, 4, 10]), 0.6))
    assert float(length_penalty(7, 0.0)) == 1.0


# --- sampling -------------------------------------------------------------------------

# Every step, the same distribution over [END], A, B, C, D.
FIXED_P = {END_ID: 0.1, A: 0.4, B: 0.3, C: 0.15, D: 0.05}
FIXED = Bigram({t: FIXED_P for t in (START_ID, END_ID, A, B, C, D)})


@pytest.mark.parametrize(
    ("temperature", "top_k", "expected"),
    [
        (1.0, 0, FIXED_P),
        # softmax(log p / T) is p ** (1 / T), renormalised.
        (0.5, 0, {t: p**2 / sum(q**2 for q in FIXED_P.values()) for t, p in FIXED_P.items()}),
        (1.0, 2, {A: 0.4 / 0.7, B: 0.3 / 0.7}),
    ],
)
def test_sampling_draws_from_the_tempered_top_k_distribution(temperature, top_k, expected):
    rows = 4000
    tokens, _ = sample_decode(
        FIXED, np.tile(TOY_SOURCE, (rows, 1)), 1, temperature=temperature, top_k=top_k, seed=7
    )
    counts = np.bincount(tokens.numpy()[:, 0], minlength=TOY_VOCAB) / rows
    wanted = np.array([expected.get(t, 0.0) for t in range(TOY_VOCAB)])
    np.testing.assert_allclose(counts, wanted, atol=0.03)  # 4 standard deviations
    assert np.all(counts[wanted == 0] == 0)


def test_sampling_is_reproducible_with_a_seed_and_varies_without(model):
    first, _ = sample_decode(model, SOURCE, 8, seed=3)
    again, _ = sample_decode(model, SOURCE, 8, seed=3)
    other, _ = sample_decode(model, SOURCE, 8, seed=4)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    before = _sample.experimental_get_tracing_count()
    sample_decode(model, SOURCE, 8, seed=5, temperature=0.7, top_k=3)
    assert _sample.experimental_get_tracing_count() == before  # seeds and settings are tensors


def test_sampling_from_the_top_1_is_greedy_and_pads_after_end(model):
    greedy, greedy_attention = greedy_decode(model, SOURCE, 8)
    tokens, attention = sample_decode(RefusesPadding(model), SOURCE, 8, top_k=1, seed=0)
    np.testing.assert_array_equal(tokens, greedy)  # padding after [END] included
    np.testing.assert_allclose(attention, greedy_attention, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"temperature": 0}, "temperature must be a positive number, got 0"),
        ({"temperature": -1.0}, "temperature must be a positive number, got -1.0"),
        ({"top_k": -1}, "top_k must be a non-negative integer, got -1"),
        ({"top_k": 1.5}, "top_k must be a non-negative integer, got 1.5"),
        ({"seed": "x"}, "seed must be an integer or None, got 'x'"),
    ],
)
def test_sampling_rejects_bad_arguments_and_says_what_it_got(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sample_decode(FIXED, TOY_SOURCE, 3, **kwargs)


# --- translate and n_best_translations ------------------------------------------------


@pytest.fixture(scope="module")
def words():
    return WordTokenizer.from_texts(["the cat sees a dog", "a red dog sees the cat"])


@pytest.fixture(scope="module")
def word_model(words):
    keras.utils.set_random_seed(0)
    model = AttentionSeq2Seq(words.vocab_size, words.vocab_size, embedding_dim=8, units=8)
    model.encode(np.array([[2, 3]]))  # build
    return model


SENTENCES = ["the cat", "a red dog sees the cat", "", "dog", "the dog sees"]


def test_translate_by_beam_of_size_one_or_top_1_sampling_is_greedy(words, word_model):
    greedy = translate(word_model, words, words, SENTENCES)
    assert greedy[2] == ""
    assert translate(word_model, words, words, SENTENCES, method="beam", beam_size=1) == greedy
    assert translate(word_model, words, words, SENTENCES, method="sample", top_k=1) == greedy


def test_translate_by_beam_gives_each_sentence_what_it_gets_alone(words, word_model):
    together = translate(
        word_model, words, words, SENTENCES, batch_size=3, method="beam", beam_size=3
    )
    alone = [
        translate(word_model, words, words, [s], method="beam", beam_size=3)[0] for s in SENTENCES
    ]
    assert together == alone


def test_translate_by_sampling_is_reproducible_with_a_seed(words):
    def sampled(seed):
        # The toy's ids are words of `words`; two sentences a batch: seeds per batch.
        return translate(FIXED, words, words, SENTENCES, batch_size=2, method="sample", seed=seed)

    assert sampled(11) == sampled(11)
    assert sampled(11) != sampled(12)


def test_translate_rejects_an_unknown_method(words, word_model):
    with pytest.raises(ValueError, match=r"method must be one of .*'beam'.*, got 'beams'"):
        translate(word_model, words, words, ["the cat"], method="beams")


def test_n_best_translations_are_text_and_score_pairs_best_first(words, word_model):
    sentence = "a red dog sees the cat"
    best = n_best_translations(word_model, words, words, sentence, beam_size=3, alpha=0.6, n=3)
    assert len(best) == 3 and all(isinstance(t, str) and isinstance(s, float) for t, s in best)
    assert [s for _, s in best] == sorted((s for _, s in best), reverse=True)
    beam = translate(word_model, words, words, [sentence], method="beam", beam_size=3, alpha=0.6)
    assert best[0][0] == beam[0]
    assert n_best_translations(word_model, words, words, "  ") == [("", 0.0)]


def test_attention_map_of_a_model_without_attention_says_so(words):
    with pytest.raises(ValueError, match="Bigram has no attention to show"):
        attention_map(GREEDY_TRAP, words, words, "the cat")


def test_beam_search_of_no_sentences_returns_no_hypotheses(model):
    tokens, scores = beam_search(model, np.zeros((0, 4), "int64"), 5, beam_size=2, n_best=2)
    assert tokens.shape[:2] == (0, 2) and scores.shape == (0, 2)


# A loop: after A the model prefers A again (0.6), then B (0.3), then [END] (0.1); after B
# it ends. Unguarded, greedy decoding writes A until the limit.
LOOPS = {START_ID: {A: 1.0}, A: {A: 0.6, B: 0.3, END_ID: 0.1}, B: {END_ID: 1.0}}


def test_max_repeats_stops_a_token_from_coming_more_often_in_a_row():
    model = Bigram(LOOPS)
    unguarded = greedy_decode(model, TOY_SOURCE, 6)[0].numpy()[0]
    assert unguarded.tolist() == [A] * 6
    guarded = greedy_decode(model, TOY_SOURCE, 6, max_repeats=2)[0].numpy()[0]
    assert guarded.tolist() == [A, A, B, END_ID, PAD_ID, PAD_ID]  # a third A is banned
    once = greedy_decode(model, TOY_SOURCE, 6, max_repeats=1)[0].numpy()[0]
    assert once.tolist() == [A, B, END_ID, PAD_ID, PAD_ID, PAD_ID]
    with pytest.raises(ValueError, match="max_repeats"):
        greedy_decode(model, TOY_SOURCE, 6, max_repeats=0)


def test_beam_search_and_sampling_keep_the_repeat_limit():
    model = Bigram(LOOPS)
    # Unguarded, beam 2 keeps "A A A …" (0.6 per step) and finishes "A … [END]" early.
    tokens, scores = beam_search(
        model, TOY_SOURCE, 6, beam_size=2, alpha=0.0, n_best=2, max_repeats=2
    )
    # Every hypothesis has at most two A's in a row: "A B [END]" (1 * 0.3 * 1) beats
    # "A A B [END]" (0.6 * 0.3) and "A [END]" (0.1) or "A A [END]" (0.06).
    assert tokens.numpy()[0, 0].tolist()[:3] == [A, B, END_ID]
    assert scores.numpy()[0, 0] == pytest.approx(np.log(0.3), abs=1e-5)
    assert tokens.numpy()[0, 1].tolist()[:4] == [A, A, B, END_ID]
    assert scores.numpy()[0, 1] == pytest.approx(np.log(0.6 * 0.3), abs=1e-5)
    drawn = sample_decode(model, np.repeat(TOY_SOURCE, 8, axis=0), 6, seed=3, max_repeats=2)
    for row in drawn[0].numpy().tolist():
        assert [A, A, A] not in [row[i : i + 3] for i in range(4)]
