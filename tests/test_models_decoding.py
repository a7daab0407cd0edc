"""The seq2seq model interface, greedy decoding and evaluation."""

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import sacrebleu
import tensorflow as tf

from s2s_keras.decoding import (
    _greedy,
    attention_map,
    decode_tokens,
    greedy_decode,
    tokenize_sources,
    translate,
    translate_ids,
)
from s2s_keras.evaluation import MaskedAccuracy, corpus_scores, masked_loss
from s2s_keras.models import AttentionSeq2Seq, AttentionSeq2SeqConfig
from s2s_keras.text import END_ID, PAD_ID, START_ID, WordTokenizer
from s2s_keras.training import compile_model

SOURCE_VOCAB, TARGET_VOCAB = 20, 16
# Right-padded [START] … [END] sources of lengths 5, 3 and 4.
SOURCE = np.array([[2, 5, 6, 7, 3], [2, 8, 3, 0, 0], [2, 9, 10, 3, 0]], dtype="int32")
TARGET_IN = np.array([[2, 4, 5, 6], [2, 7, 0, 0], [2, 8, 9, 0]], dtype="int32")
TARGET_OUT = np.array([[4, 5, 6, 3], [7, 3, 0, 0], [8, 9, 3, 0]], dtype="int32")


def tiny_model(seed=0):
    keras.utils.set_random_seed(seed)
    model = AttentionSeq2Seq(SOURCE_VOCAB, TARGET_VOCAB, embedding_dim=8, units=4)
    model((SOURCE, TARGET_IN))  # build
    return model


@pytest.fixture(scope="module")
def model():
    return tiny_model()


def step_by_step_greedy(model, source_ids, max_length):
    """The greedy loop in plain Python and NumPy, the reference for `greedy_decode`."""
    state = model.encode(source_ids)
    last = np.full(len(source_ids), START_ID, "int64")
    done = np.zeros(len(source_ids), bool)
    tokens, attention = [], []
    for step in range(max_length):
        logits, state = model.decode_step(state, last, step)
        logits = keras.ops.convert_to_numpy(logits).copy()
        logits[:, [PAD_ID, START_ID]] = -np.inf  # never outputs (see `decoding._never_output`)
        nxt = np.where(done, PAD_ID, np.argmax(logits, -1))
        weights = keras.ops.convert_to_numpy(state["attention"])
        attention.append(np.where(done[:, None], 0.0, weights))
        tokens.append(nxt)
        done |= nxt == END_ID
        last = np.where(done, END_ID, nxt)  # as `_greedy`: finished rows read [END]
    return np.stack(tokens, 1), np.stack(attention, 1)


# --- the models package -------------------------------------------------------------


def test_models_and_layers_import_without_tensorflow_text():
    # Models take token ids: text (tensorflow-text) belongs to tf.data and the export.
    code = (
        "import sys, s2s_keras.models, s2s_keras.layers; "
        "assert 'tensorflow_text' not in sys.modules, 'tensorflow_text was imported'"
    )
    root = Path(__file__).resolve().parents[1]  # this checkout's s2s_keras, not an install
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
            "TF_CPP_MIN_LOG_LEVEL": "3",
        },
    )
    assert result.returncode == 0, result.stderr[-2000:]


# --- AttentionSeq2Seq ---------------------------------------------------------------


def test_model_config_round_trips(model):
    config = model.get_config()
    assert AttentionSeq2Seq.from_config(config).get_config() == config


def test_model_from_config_object_uses_its_sizes():
    model = AttentionSeq2Seq.from_config_object(
        AttentionSeq2SeqConfig(embedding_dim=6, units=5, dropout=0.1), 11, 12
    )
    config = model.get_config()
    sizes = ("source_vocab_size", "target_vocab_size", "embedding_dim", "units", "dropout")
    assert {key: config[key] for key in sizes} == {
        "source_vocab_size": 11,
        "target_vocab_size": 12,
        "embedding_dim": 6,
        "units": 5,
        "dropout": 0.1,
    }
    assert model.decoder.units == 10  # the decoder reads the bidirectional memory


def test_model_call_gives_float32_logits_of_shape_batch_target_vocab(model):
    logits = model((SOURCE, TARGET_IN))
    assert tuple(logits.shape) == (3, 4, TARGET_VOCAB)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"


def test_one_step_fit_gives_a_finite_loss():
    model = compile_model(tiny_model())
    history = model.fit((SOURCE, TARGET_IN), TARGET_OUT, epochs=1, batch_size=3, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert 0.0 <= history.history["masked_accuracy"][0] <= 1.0


def test_saved_and_reloaded_model_gives_identical_logits(tmp_path):
    model = compile_model(tiny_model())
    model.train_on_batch((SOURCE, TARGET_IN), TARGET_OUT)  # weights no longer the init
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    assert isinstance(reloaded, AttentionSeq2Seq)
    np.testing.assert_allclose(
        reloaded((SOURCE, TARGET_IN)), model((SOURCE, TARGET_IN)), rtol=0, atol=1e-6
    )
    np.testing.assert_array_equal(
        greedy_decode(reloaded, SOURCE, 6)[0], greedy_decode(model, SOURCE, 6)[0]
    )


def test_encode_then_decode_step_reproduces_teacher_forcing_at_every_position(model):
    # The one contract every decoder builds on: feeding the reference tokens one at a
    # time gives the logits of the teacher-forced call, position by position.
    target_in = np.array([[2, 4, 5, 6], [2, 7, 11, 12], [2, 8, 9, 13]], dtype="int32")
    expected = keras.ops.convert_to_numpy(model((SOURCE, target_in)))
    state = model.encode(SOURCE)
    for step in range(target_in.shape[1]):
        logits, state = model.decode_step(state, target_in[:, step], step)
        np.testing.assert_allclose(logits, expected[:, step], rtol=0, atol=1e-5)


def test_encode_works_on_a_model_that_was_never_called():
    keras.utils.set_random_seed(0)
    fresh = AttentionSeq2Seq(SOURCE_VOCAB, TARGET_VOCAB, embedding_dim=8, units=4)
    state = fresh.encode(SOURCE)
    logits, _ = fresh.decode_step(state, np.full(3, START_ID), 0)
    assert tuple(logits.shape) == (3, TARGET_VOCAB)
    tokens, _ = greedy_decode(
        AttentionSeq2Seq(SOURCE_VOCAB, TARGET_VOCAB, embedding_dim=8, units=4), SOURCE, 4
    )
    assert tuple(tokens.shape) == (3, 4)


# --- greedy decoding ----------------------------------------------------------------


def test_greedy_decode_gives_tokens_and_attention_of_documented_shapes(model):
    tokens, attention = greedy_decode(model, SOURCE, 6)
    assert tokens.shape == (3, 6) and tokens.dtype == tf.int64  # [B, L]
    assert attention.shape == (3, 6, 5) and attention.dtype == tf.float32  # [B, L, S]
    # Padding positions of the source get no attention at any step.
    assert np.all(attention.numpy()[1, :, 3:] == 0.0)


def test_greedy_decode_equals_argmax_of_step_by_step_decoding(model):
    tokens, attention = greedy_decode(model, SOURCE, 7)
    expected_tokens, expected_attention = step_by_step_greedy(model, SOURCE, 7)
    np.testing.assert_array_equal(tokens, expected_tokens)
    np.testing.assert_allclose(attention, expected_attention, rtol=0, atol=1e-6)


class EndsAt:
    """A real model whose row `b` emits `[END]` at step `end_at[b]`, and never before."""

    def __init__(self, model, end_at):
        self.model = model
        self.end_at = tf.constant(end_at, tf.int32)

    def encode(self, source_ids, max_length=None):
        return self.model.encode(source_ids, max_length=max_length)

    def decode_step(self, state, last_ids, step):
        logits, state = self.model.decode_step(state, last_ids, step)
        step = tf.cast(step, tf.int32)
        # Push [END] up at the chosen step, down before it; after it greedy pads anyway.
        push = tf.where(step == self.end_at, 1.0, tf.where(step < self.end_at, -1.0, 0.0))  # [B]
        return logits + 1e4 * push[:, None] * tf.one_hot(END_ID, logits.shape[-1]), state


def test_greedy_decode_pads_tokens_and_zeroes_attention_after_end(model):
    tokens, attention = greedy_decode(EndsAt(model, [1, 3, 99]), SOURCE, 6)
    tokens, attention = tokens.numpy(), attention.numpy()
    assert tokens[0, 1] == END_ID and tokens[1, 3] == END_ID
    assert np.all(tokens[0, 2:] == PAD_ID) and np.all(tokens[1, 4:] == PAD_ID)
    assert np.all(attention[0, 2:] == 0.0) and np.all(attention[1, 4:] == 0.0)
    # Up to and including [END], each row of attention is a distribution over the source.
    np.testing.assert_allclose(attention[0, :2].sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(attention[1, :4].sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(attention[2].sum(-1), 1.0, rtol=1e-6)
    assert END_ID not in tokens[0, :1] and END_ID not in tokens[1, :3]


class RefusesPadding(EndsAt):
    """Fails, like cuDNN's GRU on GPU, when a row's input is padding."""

    def decode_step(self, state, last_ids, step):
        tf.debugging.assert_none_equal(last_ids, tf.constant(PAD_ID, last_ids.dtype))
        return super().decode_step(state, last_ids, step)


def test_greedy_decode_never_feeds_padding_to_finished_rows(model):
    # A finished row fed [PAD] is an all-padding row for the decoder's GRU, which the
    # cuDNN kernel rejects: greedy decoding would crash on GPU as soon as one row ended.
    tokens, _ = greedy_decode(RefusesPadding(model, [1, 3, 99]), SOURCE, 6)
    assert tokens.numpy()[0, 1] == END_ID and tokens.numpy()[0, 2] == PAD_ID


def test_greedy_decode_is_traced_once_per_batch_shape_not_per_max_length():
    model = tiny_model(seed=1)  # a new model object: its own traces, counted from here
    before = _greedy.experimental_get_tracing_count()
    for max_length in (5, 7, 9):
        tokens, _ = greedy_decode(model, SOURCE, max_length)
        assert tokens.shape == (3, max_length)
    assert _greedy.experimental_get_tracing_count() - before == 1
    # A new source length S retraces once: `reduce_retracing` then relaxes the shape to
    # `[3, None]`, which every later S matches. So, at most two traces for any S and L.
    padded = np.pad(SOURCE, ((0, 0), (0, 4)))
    for source_length, max_length in [(4, 5), (9, 7), (6, 9), (5, 3), (7, 8)]:
        greedy_decode(model, padded[:, :source_length], max_length)
    assert _greedy.experimental_get_tracing_count() - before <= 2


# --- translate and attention_map ----------------------------------------------------


class CopyModel:
    """Echoes its source, so the expected translation of every sentence is known.

    At step `t` it emits the source token at `t + 1` (after `[START]`), `[END]` included,
    and puts all its attention on that position.
    """

    def __init__(self, vocab_size):
        self.vocab_size = vocab_size

    def encode(self, source_ids, max_length=None):
        return {"source": source_ids, "attention": tf.zeros(tf.shape(source_ids), tf.float32)}

    def decode_step(self, state, last_ids, step):
        source = state["source"]
        position = tf.minimum(tf.cast(step, tf.int32) + 1, tf.shape(source)[1] - 1)
        token = tf.gather(source, position, axis=1)  # [B]
        attention = tf.one_hot(tf.fill(tf.shape(token), position), tf.shape(source)[1])
        logits = 10.0 * tf.one_hot(token, self.vocab_size)  # [B, V]
        return logits, {**state, "attention": attention}


@pytest.fixture(scope="module")
def words():
    return WordTokenizer.from_texts(["the cat sees a dog", "a red dog sees the cat"])


def test_translate_ids_decodes_only_sentences_with_words_each_up_to_its_own_limit(words):
    ids = tokenize_sources(words, ["the cat", " ", "a red dog sees the cat", ""], 64)
    calls = []

    def decode(source_ids, max_length):
        calls.append((source_ids.numpy(), max_length.numpy()))
        return decode_tokens(CopyModel(words.vocab_size), source_ids, max_length)

    out = translate_ids(ids, decode, words, extra_length=1)
    assert [t.decode() for t in out.numpy()] == ["The cat", "", "A red dog sees the cat", ""]
    [(source, limits)] = calls  # one decoding, of the two sentences with words
    assert source.shape == (2, 8)
    assert limits.tolist() == [4 + 1, 8 + 1]  # own length (markers included) + extra_length


def test_translate_ids_of_only_empty_sentences_decodes_nothing(words):
    def decode(source_ids, max_length):
        raise AssertionError("nothing should be decoded")

    for sentences in (["", " \t "], []):
        ids = tokenize_sources(words, tf.constant(sentences, tf.string), 64)
        out = translate_ids(ids, decode, words, extra_length=10)
        assert out.numpy().tolist() == [b""] * len(sentences)


def test_translate_returns_one_translation_per_sentence_in_input_order(words):
    sentences = [
        "the cat sees a dog",
        "a",
        "",
        "dog sees cat",
        "   ",
        "a red dog sees the cat",
        "cat",
    ]
    # batch_size 2: the length-sorted batches mix sentences from all over the input.
    out = translate(CopyModel(words.vocab_size), words, words, sentences, batch_size=2)
    assert out == [
        "The cat sees a dog",
        "A",
        "",
        "Dog sees cat",
        "",
        "A red dog sees the cat",
        "Cat",
    ]


def test_translate_of_a_batch_equals_translating_each_sentence_alone(words):
    sentences = ["the cat", "a red dog sees the cat", "dog", "the dog sees"]
    copy = CopyModel(words.vocab_size)
    together = translate(copy, words, words, sentences, batch_size=3)
    alone = [translate(copy, words, words, [s])[0] for s in sentences]
    assert together == alone


def test_translate_gives_empty_text_for_empty_or_blank_input_and_nothing_for_nothing(words):
    copy = CopyModel(words.vocab_size)
    assert translate(copy, words, words, ["", " \t ", "\n"]) == ["", "", ""]
    assert translate(copy, words, words, []) == []


def test_translate_truncates_long_sources(words):
    out = translate(
        CopyModel(words.vocab_size),
        words,
        words,
        ["a red dog sees the cat"],
        max_source_length=4,
        extra_length=1,
    )
    # The model saw `[START] a red dog` (no [END]: the sentence was cut, as in training)
    # and could write 4 + 1 tokens; copying past the end repeats the last source token.
    assert out == ["A red dog dog dog"]


def test_translate_runs_a_real_model(words):
    keras.utils.set_random_seed(0)
    real = AttentionSeq2Seq(words.vocab_size, words.vocab_size, embedding_dim=8, units=4)
    out = translate(real, words, words, ["the cat", "", "a red dog sees the cat"])
    assert len(out) == 3 and out[1] == "" and all(isinstance(t, str) for t in out)


def test_attention_map_shows_where_each_output_token_looked(words):
    source, output, weights = attention_map(CopyModel(words.vocab_size), words, words, "the dog")
    assert source == ["[START]", "the", "dog", "[END]"]
    assert output == ["the", "dog", "[END]"]
    np.testing.assert_array_equal(weights, np.eye(4, dtype="float32")[1:])


# --- evaluation -----------------------------------------------------------------------


def test_masked_loss_averages_cross_entropy_over_real_tokens_only():
    y_true = np.array([[1, 2, 0]], "int32")
    y_pred = np.array([[[0.5, 1.0, -1.0], [2.0, 0.0, 1.0], [9.0, -9.0, 0.0]]], "float32")
    log_probs = y_pred[0] - np.log(np.exp(y_pred[0]).sum(-1, keepdims=True))
    expected = -(log_probs[0, 1] + log_probs[1, 2]) / 2
    loss = keras.ops.convert_to_numpy(masked_loss(y_true, y_pred))
    np.testing.assert_allclose(loss, expected, rtol=1e-6)


def test_masked_loss_of_all_padding_is_zero_not_nan():
    loss = masked_loss(np.zeros((1, 2), "int32"), np.ones((1, 2, 3), "float32"))
    assert keras.ops.convert_to_numpy(loss) == 0.0


def one_hot_predictions(ids, vocab_size=5):
    return np.eye(vocab_size, dtype="float32")[np.array(ids)]


def test_masked_accuracy_counts_tokens_across_batches_and_ignores_padding():
    metric = MaskedAccuracy()
    # 1 of 2 real tokens right; the padding position is "predicted" right but not counted.
    metric.update_state(np.array([[1, 2, 0]]), one_hot_predictions([[1, 3, 0]]))
    assert float(metric.result()) == pytest.approx(1 / 2)
    # 3 of 4 real tokens right: token-weighted 4/6, not the batch mean (1/2 + 3/4) / 2.
    metric.update_state(
        np.array([[1, 1, 1, 0], [2, 0, 0, 0]]), one_hot_predictions([[1, 1, 4, 0], [2, 0, 0, 0]])
    )
    assert float(metric.result()) == pytest.approx(4 / 6)
    metric.reset_state()
    assert float(metric.result()) == 0.0
    metric.update_state(np.array([[4, 0]]), one_hot_predictions([[4, 1]]))
    assert float(metric.result()) == 1.0


HYPOTHESES = ["The cat sat on the mat.", "A dog barks at the red ball!"]
REFERENCES = ["The cat is sitting on the mat.", "The dog barks at a red ball!"]


def test_identical_hypotheses_and_references_score_100():
    scores = corpus_scores(REFERENCES, REFERENCES)
    assert scores["bleu"] == pytest.approx(100.0)
    assert scores["chrf"] == pytest.approx(100.0)
    assert scores["sentences"] == 2


def test_corpus_scores_are_sacrebleus_lowercased_bleu_and_chrf():
    scores = corpus_scores(HYPOTHESES, REFERENCES)
    assert scores["bleu"] == sacrebleu.corpus_bleu(HYPOTHESES, [REFERENCES], lowercase=True).score
    assert scores["chrf"] == sacrebleu.corpus_chrf(HYPOTHESES, [REFERENCES]).score
    assert 0.0 < scores["bleu"] < 100.0
    assert "case:lc" in scores["bleu_signature"] and "tok:13a" in scores["bleu_signature"]
    assert scores["chrf_signature"].startswith("nrefs:1|case:mixed")


def test_case_changes_bleu_not_but_chrf_does():
    shouted = corpus_scores([h.upper() for h in HYPOTHESES], REFERENCES)
    scores = corpus_scores(HYPOTHESES, REFERENCES)
    assert shouted["bleu"] == scores["bleu"]
    assert shouted["chrf"] < scores["chrf"]


def test_corpus_scores_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="got 2 hypotheses for 1 references"):
        corpus_scores(HYPOTHESES, REFERENCES[:1])
