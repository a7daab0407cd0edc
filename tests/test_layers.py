"""Layers: Bahdanau attention, the recurrent encoder and the attention decoder (DESIGN §3).

Every layer gets the keras-hub habits: config round-trip, constructor validation, eager
and symbolic calls with the documented shapes, and tiny hand-computed mask tests.
"""

import keras
import numpy as np
import pytest

from s2s_keras.decoding import greedy_decode
from s2s_keras.layers import (
    AttentionDecoder,
    BahdanauAttention,
    RNNEncoder,
    masked_softmax,
    padding_mask,
)
from s2s_keras.models import AttentionSeq2Seq
from s2s_keras.training import compile_model

# Two right-padded source sentences: [START] w w w [END] and [START] w [END] + padding.
SOURCE = np.array([[2, 5, 6, 7, 3], [2, 8, 3, 0, 0]], dtype="int32")
SOURCE_MASK = SOURCE != 0
TARGET_IN = np.array([[2, 9, 4, 10], [2, 11, 0, 0]], dtype="int32")


def softmax(x):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def assert_config_round_trip(layer):
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config


# --- masked_softmax -----------------------------------------------------------------


def test_padding_mask_is_true_on_real_tokens():
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(padding_mask(SOURCE)), SOURCE_MASK)


def test_masked_softmax_gives_exact_zeros_and_renormalises_over_allowed_positions():
    scores = np.array([[1.0, 2.0, 3.0]], "float32")
    weights = keras.ops.convert_to_numpy(masked_softmax(scores, np.array([[True, True, False]])))
    assert weights[0, 2] == 0.0
    np.testing.assert_allclose(weights[0, :2], softmax(scores[0, :2]), rtol=1e-6)


def test_masked_softmax_ignores_even_a_huge_score_at_a_masked_position():
    # Masked scores are replaced, not offset: no finite score can leak through.
    scores = np.array([[1.0, 2.0, 3e4]], "float32")
    weights = keras.ops.convert_to_numpy(masked_softmax(scores, np.array([[True, True, False]])))
    assert weights[0, 2] == 0.0
    np.testing.assert_allclose(weights[0, :2], softmax(scores[0, :2]), rtol=1e-6)


def test_masked_softmax_without_mask_is_a_plain_softmax():
    scores = np.array([[0.5, -1.0, 2.0]], "float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(masked_softmax(scores)), softmax(scores), rtol=1e-6
    )


def test_masked_softmax_of_float16_scores_is_float32_and_finite():
    # float16's range ends at 65504: a float16 softmax of these would overflow.
    scores = np.array([[60000.0, -60000.0, 1.0, 5.0]], "float16")
    mask = np.array([[True, True, True, False]])
    weights = masked_softmax(keras.ops.convert_to_tensor(scores), mask)
    assert keras.backend.standardize_dtype(weights.dtype) == "float32"
    weights = keras.ops.convert_to_numpy(weights)
    assert np.all(np.isfinite(weights))
    np.testing.assert_array_equal(weights, [[1.0, 0.0, 0.0, 0.0]])


# --- BahdanauAttention --------------------------------------------------------------


def test_attention_config_round_trips():
    assert_config_round_trip(BahdanauAttention(7, name="att"))


@pytest.mark.parametrize("units", [0, -3, 2.5, "8", None])
def test_attention_rejects_bad_units_and_echoes_them(units):
    with pytest.raises(ValueError, match=f"got {units!r}"):
        BahdanauAttention(units)


def test_attention_eager_call_gives_context_and_weights_shapes():
    keras.utils.set_random_seed(0)
    query = np.random.rand(2, 4, 6).astype("float32")  # [B, T, Hq]
    value = np.random.rand(2, 5, 3).astype("float32")  # [B, S, Hv]
    context, weights = BahdanauAttention(8)(query, value, mask=SOURCE_MASK)
    assert tuple(context.shape) == (2, 4, 3)  # [B, T, Hv]
    assert tuple(weights.shape) == (2, 4, 5)  # [B, T, S]


def test_attention_symbolic_call_gives_context_and_weights_shapes():
    query = keras.Input((None, 6))
    value = keras.Input((5, 3))
    context, weights = BahdanauAttention(8)(query, value)
    assert tuple(context.shape) == (None, None, 3)
    assert tuple(weights.shape) == (None, None, 5)


def test_padding_positions_get_zero_attention():
    keras.utils.set_random_seed(0)
    query = np.random.randn(2, 4, 6).astype("float32")
    value = np.random.randn(2, 5, 3).astype("float32")
    _, weights = BahdanauAttention(8)(query, value, mask=SOURCE_MASK)
    weights = keras.ops.convert_to_numpy(weights)
    assert weights.dtype == np.float32
    assert np.all(weights[1, :, 3:] == 0.0)  # the second sentence's two padding positions
    assert np.all(weights[:, :, :3] > 0.0)
    np.testing.assert_allclose(weights.sum(-1), np.ones((2, 4)), rtol=1e-6)


def test_precomputed_keys_give_the_same_attention():
    keras.utils.set_random_seed(0)
    query = np.random.randn(2, 1, 6).astype("float32")
    value = np.random.randn(2, 5, 3).astype("float32")
    layer = BahdanauAttention(8)
    context, weights = layer(query, value, mask=SOURCE_MASK)
    context_k, weights_k = layer(query, value, mask=SOURCE_MASK, keys=layer.project_keys(value))
    np.testing.assert_allclose(context_k, context, atol=1e-7)
    np.testing.assert_allclose(weights_k, weights, atol=1e-7)


def test_attention_matches_a_hand_computed_additive_score():
    # score_j = vᵀ tanh(W_q q + W_k h_j) with W_q = W_k = I and v = [1, 2].
    layer = BahdanauAttention(2)
    query = np.array([[[0.5, -0.25]]], "float32")  # [1, 1, 2]
    value = np.array([[[1.0, 0.0], [0.0, 1.0], [-1.0, 2.0]]], "float32")  # [1, 3, 2]
    layer.build(query.shape, value.shape)
    v = np.array([[1.0], [2.0]], "float32")
    layer.set_weights([np.eye(2, dtype="float32"), np.eye(2, dtype="float32"), v])
    scores = np.tanh(query[0] + value[0]) @ v[:, 0]  # [3]

    context, weights = layer(query, value)
    np.testing.assert_allclose(weights[0, 0], softmax(scores), rtol=1e-6)
    np.testing.assert_allclose(context[0, 0], softmax(scores) @ value[0], rtol=1e-6)

    _, masked = layer(query, value, mask=np.array([[True, True, False]]))
    masked = keras.ops.convert_to_numpy(masked)
    assert masked[0, 0, 2] == 0.0
    np.testing.assert_allclose(masked[0, 0, :2], softmax(scores[:2]), rtol=1e-6)


# --- RNNEncoder ---------------------------------------------------------------------

ENCODERS = [
    pytest.param("gru", True, id="bigru"),
    pytest.param("gru", False, id="gru"),
    pytest.param("lstm", True, id="bilstm"),
    pytest.param("lstm", False, id="lstm"),
]


def tiny_encoder(cell, bidirectional, num_layers=2):
    return RNNEncoder(
        20,
        embedding_dim=6,
        units=4,
        cell=cell,
        bidirectional=bidirectional,
        num_layers=num_layers,
    )


@pytest.mark.parametrize(("cell", "bidirectional"), ENCODERS)
def test_encoder_config_round_trips(cell, bidirectional):
    assert_config_round_trip(tiny_encoder(cell, bidirectional))


@pytest.mark.parametrize(
    ("kwargs", "bad"),
    [
        ({"vocab_size": 0}, "0"),
        ({"embedding_dim": -1}, "-1"),
        ({"units": 4.0}, "4.0"),
        ({"num_layers": 0}, "0"),
        ({"cell": "rnn"}, "'rnn'"),
        ({"dropout": 1.0}, "1.0"),
        ({"dropout": -0.1}, "-0.1"),
    ],
)
def test_encoder_rejects_bad_arguments_and_echoes_them(kwargs, bad):
    arguments = {"vocab_size": 20, **kwargs}
    with pytest.raises(ValueError, match=f"{next(iter(kwargs))} must .*got {bad}$"):
        RNNEncoder(**arguments)


@pytest.mark.parametrize(("cell", "bidirectional"), ENCODERS)
def test_encoder_eager_call_gives_outputs_state_and_mask(cell, bidirectional):
    keras.utils.set_random_seed(0)
    encoder = tiny_encoder(cell, bidirectional)
    outputs, state, mask = encoder(SOURCE)
    d = 8 if bidirectional else 4
    assert encoder.output_dim == d
    assert tuple(outputs.shape) == (2, 5, d)  # [B, S, D]
    assert tuple(state.shape) == (2, d)  # [B, D]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(mask), SOURCE_MASK)


def test_encoder_symbolic_call_gives_outputs_state_and_mask():
    outputs, state, mask = tiny_encoder("lstm", True)(keras.Input((None,), dtype="int32"))
    assert tuple(outputs.shape) == (None, None, 8)
    assert tuple(state.shape) == (None, 8)
    assert tuple(mask.shape) == (None, None)
    assert mask.dtype == "bool"


@pytest.mark.parametrize(("cell", "bidirectional"), ENCODERS)
def test_encoder_final_state_ignores_trailing_padding(cell, bidirectional):
    # The mask must be honoured: extra zeros may not move the state (nor, for a
    # backward reader, be read before the sentence).
    keras.utils.set_random_seed(0)
    encoder = tiny_encoder(cell, bidirectional)
    sentence = [2, 5, 6, 7, 3]
    results = [encoder(np.array([sentence + [0] * extra])) for extra in (0, 2, 5)]
    reference_outputs, reference_state, _ = results[0]
    for outputs, state, _ in results[1:]:
        np.testing.assert_allclose(state, reference_state, atol=1e-6)
        np.testing.assert_allclose(outputs[:, :5], reference_outputs, atol=1e-6)


def test_bidirectional_state_is_forward_last_and_backward_first_output():
    # The state concatenates the forward direction's last hidden state and the backward
    # direction's, which for a right-padded sentence is the output at its first token.
    keras.utils.set_random_seed(0)
    encoder = tiny_encoder("lstm", True, num_layers=1)
    outputs, state, _ = encoder(SOURCE)
    outputs, state = keras.ops.convert_to_numpy(outputs), keras.ops.convert_to_numpy(state)
    np.testing.assert_allclose(state[0, :4], outputs[0, 4, :4], atol=1e-6)
    np.testing.assert_allclose(state[1, :4], outputs[1, 2, :4], atol=1e-6)  # its [END]
    np.testing.assert_allclose(state[:, 4:], outputs[:, 0, 4:], atol=1e-6)


def test_encoder_in_a_functional_model_fits_and_reloads(tmp_path):
    keras.utils.set_random_seed(0)
    source = keras.Input((None,), dtype="int32")
    _, state, _ = tiny_encoder("lstm", True)(source)
    model = keras.Model(source, keras.layers.Dense(1)(state))
    model.compile(optimizer="sgd", loss="mse")
    loss = model.train_on_batch(SOURCE, np.ones((2, 1), "float32"))
    assert np.isfinite(loss)
    model.save(tmp_path / "encoder.keras")
    reloaded = keras.saving.load_model(tmp_path / "encoder.keras")
    np.testing.assert_allclose(reloaded(SOURCE), model(SOURCE), atol=1e-6)


# --- AttentionDecoder ---------------------------------------------------------------


def tiny_decoder(**kwargs):
    return AttentionDecoder(12, embedding_dim=6, units=8, **kwargs)


def test_decoder_config_round_trips():
    assert_config_round_trip(tiny_decoder(attention_units=5, dropout=0.25))


def test_decoder_attention_units_default_to_units():
    assert tiny_decoder().get_config()["attention_units"] == 8


@pytest.mark.parametrize(
    ("kwargs", "bad"),
    [
        ({"vocab_size": 0}, "0"),
        ({"embedding_dim": "6"}, "'6'"),
        ({"units": -8}, "-8"),
        ({"attention_units": 0}, "0"),
        ({"attention_units": -2}, "-2"),
        ({"dropout": 1.5}, "1.5"),
    ],
)
def test_decoder_rejects_bad_arguments_and_echoes_them(kwargs, bad):
    arguments = {"vocab_size": 12, **kwargs}
    with pytest.raises(ValueError, match=f"{next(iter(kwargs))} must .*got {bad}$"):
        AttentionDecoder(**arguments)


def decoder_inputs():
    keras.utils.set_random_seed(0)
    memory = np.random.randn(2, 5, 6).astype("float32")  # [B, S, D]
    state = np.random.randn(2, 8).astype("float32")  # [B, H]
    return memory, state


def test_decoder_eager_call_gives_logits_state_and_attention():
    memory, state = decoder_inputs()
    logits, new_state, attention = tiny_decoder()(TARGET_IN, memory, SOURCE_MASK, state)
    assert tuple(logits.shape) == (2, 4, 12)  # [B, T, V]
    assert tuple(new_state.shape) == (2, 8)  # [B, H]
    assert tuple(attention.shape) == (2, 4, 5)  # [B, T, S]
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"


def test_decoder_symbolic_call_gives_logits_state_and_attention():
    logits, state, attention = tiny_decoder()(
        keras.Input((None,), dtype="int32"),
        keras.Input((None, 6)),
        keras.Input((None,), dtype="bool"),
        keras.Input((8,)),
    )
    assert tuple(logits.shape) == (None, None, 12)
    assert tuple(state.shape) == (None, 8)
    assert tuple(attention.shape) == (None, None, None)


def test_decoder_gives_padded_source_positions_zero_attention():
    memory, state = decoder_inputs()
    _, _, attention = tiny_decoder()(TARGET_IN, memory, SOURCE_MASK, state)
    attention = keras.ops.convert_to_numpy(attention)
    assert np.all(attention[1, :, 3:] == 0.0)
    np.testing.assert_allclose(attention.sum(-1), np.ones((2, 4)), rtol=1e-6)


def test_decoder_state_ignores_target_padding():
    memory, state = decoder_inputs()
    decoder = tiny_decoder()
    _, padded_state, _ = decoder(TARGET_IN[1:], memory[1:], SOURCE_MASK[1:], state[1:])
    _, short_state, _ = decoder(TARGET_IN[1:, :2], memory[1:], SOURCE_MASK[1:], state[1:])
    np.testing.assert_allclose(padded_state, short_state, atol=1e-6)


# --- mixed precision ------------------------------------------------------------------


@pytest.fixture
def mixed_float16():
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


def test_mixed_precision_step_gives_float32_logits_and_a_finite_loss(mixed_float16):
    keras.utils.set_random_seed(0)
    model = AttentionSeq2Seq(20, 14, embedding_dim=8, units=4)
    logits = model((SOURCE, TARGET_IN))
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert model.encoder.compute_dtype == "float16"
    assert model.decoder.attention.compute_dtype == "float16"
    compile_model(model)
    target_out = np.array([[9, 4, 10, 3], [11, 3, 0, 0]], "int32")
    loss, _ = model.train_on_batch((SOURCE, TARGET_IN), target_out)
    assert np.isfinite(loss)

    logits, state = model.decode_step(model.encode(SOURCE), np.array([2, 2]), 0)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    attention = keras.ops.convert_to_numpy(state["attention"])
    assert attention.dtype == np.float32
    assert np.all(attention[1, 3:] == 0.0)

    tokens, attention = greedy_decode(model, SOURCE, 4)
    assert tokens.shape == (2, 4) and attention.dtype == "float32"
    assert np.all(np.isfinite(attention.numpy()))
