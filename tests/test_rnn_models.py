"""Recurrent models behind the one interface: `Seq2Seq` (a fixed context
vector) and `AttentionSeq2Seq` with every attention score, with and without input
feeding.

The contract they all keep: `encode` then `decode_step`, token by token, gives the
teacher-forced logits of `call`; configs round-trip; a `.keras` file reloads to the same
outputs; one training step works, in mixed precision too.
"""

import keras
import numpy as np
import pytest

from s2s_keras.decoding import greedy_decode
from s2s_keras.models.rnn import (
    AttentionSeq2Seq,
    AttentionSeq2SeqConfig,
    Seq2Seq,
    Seq2SeqConfig,
)
from s2s_keras.text import END_ID, PAD_ID, START_ID
from s2s_keras.training import compile_model

SOURCE_VOCAB, TARGET_VOCAB = 20, 16
# Right-padded [START] … [END] sources of lengths 5, 3 and 4.
SOURCE = np.array([[2, 5, 6, 7, 3], [2, 8, 3, 0, 0], [2, 9, 10, 3, 0]], dtype="int32")
TARGET_IN = np.array([[2, 4, 5, 6], [2, 7, 0, 0], [2, 8, 9, 0]], dtype="int32")
TARGET_OUT = np.array([[4, 5, 6, 3], [7, 3, 0, 0], [8, 9, 3, 0]], dtype="int32")

ATTENTIONS = ["bahdanau", "dot", "general", "concat"]


def tiny(cls=Seq2Seq, seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    return cls(SOURCE_VOCAB, TARGET_VOCAB, embedding_dim=8, units=4, **kwargs)


def tiny_input_feeding(**kwargs):
    return tiny(AttentionSeq2Seq, attention="general", input_feeding=True, **kwargs)


def assert_decode_steps_reproduce_teacher_forcing(model):
    # The one contract every decoder builds on: feeding the reference tokens one at a
    # time gives the logits of the teacher-forced call, position by position.
    target_in = np.array([[2, 4, 5, 6], [2, 7, 11, 12], [2, 8, 9, 13]], dtype="int32")
    expected = keras.ops.convert_to_numpy(model((SOURCE, target_in)))
    state = model.encode(SOURCE)
    for step in range(target_in.shape[1]):
        logits, new_state = model.decode_step(state, target_in[:, step], step)
        np.testing.assert_allclose(logits, expected[:, step], rtol=0, atol=1e-5)
        assert sorted(new_state) == sorted(state)
        for key in state:
            assert tuple(new_state[key].shape) == tuple(state[key].shape), key
        state = new_state


def step_by_step_greedy(model, source_ids, max_length):
    """Greedy tokens from `encode` and `decode_step` alone, in plain Python, with the
    conventions of `greedy_decode`: padding and `[START]` are never picked, padding
    follows `[END]`, and finished rows read `[END]`."""
    state = model.encode(source_ids)
    last = np.full(len(source_ids), START_ID, "int64")
    done = np.zeros(len(source_ids), bool)
    tokens = []
    for step in range(max_length):
        logits, state = model.decode_step(state, last, step)
        logits = keras.ops.convert_to_numpy(logits)
        logits[:, [PAD_ID, START_ID]] = -np.inf
        nxt = np.where(done, PAD_ID, np.argmax(logits, -1))
        tokens.append(nxt)
        done |= nxt == END_ID
        last = np.where(done, END_ID, nxt)
    return np.stack(tokens, 1)


def assert_fits_then_reloads_to_identical_outputs(model, tmp_path):
    compile_model(model)
    loss, accuracy = model.train_on_batch((SOURCE, TARGET_IN), TARGET_OUT)
    assert np.isfinite(loss) and 0.0 <= accuracy <= 1.0
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    assert type(reloaded) is type(model)
    assert reloaded.get_config() == model.get_config()
    np.testing.assert_allclose(
        reloaded((SOURCE, TARGET_IN)), model((SOURCE, TARGET_IN)), rtol=0, atol=1e-6
    )
    np.testing.assert_array_equal(
        step_by_step_greedy(reloaded, SOURCE, 5), step_by_step_greedy(model, SOURCE, 5)
    )


def assert_mixed_precision_step_works(model):
    logits = model((SOURCE, TARGET_IN))
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert model.encoder.compute_dtype == model.decoder.compute_dtype == "float16"
    compile_model(model)
    # Eagerly: tracing a train step costs seconds, and the float32 fits trace the same
    # graphs; dtype mismatches (the scan's float16 carry included) fail eagerly too.
    model.run_eagerly = True
    loss, _ = model.train_on_batch((SOURCE, TARGET_IN), TARGET_OUT)
    assert np.isfinite(loss)
    logits, state = model.decode_step(model.encode(SOURCE), np.full(3, START_ID), 0)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(logits)))
    return state


# --- Seq2Seq ------------------------------------------------------------------------


def test_seq2seq_config_round_trips():
    model = tiny(dropout=0.1)
    config = model.get_config()
    assert Seq2Seq.from_config(config).get_config() == config


def test_seq2seq_from_config_object_uses_its_sizes():
    model = Seq2Seq.from_config_object(Seq2SeqConfig(embedding_dim=6, units=5), 11, 12)
    config = model.get_config()
    assert (config["source_vocab_size"], config["target_vocab_size"]) == (11, 12)
    assert (config["embedding_dim"], config["units"], config["dropout"]) == (6, 5, 0.0)
    assert model.decoder.units == 10  # the decoder reads the bidirectional context


def test_seq2seq_call_gives_float32_logits_of_shape_batch_target_vocab():
    logits = tiny()((SOURCE, TARGET_IN))
    assert tuple(logits.shape) == (3, 4, TARGET_VOCAB)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"


def test_seq2seq_decode_steps_reproduce_teacher_forcing():
    assert_decode_steps_reproduce_teacher_forcing(tiny())


def test_seq2seq_state_is_the_context_and_the_gru_state_without_attention():
    state = tiny().encode(SOURCE, max_length=7)  # max_length: accepted, ignored
    assert sorted(state) == ["context", "hidden"]
    assert tuple(state["context"].shape) == (3, 8)  # [B, D], both directions
    assert tuple(state["hidden"].shape) == (3, 8)  # [B, H]


def test_seq2seq_greedy_decode_gives_step_by_step_tokens_and_no_attention():
    model = tiny()
    tokens, attention = greedy_decode(model, SOURCE, 6)
    assert attention is None  # no attention to plot: `attention_map` does not apply
    np.testing.assert_array_equal(tokens, step_by_step_greedy(model, SOURCE, 6))


def test_seq2seq_encode_works_on_a_model_that_was_never_called():
    fresh = tiny()
    logits, _ = fresh.decode_step(fresh.encode(SOURCE), np.full(3, START_ID), 0)
    assert tuple(logits.shape) == (3, TARGET_VOCAB)


def test_seq2seq_fits_then_reloads_to_identical_outputs(tmp_path):
    assert_fits_then_reloads_to_identical_outputs(tiny(dropout=0.1), tmp_path)


def test_seq2seq_mixed_precision_step_gives_float32_logits_and_a_finite_loss(mixed_float16):
    assert_mixed_precision_step_works(tiny())


# --- AttentionSeq2Seq: Luong scores and input feeding --------------------------------


def test_attention_seq2seq_defaults_to_bahdanau_without_input_feeding():
    config = AttentionSeq2Seq(SOURCE_VOCAB, TARGET_VOCAB).get_config()
    assert (config["attention"], config["input_feeding"]) == ("bahdanau", False)
    assert (AttentionSeq2SeqConfig().attention, AttentionSeq2SeqConfig().input_feeding) == (
        "bahdanau",
        False,
    )


def test_attention_seq2seq_config_from_before_luong_loads_as_bahdanau():
    # Models saved before `attention` and `input_feeding` existed have neither key.
    config = tiny(AttentionSeq2Seq).get_config()
    del config["attention"], config["input_feeding"]
    model = AttentionSeq2Seq.from_config(config)
    assert (model.attention, model.input_feeding) == ("bahdanau", False)
    assert model.decoder.get_config()["attention"] == "bahdanau"


def test_attention_seq2seq_scales_luong_scores_by_default():
    assert AttentionSeq2Seq(SOURCE_VOCAB, TARGET_VOCAB).get_config()["scaled"] is True
    assert AttentionSeq2SeqConfig().scaled is True


def test_attention_seq2seq_config_from_before_scaling_loads_unscaled():
    # Models saved before `scaled` existed were trained with Luong's unscaled scores.
    config = tiny(AttentionSeq2Seq, attention="general").get_config()
    del config["scaled"]
    model = AttentionSeq2Seq.from_config(config)
    model((SOURCE, TARGET_IN))
    assert model.scaled is False and model.decoder.attention.scaled is False


def test_attention_seq2seq_config_round_trips_attention_and_input_feeding():
    model = tiny_input_feeding(dropout=0.2)
    config = model.get_config()
    assert (config["attention"], config["input_feeding"]) == ("general", True)
    assert AttentionSeq2Seq.from_config(config).get_config() == config


def test_attention_seq2seq_from_config_object_passes_attention_and_input_feeding():
    config = AttentionSeq2SeqConfig(
        embedding_dim=6, units=5, attention="dot", input_feeding=True, scaled=False
    )
    model = AttentionSeq2Seq.from_config_object(config, 11, 12)
    assert model.decoder.get_config()["attention"] == "dot"
    assert model.decoder.input_feeding is True and model.decoder.scaled is False


def test_attention_seq2seq_rejects_an_unknown_attention_and_echoes_it():
    message = "^attention must be 'bahdanau', 'dot', 'general' or 'concat', got 'luong'$"
    with pytest.raises(ValueError, match=message):
        AttentionSeq2Seq(SOURCE_VOCAB, TARGET_VOCAB, attention="luong")


@pytest.mark.parametrize("cls", [Seq2Seq, AttentionSeq2Seq])
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source_vocab_size": 0}, "source_vocab_size must be a positive integer, got 0"),
        ({"target_vocab_size": 1.5}, "target_vocab_size must be a positive integer, got 1.5"),
        ({"embedding_dim": None}, "embedding_dim must be a positive integer, got None"),
        ({"units": True}, "units must be a positive integer, got True"),
        ({"dropout": 1}, r"dropout must be in \[0, 1\), got 1"),
    ],
)
def test_recurrent_models_reject_bad_sizes_by_their_own_names(cls, kwargs, message):
    arguments = {"source_vocab_size": SOURCE_VOCAB, "target_vocab_size": TARGET_VOCAB, **kwargs}
    with pytest.raises(ValueError, match=f"^{message}$"):
        cls(**arguments)


@pytest.mark.parametrize("input_feeding", [False, True], ids=["after_rnn", "input_feeding"])
@pytest.mark.parametrize("attention", ATTENTIONS)
def test_attention_seq2seq_decode_steps_reproduce_teacher_forcing(attention, input_feeding):
    model = tiny(AttentionSeq2Seq, attention=attention, input_feeding=input_feeding)
    assert_decode_steps_reproduce_teacher_forcing(model)


def test_input_feeding_state_carries_the_attentional_state():
    model = tiny_input_feeding()
    state = model.encode(SOURCE)
    assert sorted(state) == ["attention", "feed", "hidden", "keys", "mask", "memory"]
    np.testing.assert_array_equal(state["feed"], np.zeros((3, 8), "float32"))  # h̃_0 = 0
    _, state = model.decode_step(state, np.full(3, START_ID), 0)
    assert tuple(state["feed"].shape) == (3, 8)  # [B, H]
    assert np.abs(keras.ops.convert_to_numpy(state["feed"])).max() > 0.0
    attention = keras.ops.convert_to_numpy(state["attention"])
    assert np.all(attention[1, 3:] == 0.0)  # padding of the second source
    np.testing.assert_allclose(attention.sum(-1), np.ones(3), rtol=1e-6)


def test_input_feeding_greedy_decode_equals_step_by_step_decoding():
    # `greedy_decode` runs `decode_step`, and so the decoder's scan, in a `tf.function`.
    model = tiny_input_feeding()
    tokens, attention = greedy_decode(model, SOURCE, 6)
    np.testing.assert_array_equal(tokens, step_by_step_greedy(model, SOURCE, 6))
    assert attention.shape == (3, 6, 5)
    assert np.all(attention.numpy()[1, :, 3:] == 0.0)


def test_input_feeding_model_fits_then_reloads_to_identical_outputs(tmp_path):
    assert_fits_then_reloads_to_identical_outputs(tiny_input_feeding(dropout=0.1), tmp_path)


def test_attention_seq2seq_mixed_precision_step_and_greedy_decoding(mixed_float16):
    model = tiny(AttentionSeq2Seq)
    state = assert_mixed_precision_step_works(model)
    assert model.decoder.attention.compute_dtype == "float16"
    attention = keras.ops.convert_to_numpy(state["attention"])
    assert attention.dtype == np.float32
    assert np.all(attention[1, 3:] == 0.0)
    # In a `tf.function` while loop, as `greedy_decode` runs it: float32 attention.
    tokens, attention = greedy_decode(model, SOURCE, 4)
    assert tokens.shape == (3, 4) and attention.dtype == "float32"
    assert np.all(np.isfinite(attention.numpy()))
    assert np.all(attention.numpy()[1, :, 3:] == 0.0)


def test_input_feeding_mixed_precision_step_gives_float32_logits_and_attention(mixed_float16):
    state = assert_mixed_precision_step_works(tiny_input_feeding())
    attention = keras.ops.convert_to_numpy(state["attention"])
    assert attention.dtype == np.float32
    assert np.all(attention[1, 3:] == 0.0)
