"""Layers: Bahdanau and Luong attention, the recurrent encoder, the decoders.

`run_layer_test` checks each layer's Keras contract (config, eager and symbolic calls,
a training step, `.keras` save/load, mixed precision); the tests here add what only a
layer's own test can: hand-computed outputs, masks, argument errors.
"""

import keras
import numpy as np
import pytest
from layer_testing import run_layer_test

from s2s_keras.layers import (
    AttentionDecoder,
    BahdanauAttention,
    ContextDecoder,
    LuongAttention,
    RNNEncoder,
    masked_softmax,
    padding_mask,
)

# Two right-padded source sentences: [START] w w w [END] and [START] w [END] + padding.
SOURCE = np.array([[2, 5, 6, 7, 3], [2, 8, 3, 0, 0]], dtype="int32")
SOURCE_MASK = SOURCE != 0
TARGET_IN = np.array([[2, 9, 4, 10], [2, 11, 0, 0]], dtype="int32")


def softmax(x):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def random_states(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


# --- masked_softmax -----------------------------------------------------------------


def test_padding_mask_is_true_on_real_tokens():
    np.testing.assert_array_equal(numpy(padding_mask(SOURCE)), SOURCE_MASK)


def test_masked_softmax_gives_exact_zeros_and_renormalises_over_allowed_positions():
    scores = np.array([[1.0, 2.0, 3.0]], "float32")
    weights = numpy(masked_softmax(scores, np.array([[True, True, False]])))
    assert weights[0, 2] == 0.0
    np.testing.assert_allclose(weights[0, :2], softmax(scores[0, :2]), rtol=1e-6)


def test_masked_softmax_ignores_even_a_huge_score_at_a_masked_position():
    # Masked scores are replaced, not offset: no finite score can leak through.
    scores = np.array([[1.0, 2.0, 3e4]], "float32")
    weights = numpy(masked_softmax(scores, np.array([[True, True, False]])))
    assert weights[0, 2] == 0.0
    np.testing.assert_allclose(weights[0, :2], softmax(scores[0, :2]), rtol=1e-6)


def test_masked_softmax_without_mask_is_a_plain_softmax():
    scores = np.array([[0.5, -1.0, 2.0]], "float32")
    np.testing.assert_allclose(numpy(masked_softmax(scores)), softmax(scores), rtol=1e-6)


def test_masked_softmax_of_float16_scores_is_float32_and_finite():
    # float16's range ends at 65504: a float16 softmax of these would overflow.
    scores = np.array([[60000.0, -60000.0, 1.0, 5.0]], "float16")
    mask = np.array([[True, True, True, False]])
    weights = masked_softmax(keras.ops.convert_to_tensor(scores), mask)
    assert keras.backend.standardize_dtype(weights.dtype) == "float32"
    weights = numpy(weights)
    assert np.all(np.isfinite(weights))
    np.testing.assert_array_equal(weights, [[1.0, 0.0, 0.0, 0.0]])


# --- both attention layers -----------------------------------------------------------

LUONG = ["dot", "general", "concat"]
ATTENTION_LAYERS = [
    pytest.param(BahdanauAttention, {"units": 8}, id="bahdanau"),
    *(pytest.param(LuongAttention, {"score": score}, id=score) for score in LUONG),
]


def attention_inputs():
    query = random_states(2, 4, 3, seed=1)  # [B, T, H]
    value = random_states(2, 5, 3, seed=2)  # [B, S, D]
    return query, value


@pytest.mark.parametrize(("layer_cls", "kwargs"), ATTENTION_LAYERS)
def test_attention_layer_contract(layer_cls, kwargs):
    query, value = attention_inputs()
    run_layer_test(
        layer_cls,
        kwargs,
        {"query": query, "value": value, "value_mask": SOURCE_MASK},
        expected_output_shape=((2, 4, 3), (2, 4, 5)),  # [B, T, D], [B, T, S]
        mixed_precision_output_dtype=("float16", "float32"),
        run_training_check=kwargs.get("score") != "dot",  # "dot" has no weights
    )


@pytest.mark.parametrize("dtype", ["float32", "mixed_float16"])
@pytest.mark.parametrize(("layer_cls", "kwargs"), ATTENTION_LAYERS)
def test_padding_positions_get_zero_attention(layer_cls, kwargs, dtype):
    query, value = attention_inputs()
    _, weights = layer_cls(**kwargs, dtype=dtype)(query, value, value_mask=SOURCE_MASK)
    weights = numpy(weights)
    assert weights.dtype == np.float32
    assert np.all(weights[1, :, 3:] == 0.0)  # the second sentence's two padding positions
    assert np.all(weights[:, :, :3] > 0.0)
    np.testing.assert_allclose(weights.sum(-1), np.ones((2, 4)), rtol=1e-6)


@pytest.mark.parametrize(("layer_cls", "kwargs"), ATTENTION_LAYERS)
def test_attention_reads_the_keras_mask_of_the_value_and_passes_on_the_querys(layer_cls, kwargs):
    # As `keras.layers.MultiHeadAttention`: an `Embedding(mask_zero=True)` marks padding.
    query_ids = np.array([[4, 6, 0], [5, 0, 0]])  # [B, T]
    embed = keras.layers.Embedding(12, 3, mask_zero=True)
    query, value = embed(query_ids), embed(SOURCE)  # [B, T, H], [B, S, D]
    layer = layer_cls(**kwargs)
    context, weights = layer(query, value)
    np.testing.assert_array_equal(numpy(weights)[1, :, 3:], 0.0)
    _, explicit = layer(query, value, value_mask=SOURCE_MASK)
    np.testing.assert_array_equal(numpy(weights), numpy(explicit))
    np.testing.assert_array_equal(numpy(context._keras_mask), query_ids != 0)


@pytest.mark.parametrize(("layer_cls", "kwargs"), ATTENTION_LAYERS)
def test_precomputed_keys_give_the_same_attention(layer_cls, kwargs):
    query, value = attention_inputs()
    layer = layer_cls(**kwargs)
    context, weights = layer(query[:, :1], value, value_mask=SOURCE_MASK)
    keys = layer.project_keys(value)
    context_k, weights_k = layer(query[:, :1], value, value_mask=SOURCE_MASK, keys=keys)
    np.testing.assert_allclose(context_k, context, atol=1e-7)
    np.testing.assert_allclose(weights_k, weights, atol=1e-7)


# --- BahdanauAttention --------------------------------------------------------------


@pytest.mark.parametrize("units", [0, -3, 2.5, "8", None, True])
def test_bahdanau_attention_rejects_bad_units_and_echoes_them(units):
    with pytest.raises(ValueError, match=f"^units must be a positive integer, got {units!r}$"):
        BahdanauAttention(units)


def test_bahdanau_attention_matches_a_hand_computed_additive_score():
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

    _, masked = layer(query, value, value_mask=np.array([[True, True, False]]))
    masked = numpy(masked)
    assert masked[0, 0, 2] == 0.0
    np.testing.assert_allclose(masked[0, 0, :2], softmax(scores[:2]), rtol=1e-6)


# --- LuongAttention -----------------------------------------------------------------


def test_luong_attention_defaults_to_the_general_score_scaled():
    config = LuongAttention().get_config()
    assert config["score"] == "general" and config["scaled"] is True


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"score": "additive"}, "score must be 'dot', 'general' or 'concat', got 'additive'"),
        ({"score": None}, "score must be 'dot', 'general' or 'concat', got None"),
        ({"scaled": 1}, "scaled must be True or False, got 1"),
    ],
)
def test_luong_attention_rejects_bad_arguments_and_echoes_them(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        LuongAttention(**kwargs)


def test_dot_score_rejects_queries_and_values_of_different_sizes():
    with pytest.raises(ValueError, match="got query size 6 and value size 3; use score='general'"):
        LuongAttention("dot")(random_states(2, 4, 6), random_states(2, 5, 3))


def test_luong_attention_loads_a_config_saved_with_units_none():
    config = LuongAttention("concat").get_config()
    assert LuongAttention.from_config({**config, "units": None}).get_config() == config
    with pytest.raises(ValueError, match="no longer has the option units.*units=5 "):
        LuongAttention.from_config({**config, "units": 5})


# One query (H = 2) over three source positions (D = 3), the last one padding.
LUONG_QUERY = np.array([[[0.5, -1.0]]], "float32")  # [1, 1, 2]
LUONG_VALUE = np.array([[[1.0, 0.0, 2.0], [0.0, 1.0, -1.0], [3.0, 3.0, 3.0]]], "float32")
W_A = np.array([[1.0, 0.5, 0.0], [-1.0, 2.0, 1.0]], "float32")  # general: [H, D]
W_CONCAT = np.array([[1.0, 0.0, 0.5, -0.5, 1.0], [0.0, 2.0, -1.0, 1.0, 0.0]], "float32")
V_A = np.array([1.5, -1.0], "float32")  # concat: W_a [A, H + D] and v_a [A], A = H


def luong_layer_and_scores(score, scaled):
    """A layer with weights set by hand, and its eq. 8 scores written out. `[S]`

    Scaled `"dot"` and `"general"` scores are divided by `√H`; `"concat"` never is.
    """
    q, h = LUONG_QUERY[0, 0], LUONG_VALUE[0]  # [H], [S, D]
    if score == "dot":
        query = q @ np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], "float32")  # H = D = 3
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

    _, masked = layer(query, LUONG_VALUE, value_mask=np.array([[True, True, False]]))
    masked = numpy(masked)
    assert masked[0, 0, 2] == 0.0
    np.testing.assert_allclose(masked[0, 0, :2], softmax(scores[:2]), rtol=1e-6)


def test_luong_scaling_changes_dot_and_general_weights_but_not_concat():
    for score in LUONG:
        (scaled, query, _), (unscaled, _, _) = (
            luong_layer_and_scores(score, True),
            luong_layer_and_scores(score, False),
        )
        w_scaled = numpy(scaled(query, LUONG_VALUE)[1])
        w_unscaled = numpy(unscaled(query, LUONG_VALUE)[1])
        if score == "concat":
            np.testing.assert_array_equal(w_scaled, w_unscaled)
        else:  # dividing by √H flattens the softmax: the largest weight shrinks
            assert w_scaled.max() < w_unscaled.max()


# --- RNNEncoder ---------------------------------------------------------------------


def tiny_encoder():
    return RNNEncoder(20, embedding_dim=6, units=4)


def test_encoder_contract():
    run_layer_test(
        RNNEncoder,
        {"vocab_size": 20, "embedding_dim": 6, "units": 4, "dropout": 0.1},
        {"source_ids": SOURCE},
        expected_output_shape=((2, 5, 8), (2, 8), (2, 5)),  # [B, S, D], [B, D], [B, S]
        mixed_precision_output_dtype=("float16", "float16", "bool"),
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vocab_size": 0}, "vocab_size must be a positive integer, got 0"),
        ({"embedding_dim": -1}, "embedding_dim must be a positive integer, got -1"),
        ({"units": 4.0}, "units must be a positive integer, got 4.0"),
        ({"units": True}, "units must be a positive integer, got True"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\), got 1.0"),
        ({"dropout": -0.1}, r"dropout must be in \[0, 1\), got -0.1"),
    ],
)
def test_encoder_rejects_bad_arguments_and_echoes_them(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        RNNEncoder(**{"vocab_size": 20, **kwargs})


def test_encoder_returns_the_padding_mask():
    _, _, mask = tiny_encoder()(SOURCE)
    np.testing.assert_array_equal(numpy(mask), SOURCE_MASK)


def test_encoder_final_state_ignores_trailing_padding():
    # The mask must be honoured: extra zeros may not move the state (nor, for the
    # backward reader, be read before the sentence).
    keras.utils.set_random_seed(0)
    encoder = tiny_encoder()
    sentence = [2, 5, 6, 7, 3]
    results = [encoder(np.array([sentence + [0] * extra])) for extra in (0, 2, 5)]
    reference_outputs, reference_state, _ = results[0]
    for outputs, state, _ in results[1:]:
        np.testing.assert_allclose(state, reference_state, atol=1e-6)
        np.testing.assert_allclose(outputs[:, :5], reference_outputs, atol=1e-6)


def test_encoder_state_is_forward_last_and_backward_first_output():
    # The state concatenates the forward direction's last hidden state and the backward
    # direction's, which for a right-padded sentence is the output at its first token.
    keras.utils.set_random_seed(0)
    outputs, state, _ = tiny_encoder()(SOURCE)
    outputs, state = numpy(outputs), numpy(state)
    np.testing.assert_allclose(state[0, :4], outputs[0, 4, :4], atol=1e-6)
    np.testing.assert_allclose(state[1, :4], outputs[1, 2, :4], atol=1e-6)  # its [END]
    np.testing.assert_allclose(state[:, 4:], outputs[:, 0, 4:], atol=1e-6)


def test_encoder_loads_a_config_saved_with_the_one_cell_it_has():
    config = tiny_encoder().get_config()
    old = {**config, "cell": "gru", "bidirectional": True, "num_layers": 1}
    assert RNNEncoder.from_config(old).get_config() == config
    with pytest.raises(ValueError, match="no longer has the option cell.*cell='lstm' "):
        RNNEncoder.from_config({**old, "cell": "lstm"})


# --- AttentionDecoder ---------------------------------------------------------------

ATTENTIONS = ["bahdanau", "dot", "general", "concat"]


def tiny_decoder(**kwargs):
    return AttentionDecoder(12, embedding_dim=6, units=8, **kwargs)


def decoder_inputs():
    """Memory as wide as the decoder (`D == H`, as `"dot"` needs) and an input-fed state."""
    memory = random_states(2, 5, 8, seed=1)  # [B, S, D]
    hidden = random_states(2, 8, seed=2)  # [B, H]
    return memory, hidden, (hidden, np.zeros_like(hidden))


@pytest.mark.parametrize(
    ("kwargs", "state_shape", "state_dtype"),
    [
        pytest.param({"dropout": 0.25}, (2, 8), "float16", id="bahdanau"),
        pytest.param(
            {"attention": "general", "input_feeding": True},
            ((2, 8), (2, 8)),
            ("float16", "float16"),
            id="general-input-feeding",
        ),
    ],
)
def test_attention_decoder_contract(kwargs, state_shape, state_dtype):
    memory, hidden, fed = decoder_inputs()
    state = fed if kwargs.get("input_feeding") else hidden
    run_layer_test(
        AttentionDecoder,
        {"vocab_size": 12, "embedding_dim": 6, "units": 8, **kwargs},
        {"target_in": TARGET_IN, "memory": memory, "memory_mask": SOURCE_MASK, "state": state},
        # [B, T, V], the state, [B, T, S]
        expected_output_shape=((2, 4, 12), state_shape, (2, 4, 5)),
        mixed_precision_output_dtype=("float32", state_dtype, "float32"),
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vocab_size": 0}, "vocab_size must be a positive integer, got 0"),
        ({"embedding_dim": "6"}, "embedding_dim must be a positive integer, got '6'"),
        ({"units": -8}, "units must be a positive integer, got -8"),
        ({"dropout": 1.5}, r"dropout must be in \[0, 1\), got 1.5"),
        (
            {"attention": "luong"},
            "attention must be 'bahdanau', 'dot', 'general' or 'concat', got 'luong'",
        ),
        ({"input_feeding": 1}, "input_feeding must be True or False, got 1"),
        ({"scaled": "yes"}, "scaled must be True or False, got 'yes'"),
    ],
)
def test_attention_decoder_rejects_bad_arguments_and_echoes_them(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        AttentionDecoder(**{"vocab_size": 12, **kwargs})


def test_attention_decoder_loads_a_config_saved_with_attention_units_equal_to_units():
    config = tiny_decoder().get_config()
    assert AttentionDecoder.from_config({**config, "attention_units": 8}).get_config() == config
    with pytest.raises(ValueError, match="no longer has the option attention_units.*=5 "):
        AttentionDecoder.from_config({**config, "attention_units": 5})


@pytest.mark.parametrize("input_feeding", [False, True], ids=["after_rnn", "input_feeding"])
@pytest.mark.parametrize("attention", ATTENTIONS)
def test_every_decoder_variant_gives_padded_source_positions_zero_attention(
    attention, input_feeding
):
    memory, hidden, fed = decoder_inputs()
    decoder = tiny_decoder(attention=attention, input_feeding=input_feeding)
    logits, _, weights = decoder(TARGET_IN, memory, SOURCE_MASK, fed if input_feeding else hidden)
    assert tuple(logits.shape) == (2, 4, 12)  # [B, T, V]
    weights = numpy(weights)
    assert np.all(weights[1, :, 3:] == 0.0)
    np.testing.assert_allclose(weights.sum(-1), np.ones((2, 4)), rtol=1e-6)


def test_decoder_attention_has_as_many_units_as_the_decoder():
    memory, hidden, _ = decoder_inputs()
    for attention in ("bahdanau", "concat"):
        decoder = tiny_decoder(attention=attention)
        decoder(TARGET_IN, memory, SOURCE_MASK, hidden)
        assert decoder.attention.key_dense.kernel.shape == (8, 8)  # [D, A], A = H


def test_decoder_state_ignores_target_padding():
    memory, hidden, _ = decoder_inputs()
    decoder = tiny_decoder()
    _, padded_state, _ = decoder(TARGET_IN[1:], memory[1:], SOURCE_MASK[1:], hidden[1:])
    _, short_state, _ = decoder(TARGET_IN[1:, :2], memory[1:], SOURCE_MASK[1:], hidden[1:])
    np.testing.assert_allclose(padded_state, short_state, atol=1e-6)


def test_decoder_passes_scaled_to_its_luong_attention():
    memory, hidden, _ = decoder_inputs()
    for scaled in (True, False):
        decoder = tiny_decoder(attention="general", scaled=scaled)
        decoder(TARGET_IN, memory, SOURCE_MASK, hidden)
        assert decoder.attention.scaled is scaled


def test_input_feeding_decoder_rejects_a_state_that_is_not_a_pair():
    memory, hidden, _ = decoder_inputs()
    with pytest.raises(ValueError, match="the state is the pair \\(hidden, feed\\)"):
        tiny_decoder(input_feeding=True)(TARGET_IN, memory, SOURCE_MASK, hidden)


def test_input_feeding_initial_state_starts_from_a_zero_attentional_state():
    _, hidden, _ = decoder_inputs()
    decoder = tiny_decoder(input_feeding=True)
    decoder.build((None, None), (None, None, 6))
    state, feed = decoder.initial_state(hidden[:, :6])
    np.testing.assert_allclose(state, decoder.bridge(hidden[:, :6]))
    np.testing.assert_array_equal(feed, np.zeros((2, 8), "float32"))


def test_input_feeding_feeds_the_previous_attentional_state_to_the_gru():
    # Luong et al. (2015), §3.3, written out one step at a time with the layer's parts.
    memory, _, (hidden, feed) = decoder_inputs()
    decoder = tiny_decoder(input_feeding=True, attention="general")
    logits, _, weights = decoder(TARGET_IN[:1], memory[:1], SOURCE_MASK[:1], (hidden[:1], feed[:1]))
    assert decoder.cell.kernel.shape == (6 + 8, 3 * 8)  # the GRU reads [e_t; h̃_{t-1}]
    s, h_tilde = hidden[:1], feed[:1]
    for t in range(TARGET_IN.shape[1]):
        e_t = decoder.embedding(TARGET_IN[:1, t])  # [1, E]
        s, _ = decoder.cell(keras.ops.concatenate([e_t, h_tilde], -1), s)  # [1, H]
        context, a_t = decoder.attention(s[:, None], memory[:1], value_mask=SOURCE_MASK[:1])
        h_tilde = decoder.combine(keras.ops.concatenate([context[:, 0], s], -1))  # [1, H]
        np.testing.assert_allclose(weights[:, t], a_t[:, 0], atol=1e-6)
        np.testing.assert_allclose(logits[:, t], decoder.logits(h_tilde), atol=1e-5)


def test_input_feeding_state_ignores_target_padding():
    memory, _, (hidden, feed) = decoder_inputs()
    decoder = tiny_decoder(input_feeding=True)
    args = (memory[1:], SOURCE_MASK[1:], (hidden[1:], feed[1:]))
    _, (padded_hidden, padded_feed), _ = decoder(TARGET_IN[1:], *args)
    _, (short_hidden, short_feed), _ = decoder(TARGET_IN[1:, :2], *args)
    np.testing.assert_allclose(padded_hidden, short_hidden, atol=1e-6)
    np.testing.assert_allclose(padded_feed, short_feed, atol=1e-6)


# --- ContextDecoder -----------------------------------------------------------------


def tiny_context_decoder(**kwargs):
    return ContextDecoder(12, embedding_dim=6, units=8, **kwargs)


def context_decoder_inputs():
    context = random_states(2, 6, seed=1)  # [B, D]
    state = random_states(2, 8, seed=2)  # [B, H]
    return context, state


def test_context_decoder_contract():
    context, state = context_decoder_inputs()
    run_layer_test(
        ContextDecoder,
        {"vocab_size": 12, "embedding_dim": 6, "units": 8, "dropout": 0.25},
        {"target_in": TARGET_IN, "context": context, "state": state},
        expected_output_shape=((2, 4, 12), (2, 8)),  # [B, T, V], [B, H]
        mixed_precision_output_dtype=("float32", "float16"),
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vocab_size": 0}, "vocab_size must be a positive integer, got 0"),
        ({"embedding_dim": 6.0}, "embedding_dim must be a positive integer, got 6.0"),
        ({"units": None}, "units must be a positive integer, got None"),
        ({"dropout": -0.5}, r"dropout must be in \[0, 1\), got -0.5"),
    ],
)
def test_context_decoder_rejects_bad_arguments_and_echoes_them(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        ContextDecoder(**{"vocab_size": 12, **kwargs})


def test_context_decoder_initial_state_is_tanh_of_a_projection_of_the_context():
    context, _ = context_decoder_inputs()
    decoder = tiny_context_decoder()
    decoder.build((None, None), (None, 6))
    kernel, bias = (numpy(w) for w in decoder.bridge.weights)
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
    difference = np.abs(numpy(logits - other)).max(-1)  # [B, T]
    assert np.all(difference > 1e-3)


def test_context_decoder_state_ignores_target_padding():
    context, state = context_decoder_inputs()
    decoder = tiny_context_decoder()
    _, padded_state = decoder(TARGET_IN[1:], context[1:], state[1:])
    _, short_state = decoder(TARGET_IN[1:, :2], context[1:], state[1:])
    np.testing.assert_allclose(padded_state, short_state, atol=1e-6)
