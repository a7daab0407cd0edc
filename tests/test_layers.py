"""Layers: Bahdanau and Luong attention, the recurrent encoder, the decoders (DESIGN §3).

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
    ContextDecoder,
    LuongAttention,
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


# --- LuongAttention -----------------------------------------------------------------

LUONG = ["dot", "general", "concat"]


def luong_inputs(query_dim=3):
    keras.utils.set_random_seed(0)
    query = np.random.randn(2, 4, query_dim).astype("float32")  # [B, T, Hq]
    value = np.random.randn(2, 5, 3).astype("float32")  # [B, S, Hv]
    return query, value


@pytest.mark.parametrize(
    "layer",
    [
        LuongAttention("dot"),
        LuongAttention("general", name="att"),
        LuongAttention("general", scaled=False),
        LuongAttention("concat", 5),
    ],
    ids=["dot", "general", "general-unscaled", "concat"],
)
def test_luong_attention_config_round_trips(layer):
    assert_config_round_trip(layer)


def test_luong_attention_defaults_to_the_general_score_scaled():
    config = LuongAttention().get_config()
    assert config["score"] == "general" and config["scaled"] is True


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"score": "additive"}, "score must be one of .*got 'additive'$"),
        ({"score": None}, "score must be one of .*got None$"),
        ({"score": "concat", "units": 0}, "units must be .*got 0$"),
        ({"score": "concat", "units": 2.5}, "units must be .*got 2.5$"),
        ({"score": "general", "units": 4}, "units only applies to score='concat', got units=4"),
        ({"scaled": 1}, "scaled must be True or False, got 1$"),
    ],
)
def test_luong_attention_rejects_bad_arguments_and_echoes_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LuongAttention(**kwargs)


def test_dot_score_rejects_queries_and_values_of_different_sizes():
    query, value = luong_inputs(query_dim=6)
    with pytest.raises(ValueError, match="got query size 6 and value size 3; use score='general'"):
        LuongAttention("dot")(query, value)


@pytest.mark.parametrize("score", LUONG)
def test_luong_attention_eager_call_gives_context_and_weights_shapes(score):
    query, value = luong_inputs()
    context, weights = LuongAttention(score)(query, value, mask=SOURCE_MASK)
    assert tuple(context.shape) == (2, 4, 3)  # [B, T, Hv]
    assert tuple(weights.shape) == (2, 4, 5)  # [B, T, S]
    assert keras.backend.standardize_dtype(weights.dtype) == "float32"


@pytest.mark.parametrize("score", LUONG)
def test_luong_attention_symbolic_call_gives_context_and_weights_shapes(score):
    context, weights = LuongAttention(score)(keras.Input((None, 3)), keras.Input((5, 3)))
    assert tuple(context.shape) == (None, None, 3)
    assert tuple(weights.shape) == (None, None, 5)


@pytest.mark.parametrize("score", LUONG)
def test_luong_padding_positions_get_zero_attention(score):
    query, value = luong_inputs()
    _, weights = LuongAttention(score)(query, value, mask=SOURCE_MASK)
    weights = keras.ops.convert_to_numpy(weights)
    assert np.all(weights[1, :, 3:] == 0.0)  # the second sentence's two padding positions
    assert np.all(weights[:, :, :3] > 0.0)
    np.testing.assert_allclose(weights.sum(-1), np.ones((2, 4)), rtol=1e-6)


@pytest.mark.parametrize("score", LUONG)
def test_luong_precomputed_keys_give_the_same_attention(score):
    query, value = luong_inputs()
    layer = LuongAttention(score)
    context, weights = layer(query[:, :1], value, mask=SOURCE_MASK)
    keys = layer.project_keys(value)
    context_k, weights_k = layer(query[:, :1], value, mask=SOURCE_MASK, keys=keys)
    np.testing.assert_allclose(context_k, context, atol=1e-7)
    np.testing.assert_allclose(weights_k, weights, atol=1e-7)


# One query (Hq = 2) over three source positions (Hv = 3), the last one padding.
LUONG_QUERY = np.array([[[0.5, -1.0]]], "float32")  # [1, 1, 2]
LUONG_VALUE = np.array([[[1.0, 0.0, 2.0], [0.0, 1.0, -1.0], [3.0, 3.0, 3.0]]], "float32")
W_A = np.array([[1.0, 0.5, 0.0], [-1.0, 2.0, 1.0]], "float32")  # general: [Hq, Hv]
W_CONCAT = np.array([[1.0, 0.0, 0.5, -0.5, 1.0], [0.0, 2.0, -1.0, 1.0, 0.0]], "float32")
V_A = np.array([1.5, -1.0], "float32")  # concat: W_a [A, Hq + Hv] and v_a [A]


def luong_layer_and_scores(score, scaled):
    """A layer with weights set by hand, and its eq. 8 scores written out. `[S]`

    Scaled `"dot"` and `"general"` scores are divided by `√Hq`; `"concat"` never is.
    """
    q, h = LUONG_QUERY[0, 0], LUONG_VALUE[0]  # [Hq], [S, Hv]
    if score == "dot":
        query = q @ np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], "float32")  # Hq = Hv = 3
        scores = h @ query / (np.sqrt(3.0) if scaled else 1.0)
        return LuongAttention("dot", scaled=scaled), query[None, None], scores
    layer = LuongAttention(score, scaled=scaled)
    layer.build(LUONG_QUERY.shape, LUONG_VALUE.shape)
    if score == "general":
        layer.key_dense.kernel.assign(W_A.T)  # Keras kernels are [inputs, outputs]
        scores = np.array([q @ W_A @ h_s for h_s in h]) / (np.sqrt(2.0) if scaled else 1.0)
        return layer, LUONG_QUERY, scores
    layer.query_dense.kernel.assign(W_CONCAT[:, :2].T)
    layer.key_dense.kernel.assign(W_CONCAT[:, 2:].T)
    layer.score_dense.kernel.assign(V_A[:, None])
    scores = np.array([V_A @ np.tanh(W_CONCAT @ np.concatenate([q, h_s])) for h_s in h])
    return layer, LUONG_QUERY, scores


@pytest.mark.parametrize("scaled", [True, False], ids=["scaled", "unscaled"])
@pytest.mark.parametrize("score", LUONG)
def test_luong_attention_matches_hand_computed_scores(score, scaled):
    layer, query, scores = luong_layer_and_scores(score, scaled)
    context, weights = layer(query, LUONG_VALUE)
    np.testing.assert_allclose(weights[0, 0], softmax(scores), rtol=1e-6)
    np.testing.assert_allclose(context[0, 0], softmax(scores) @ LUONG_VALUE[0], rtol=1e-6)

    _, masked = layer(query, LUONG_VALUE, mask=np.array([[True, True, False]]))
    masked = keras.ops.convert_to_numpy(masked)
    assert masked[0, 0, 2] == 0.0
    np.testing.assert_allclose(masked[0, 0, :2], softmax(scores[:2]), rtol=1e-6)


def test_luong_scaling_changes_dot_and_general_weights_but_not_concat():
    for score in LUONG:
        (scaled, query, _), (unscaled, _, _) = (
            luong_layer_and_scores(score, True),
            luong_layer_and_scores(score, False),
        )
        w_scaled = keras.ops.convert_to_numpy(scaled(query, LUONG_VALUE)[1])
        w_unscaled = keras.ops.convert_to_numpy(unscaled(query, LUONG_VALUE)[1])
        if score == "concat":
            np.testing.assert_array_equal(w_scaled, w_unscaled)
        else:  # dividing by √Hq flattens the softmax: the largest weight shrinks
            assert w_scaled.max() < w_unscaled.max()


@pytest.mark.parametrize("score", LUONG)
def test_luong_attention_in_mixed_precision_gives_float32_weights_and_exact_zeros(
    score, mixed_float16
):
    query, value = luong_inputs()
    layer = LuongAttention(score)
    context, weights = layer(query, value, mask=SOURCE_MASK)
    assert layer.compute_dtype == keras.backend.standardize_dtype(context.dtype) == "float16"
    weights = keras.ops.convert_to_numpy(weights)
    assert weights.dtype == np.float32
    assert np.all(weights[1, :, 3:] == 0.0)
    np.testing.assert_allclose(weights.sum(-1), np.ones((2, 4)), rtol=1e-6)


@pytest.mark.parametrize("score", ["general", "concat"])
def test_luong_attention_in_a_functional_model_reloads(score, tmp_path):
    keras.utils.set_random_seed(0)
    query, value = keras.Input((None, 2)), keras.Input((None, 3))
    context, _ = LuongAttention(score, name="attention")(query, value)
    model = keras.Model([query, value], context)
    model.save(tmp_path / "attention.keras")
    reloaded = keras.saving.load_model(tmp_path / "attention.keras")
    inputs = [LUONG_QUERY, LUONG_VALUE]
    np.testing.assert_allclose(reloaded(inputs), model(inputs), rtol=0, atol=1e-7)


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


def test_decoder_with_luong_attention_and_input_feeding_config_round_trips():
    assert_config_round_trip(tiny_decoder(attention="concat", input_feeding=True))
    assert_config_round_trip(tiny_decoder(attention="general", scaled=False))


def test_decoder_passes_scaled_to_its_luong_attention():
    memory, state = decoder_inputs()
    for scaled in (True, False):
        decoder = tiny_decoder(attention="general", scaled=scaled)
        decoder(TARGET_IN, memory, SOURCE_MASK, state)
        assert decoder.attention.scaled is scaled


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"attention": "luong"}, "attention must be one of .*got 'luong'$"),
        ({"input_feeding": 1}, "input_feeding must be True or False, got 1$"),
        ({"scaled": "yes"}, "scaled must be True or False, got 'yes'$"),
    ],
)
def test_decoder_rejects_bad_attention_and_input_feeding_and_echoes_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_decoder(**kwargs)


ATTENTIONS = ["bahdanau", "dot", "general", "concat"]


def square_decoder_inputs():
    """Memory as wide as the decoder (`D == H`, as `"dot"` needs) and an input-fed state."""
    keras.utils.set_random_seed(0)
    memory = np.random.randn(2, 5, 8).astype("float32")  # [B, S, D]
    hidden = np.random.randn(2, 8).astype("float32")  # [B, H]
    return memory, hidden, (hidden, np.zeros_like(hidden))


@pytest.mark.parametrize("input_feeding", [False, True], ids=["after_rnn", "input_feeding"])
@pytest.mark.parametrize("attention", ATTENTIONS)
def test_every_decoder_variant_gives_padded_source_positions_zero_attention(
    attention, input_feeding
):
    memory, hidden, fed = square_decoder_inputs()
    decoder = tiny_decoder(attention=attention, input_feeding=input_feeding)
    logits, _, weights = decoder(TARGET_IN, memory, SOURCE_MASK, fed if input_feeding else hidden)
    assert tuple(logits.shape) == (2, 4, 12)  # [B, T, V]
    weights = keras.ops.convert_to_numpy(weights)
    assert np.all(weights[1, :, 3:] == 0.0)
    np.testing.assert_allclose(weights.sum(-1), np.ones((2, 4)), rtol=1e-6)


def test_input_feeding_decoder_eager_call_gives_logits_state_pair_and_attention():
    memory, _, fed = square_decoder_inputs()
    decoder = tiny_decoder(input_feeding=True)
    logits, (hidden, feed), attention = decoder(TARGET_IN, memory, SOURCE_MASK, fed)
    assert tuple(logits.shape) == (2, 4, 12)  # [B, T, V]
    assert tuple(hidden.shape) == tuple(feed.shape) == (2, 8)  # [B, H]
    assert tuple(attention.shape) == (2, 4, 5)  # [B, T, S]
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert decoder.cell.kernel.shape == (6 + 8, 3 * 8)  # the GRU reads [e_t; h̃_{t-1}]


def test_input_feeding_decoder_symbolic_call_gives_logits_state_pair_and_attention():
    logits, (hidden, feed), attention = tiny_decoder(input_feeding=True)(
        keras.Input((None,), dtype="int32"),
        keras.Input((None, 6)),
        keras.Input((None,), dtype="bool"),
        (keras.Input((8,)), keras.Input((8,))),
    )
    assert tuple(logits.shape) == (None, None, 12)
    assert tuple(hidden.shape) == tuple(feed.shape) == (None, 8)
    assert tuple(attention.shape) == (None, None, None)


def test_input_feeding_decoder_rejects_a_state_that_is_not_a_pair():
    memory, hidden, _ = square_decoder_inputs()
    with pytest.raises(ValueError, match="the state is the pair \\(hidden, feed\\)"):
        tiny_decoder(input_feeding=True)(TARGET_IN, memory, SOURCE_MASK, hidden)


def test_input_feeding_initial_state_starts_from_a_zero_attentional_state():
    _, state = decoder_inputs()
    decoder = tiny_decoder(input_feeding=True)
    decoder.build((None, None), (None, None, 6))
    hidden, feed = decoder.initial_state(state[:, :6])
    np.testing.assert_allclose(hidden, decoder.bridge(state[:, :6]))
    np.testing.assert_array_equal(feed, np.zeros((2, 8), "float32"))


def test_input_feeding_feeds_the_previous_attentional_state_to_the_gru():
    # Luong et al. (2015), §3.3, written out one step at a time with the layer's parts.
    memory, _, (hidden, feed) = square_decoder_inputs()
    decoder = tiny_decoder(input_feeding=True, attention="general")
    logits, _, weights = decoder(TARGET_IN[:1], memory[:1], SOURCE_MASK[:1], (hidden[:1], feed[:1]))
    s, h_tilde = hidden[:1], feed[:1]
    for t in range(TARGET_IN.shape[1]):
        e_t = decoder.embedding(TARGET_IN[:1, t])  # [1, E]
        s, _ = decoder.cell(keras.ops.concatenate([e_t, h_tilde], -1), s)  # [1, H]
        context, a_t = decoder.attention(s[:, None], memory[:1], mask=SOURCE_MASK[:1])
        h_tilde = decoder.combine(keras.ops.concatenate([context[:, 0], s], -1))  # [1, H]
        np.testing.assert_allclose(weights[:, t], a_t[:, 0], atol=1e-6)
        np.testing.assert_allclose(logits[:, t], decoder.logits(h_tilde), atol=1e-5)


def test_input_feeding_state_ignores_target_padding():
    memory, _, (hidden, feed) = square_decoder_inputs()
    decoder = tiny_decoder(input_feeding=True)
    args = (memory[1:], SOURCE_MASK[1:], (hidden[1:], feed[1:]))
    _, (padded_hidden, padded_feed), _ = decoder(TARGET_IN[1:], *args)
    _, (short_hidden, short_feed), _ = decoder(TARGET_IN[1:, :2], *args)
    np.testing.assert_allclose(padded_hidden, short_hidden, atol=1e-6)
    np.testing.assert_allclose(padded_feed, short_feed, atol=1e-6)


# --- ContextDecoder -----------------------------------------------------------------


def tiny_context_decoder(**kwargs):
    return ContextDecoder(12, embedding_dim=6, units=8, **kwargs)


def test_context_decoder_config_round_trips():
    assert_config_round_trip(tiny_context_decoder(dropout=0.25))


@pytest.mark.parametrize(
    ("kwargs", "bad"),
    [
        ({"vocab_size": 0}, "0"),
        ({"embedding_dim": 6.0}, "6.0"),
        ({"units": None}, "None"),
        ({"dropout": -0.5}, "-0.5"),
    ],
)
def test_context_decoder_rejects_bad_arguments_and_echoes_them(kwargs, bad):
    arguments = {"vocab_size": 12, **kwargs}
    with pytest.raises(ValueError, match=f"{next(iter(kwargs))} must .*got {bad}$"):
        ContextDecoder(**arguments)


def context_decoder_inputs():
    keras.utils.set_random_seed(0)
    context = np.random.randn(2, 6).astype("float32")  # [B, D]
    state = np.random.randn(2, 8).astype("float32")  # [B, H]
    return context, state


def test_context_decoder_eager_call_gives_logits_and_state():
    context, state = context_decoder_inputs()
    logits, new_state = tiny_context_decoder()(TARGET_IN, context, state)
    assert tuple(logits.shape) == (2, 4, 12)  # [B, T, V]
    assert tuple(new_state.shape) == (2, 8)  # [B, H]
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"


def test_context_decoder_symbolic_call_gives_logits_and_state():
    logits, state = tiny_context_decoder()(
        keras.Input((None,), dtype="int32"), keras.Input((6,)), keras.Input((8,))
    )
    assert tuple(logits.shape) == (None, None, 12)
    assert tuple(state.shape) == (None, 8)


def test_context_decoder_initial_state_is_tanh_of_a_projection_of_the_context():
    context, _ = context_decoder_inputs()
    decoder = tiny_context_decoder()
    decoder.build((None, None), (None, 6))
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in decoder.bridge.weights)
    np.testing.assert_allclose(
        decoder.initial_state(context), np.tanh(context @ kernel + bias), atol=1e-6
    )


def test_context_decoder_reads_the_context_at_every_step_not_only_the_first():
    # Same first state, different contexts: every position's logits change, because the
    # GRU input and the output layer both read `c` (Cho et al. 2014).
    context, state = context_decoder_inputs()
    decoder = tiny_context_decoder()
    logits, _ = decoder(TARGET_IN, context, state)
    other, _ = decoder(TARGET_IN, context + 1.0, state)
    difference = np.abs(keras.ops.convert_to_numpy(logits - other)).max(-1)  # [B, T]
    assert np.all(difference > 1e-3)


def test_context_decoder_state_ignores_target_padding():
    context, state = context_decoder_inputs()
    decoder = tiny_context_decoder()
    _, padded_state = decoder(TARGET_IN[1:], context[1:], state[1:])
    _, short_state = decoder(TARGET_IN[1:, :2], context[1:], state[1:])
    np.testing.assert_allclose(padded_state, short_state, atol=1e-6)


# --- mixed precision ------------------------------------------------------------------


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
