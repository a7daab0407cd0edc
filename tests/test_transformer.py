"""The Transformer: embeddings, attention, blocks, masks and the decoding cache.

`run_layer_test` checks each layer's Keras contract (config, eager and symbolic calls, a
training step, `.keras` save/load, mixed precision); the masks get tiny exact examples;
the model gets THE cache test: decoding one token at a time with the key/value cache
gives the logits of the teacher-forced call at every position.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_testing import run_layer_test

from s2s_keras.decoding import beam_search, greedy_decode
from s2s_keras.layers import copy_keras_attention_weights
from s2s_keras.layers.embeddings import SinusoidalPositionalEmbedding, TokenAndPositionEmbedding
from s2s_keras.layers.transformer import (
    MultiHeadAttention,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
    causal_mask,
    merge_masks,
)
from s2s_keras.models.transformer import Transformer, TransformerConfig
from s2s_keras.text import PAD_ID, START_ID
from s2s_keras.training import compile_model

SOURCE_VOCAB, TARGET_VOCAB = 20, 16
# Right-padded [START] … [END] sources of lengths 5, 3 and 4.
SOURCE = np.array([[2, 5, 6, 7, 3], [2, 8, 3, 0, 0], [2, 9, 10, 3, 0]], dtype="int32")
SOURCE_MASK = SOURCE != 0
# Unpadded targets, so that every position is a real token for the cache test.
TARGET_IN = np.array([[2, 4, 5, 6], [2, 7, 11, 12], [2, 8, 9, 13]], dtype="int32")
PADDED_TARGET_IN = np.array([[2, 4, 5, 6], [2, 7, 0, 0], [2, 8, 9, 0]], dtype="int32")
PADDED_TARGET_OUT = np.array([[4, 5, 6, 3], [7, 3, 0, 0], [8, 9, 3, 0]], dtype="int32")


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def random_states(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def tiny_model(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    sizes = {"num_layers": 2, "d_model": 16, "num_heads": 2, "ff_dim": 32, **kwargs}
    model = Transformer(SOURCE_VOCAB, TARGET_VOCAB, **sizes)
    model((SOURCE, TARGET_IN))  # build
    return model


@pytest.fixture(scope="module")
def model():
    return tiny_model()


# --- masks ----------------------------------------------------------------------------


def test_merge_masks_combines_padding_and_causal_masks_exactly():
    merged = numpy(merge_masks(np.array([[True, True, False]]), causal_mask(3)))
    np.testing.assert_array_equal(
        merged,
        [[[True, False, False], [True, True, False], [True, True, False]]],
    )


def test_merge_masks_of_one_mask_broadcasts_and_of_none_is_none():
    assert merge_masks() is None
    assert tuple(merge_masks(SOURCE_MASK).shape) == (3, 1, 5)  # [B, 1, S]
    assert tuple(merge_masks(attention_mask=causal_mask(4)).shape) == (1, 4, 4)  # [1, T, T]


def test_causal_mask_from_a_start_index_lets_the_query_see_the_cache_up_to_it():
    np.testing.assert_array_equal(numpy(causal_mask(1, 5, 2)), [[True, True, True, False, False]])
    # Two queries at positions 1 and 2 of a cache of 4.
    np.testing.assert_array_equal(
        numpy(causal_mask(2, 4, 1)), [[True, True, False, False], [True, True, True, False]]
    )


# --- embeddings -----------------------------------------------------------------------


def test_sinusoidal_embedding_is_the_papers_interleaved_sines_and_cosines():
    length, width = 5, 6
    encodings = numpy(SinusoidalPositionalEmbedding()(np.zeros((2, length, width), "float32")))
    positions = np.arange(length)[:, None]
    angles = positions / 10000 ** (np.arange(0, width, 2) / width)  # [T, D/2]
    expected = np.zeros((length, width))
    expected[:, 0::2], expected[:, 1::2] = np.sin(angles), np.cos(angles)
    assert encodings.shape == (2, length, width)
    np.testing.assert_allclose(encodings[0], expected, atol=1e-6)
    np.testing.assert_array_equal(encodings[1], encodings[0])


def test_sinusoidal_embedding_start_index_shifts_the_positions():
    layer = SinusoidalPositionalEmbedding()
    whole = numpy(layer(np.zeros((1, 7, 4), "float32")))
    tail = numpy(layer(np.zeros((1, 3, 4), "float32"), start_index=4))
    np.testing.assert_allclose(tail, whole[:, 4:], atol=1e-6)


@pytest.mark.parametrize("positional", ["sinusoidal", "learned"])
def test_token_and_position_embedding_contract(positional):
    run_layer_test(
        TokenAndPositionEmbedding,
        {"vocab_size": TARGET_VOCAB, "d_model": 8, "max_length": 10, "positional": positional},
        {"inputs": PADDED_TARGET_IN},
        expected_output_shape=(3, 4, 8),  # [B, T, D]
        mixed_precision_output_dtype="float16",
    )


def test_token_and_position_embedding_reverse_contract():
    # The tied output layer: states onto the token table, float32 logits.
    run_layer_test(
        TokenAndPositionEmbedding,
        {"vocab_size": TARGET_VOCAB, "d_model": 8, "max_length": 10},
        {"inputs": random_states(3, 4, 8)},
        expected_output_shape=(3, 4, TARGET_VOCAB),  # [B, T, V]
        mixed_precision_output_dtype="float32",
        call_kwargs={"reverse": True},
    )


def test_sinusoidal_embedding_contract():
    run_layer_test(
        SinusoidalPositionalEmbedding,
        {},
        {"inputs": random_states(3, 4, 6)},
        expected_output_shape=(3, 4, 6),  # [B, T, D]
        mixed_precision_output_dtype="float16",
        run_training_check=False,  # nothing to learn
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vocab_size": 0}, "vocab_size must be a positive integer, got 0"),
        ({"d_model": 7}, "d_model must be even for sinusoidal positions, got 7"),
        ({"d_model": True}, "d_model must be a positive integer, got True"),
        ({"max_length": -1}, "max_length must be a positive integer, got -1"),
        ({"positional": "rotary"}, "positional must be 'sinusoidal' or 'learned', got 'rotary'"),
    ],
)
def test_token_and_position_embedding_rejects_bad_arguments_and_echoes_them(kwargs, message):
    arguments = {"vocab_size": 12, "d_model": 8, "max_length": 10, **kwargs}
    with pytest.raises(ValueError, match=f"^{message}$"):
        TokenAndPositionEmbedding(**arguments)


def test_sinusoidal_embedding_loads_a_config_saved_with_the_papers_wavelength():
    config = SinusoidalPositionalEmbedding().get_config()
    assert (
        SinusoidalPositionalEmbedding.from_config({**config, "max_wavelength": 10000}).get_config()
        == config
    )
    with pytest.raises(ValueError, match="no longer has the option max_wavelength.*=500 "):
        SinusoidalPositionalEmbedding.from_config({**config, "max_wavelength": 500})


def test_sinusoidal_embedding_rejects_an_odd_width_and_echoes_it():
    with pytest.raises(ValueError, match="width must be even.*got 5$"):
        SinusoidalPositionalEmbedding()(np.zeros((1, 2, 5), "float32"))


@pytest.mark.parametrize("positional", ["sinusoidal", "learned"])
def test_embedding_one_token_at_its_position_equals_embedding_the_sequence(positional):
    # What `decode_step` relies on: the token at position 2, embedded alone.
    keras.utils.set_random_seed(0)
    layer = TokenAndPositionEmbedding(TARGET_VOCAB, 8, 10, positional)
    whole = numpy(layer(TARGET_IN))
    alone = numpy(layer(TARGET_IN[:, 2:3], start_index=2))
    np.testing.assert_allclose(alone, whole[:, 2:3], atol=1e-6)


def test_token_embeddings_are_scaled_by_sqrt_d_model_and_tied_to_the_logits():
    layer = TokenAndPositionEmbedding(TARGET_VOCAB, 8, 10)
    embedded = numpy(layer(TARGET_IN))
    table = layer.token_embedding.embeddings.numpy()  # [V, D]
    positions = numpy(layer.position_embedding(np.zeros((1, 4, 8), "float32")))
    np.testing.assert_allclose(embedded, np.sqrt(8) * table[TARGET_IN] + positions, atol=1e-5)
    states = random_states(3, 4, 8)
    np.testing.assert_allclose(numpy(layer(states, reverse=True)), states @ table.T, atol=1e-5)


# --- MultiHeadAttention ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "inputs", "expected_output_shape", "dtypes"),
    [
        pytest.param(
            {"num_heads": 2, "dropout": 0.1},
            {"query": random_states(3, 4, 8), "value": random_states(3, 5, 6)},
            (3, 4, 8),  # [B, T, D]
            "float16",
            id="cross",
        ),
        pytest.param(
            {"num_heads": 2},
            {
                "query": random_states(3, 4, 8),
                "value": random_states(3, 4, 8),
                "attention_mask": np.broadcast_to(causal_mask(4).numpy(), (3, 4, 4)),
            },
            ((3, 4, 8), (3, 2, 4, 4)),  # [B, T, D], [B, N, T, S]
            ("float16", "float32"),
            id="masked-with-scores",
        ),
    ],
)
def test_attention_contract(kwargs, inputs, expected_output_shape, dtypes):
    run_layer_test(
        MultiHeadAttention,
        kwargs,
        inputs,
        expected_output_shape=expected_output_shape,
        mixed_precision_output_dtype=dtypes,
        call_kwargs={"return_attention_scores": isinstance(dtypes, tuple)},
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_heads": 0}, "num_heads must be a positive integer, got 0"),
        ({"num_heads": True}, "num_heads must be a positive integer, got True"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\), got 1.0"),
    ],
)
def test_attention_rejects_bad_arguments_and_echoes_them(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        MultiHeadAttention(**{"num_heads": 2, **kwargs})


def test_attention_rejects_a_width_that_heads_do_not_divide():
    with pytest.raises(ValueError, match="divisible by num_heads=3, got a query width of 8$"):
        MultiHeadAttention(3)(random_states(1, 2, 8), random_states(1, 2, 8))


def test_attention_loads_a_config_saved_with_the_default_key_dim_and_biases():
    config = MultiHeadAttention(2).get_config()
    old = {**config, "key_dim": None, "use_bias": True}
    assert MultiHeadAttention.from_config(old).get_config() == config
    with pytest.raises(ValueError, match="no longer has the option key_dim.*key_dim=4 "):
        MultiHeadAttention.from_config({**old, "key_dim": 4})


def test_attention_equals_keras_multi_head_attention_with_the_same_weights():
    keras.utils.set_random_seed(0)
    query, value = random_states(3, 4, 8, seed=1), random_states(3, 5, 8, seed=2)
    mask = np.broadcast_to(numpy(merge_masks(SOURCE_MASK)), (3, 4, 5))  # [B, T, S]
    reference = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    reference(query, value)  # build
    keras.utils.set_random_seed(1)
    ours = MultiHeadAttention(2)
    ours(query, value)  # build: different initial weights, then Keras' are copied in
    copy_keras_attention_weights(ours, reference)

    expected, expected_weights = reference(
        query, value, attention_mask=mask, return_attention_scores=True
    )
    output, weights = ours(query, value, attention_mask=mask, return_attention_scores=True)
    np.testing.assert_allclose(numpy(output), numpy(expected), rtol=0, atol=1e-5)
    np.testing.assert_allclose(numpy(weights), numpy(expected_weights), rtol=0, atol=1e-6)
    # Keras' fused path (no scores asked) computes the same attention.
    np.testing.assert_allclose(
        numpy(ours(query, value, attention_mask=mask)),
        numpy(reference(query, value, attention_mask=mask)),
        rtol=0,
        atol=1e-5,
    )


def test_padding_positions_get_zero_attention():
    keras.utils.set_random_seed(0)
    _, weights = MultiHeadAttention(2)(
        random_states(3, 4, 8),
        random_states(3, 5, 8),
        attention_mask=merge_masks(SOURCE_MASK),
        return_attention_scores=True,
    )
    weights = numpy(weights)  # [B, N, T, S]
    assert np.all(weights[1, :, :, 3:] == 0.0) and np.all(weights[2, :, :, 4:] == 0.0)
    assert np.all(weights[0] > 0.0) and np.all(weights[1, :, :, :3] > 0.0)
    np.testing.assert_allclose(weights.sum(-1), np.ones((3, 2, 4)), rtol=1e-6)


def test_attention_with_caches_equals_attention_without():
    keras.utils.set_random_seed(0)
    layer = MultiHeadAttention(2)
    states, memory = random_states(3, 4, 8, seed=1), random_states(3, 5, 8, seed=2)
    causal = layer(states, states, attention_mask=causal_mask(4)[None])
    cross = layer(states, memory, attention_mask=merge_masks(SOURCE_MASK))
    # Self-attention one query at a time, writing keys and values into a cache of 6.
    cache = (np.zeros((3, 6, 2, 4), "float32"),) * 2  # [B, L, N, K]
    for t in range(4):
        query = states[:, t : t + 1]
        mask = causal_mask(1, 6, t)[None]  # [1, 1, L]
        output, cache = layer(query, query, attention_mask=mask, cache=cache, cache_update_index=t)
        np.testing.assert_allclose(numpy(output), numpy(causal[:, t : t + 1]), atol=1e-6)
    np.testing.assert_allclose(numpy(cache[0])[:, 4:], 0.0)  # not written yet
    # Cross-attention from a static cache of the memory's keys and values.
    output, _ = layer(
        states, attention_mask=merge_masks(SOURCE_MASK), cache=layer.compute_key_value(memory)
    )
    np.testing.assert_allclose(numpy(output), numpy(cross), atol=1e-6)


# --- encoder and decoder blocks -------------------------------------------------------

BLOCKS = [TransformerEncoderBlock, TransformerDecoderBlock]
NORMS = [pytest.param(False, id="post-norm"), pytest.param(True, id="pre-norm")]


@pytest.mark.parametrize("norm_first", NORMS)
def test_encoder_block_contract(norm_first):
    run_layer_test(
        TransformerEncoderBlock,
        {"num_heads": 2, "ff_dim": 16, "dropout": 0.1, "norm_first": norm_first},
        {"inputs": random_states(3, 5, 8), "padding_mask": SOURCE_MASK},
        expected_output_shape=((3, 5, 8), (3, 2, 5, 5)),  # [B, S, D], [B, N, S, S]
        mixed_precision_output_dtype=("float16", "float32"),
        call_kwargs={"return_attention_scores": True},
    )


@pytest.mark.parametrize("norm_first", NORMS)
def test_decoder_block_contract(norm_first):
    run_layer_test(
        TransformerDecoderBlock,
        {"num_heads": 2, "ff_dim": 16, "dropout": 0.1, "norm_first": norm_first},
        {
            "inputs": random_states(3, 4, 8),
            "memory": random_states(3, 5, 8),
            "padding_mask": PADDED_TARGET_IN != 0,
            "memory_mask": SOURCE_MASK,
        },
        expected_output_shape=((3, 4, 8), (3, 2, 4, 5)),  # [B, T, D], [B, N, T, S]
        mixed_precision_output_dtype=("float16", "float32"),
        call_kwargs={"return_attention_scores": True},
    )


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_heads": 0}, "num_heads must be a positive integer, got 0"),
        ({"ff_dim": 2.5}, "ff_dim must be a positive integer, got 2.5"),
        ({"ff_dim": True}, "ff_dim must be a positive integer, got True"),
        ({"dropout": -0.1}, r"dropout must be in \[0, 1\), got -0.1"),
        ({"norm_first": "yes"}, "norm_first must be True or False, got 'yes'"),
    ],
)
def test_block_rejects_bad_arguments_and_echoes_them(block, kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        block(**{"num_heads": 2, "ff_dim": 16, **kwargs})


@pytest.mark.parametrize("block", BLOCKS)
def test_block_loads_a_config_saved_with_relu_and_the_default_epsilon(block):
    config = block(2, 16).get_config()
    old = {**config, "activation": "relu", "layer_norm_epsilon": 1e-5}
    assert block.from_config(old).get_config() == config
    with pytest.raises(ValueError, match="no longer has the option activation.*='gelu' "):
        block.from_config({**old, "activation": "gelu"})


def test_blocks_give_padding_positions_zero_attention():
    _, weights = TransformerEncoderBlock(2, 16)(
        random_states(3, 5, 8), padding_mask=SOURCE_MASK, return_attention_scores=True
    )
    assert np.all(numpy(weights)[1, :, :, 3:] == 0.0) and np.all(numpy(weights)[2, :, :, 4] == 0)
    _, weights = TransformerDecoderBlock(2, 16)(
        random_states(3, 4, 8),
        random_states(3, 5, 8),
        memory_mask=SOURCE_MASK,
        return_attention_scores=True,
    )
    assert np.all(numpy(weights)[1, :, :, 3:] == 0.0) and np.all(numpy(weights)[2, :, :, 4] == 0)


def test_encoder_block_outputs_at_real_positions_ignore_extra_padding():
    keras.utils.set_random_seed(0)
    block = TransformerEncoderBlock(2, 16)
    states = random_states(1, 3, 8)
    short = block(states, padding_mask=np.ones((1, 3), bool))
    padded_states = np.concatenate([states, random_states(1, 2, 8, seed=5)], axis=1)
    padded = block(padded_states, padding_mask=np.array([[True] * 3 + [False] * 2]))
    np.testing.assert_allclose(numpy(padded)[:, :3], numpy(short), atol=1e-6)


def test_decoder_block_output_at_t_ignores_inputs_after_t():
    keras.utils.set_random_seed(0)
    block = TransformerDecoderBlock(2, 16)
    states, memory = random_states(2, 5, 8, seed=1), random_states(2, 3, 8, seed=2)
    reference = numpy(block(states, memory))
    for t in range(4):
        changed = states.copy()
        changed[:, t + 1 :] = random_states(2, 4 - t, 8, seed=10 + t)
        outputs = numpy(block(changed, memory))
        np.testing.assert_allclose(outputs[:, : t + 1], reference[:, : t + 1], atol=1e-6)
        assert not np.allclose(outputs[:, t + 1 :], reference[:, t + 1 :], atol=1e-3)


def test_decoder_block_requires_memory_or_a_cross_attention_cache():
    with pytest.raises(
        ValueError, match="memory is required without a cross_attention_cache, got None"
    ):
        TransformerDecoderBlock(2, 16)(random_states(1, 2, 8))


# --- Transformer ----------------------------------------------------------------------


def test_model_config_round_trips(model):
    config = model.get_config()
    assert Transformer.from_config(config).get_config() == config


def test_model_from_config_object_uses_its_sizes():
    config = TransformerConfig(
        num_layers=1, d_model=8, num_heads=2, ff_dim=12, dropout=0.2, max_length=9
    )
    built = Transformer.from_config_object(config, 11, 12).get_config()
    assert {key: built[key] for key in ("source_vocab_size", "target_vocab_size")} == {
        "source_vocab_size": 11,
        "target_vocab_size": 12,
    }
    assert {key: built[key] for key in TransformerConfig.__dataclass_fields__} == {
        "num_layers": 1,
        "d_model": 8,
        "num_heads": 2,
        "ff_dim": 12,
        "dropout": 0.2,
        "max_length": 9,
        "norm_first": True,
        "positional": "sinusoidal",
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source_vocab_size": 0}, "source_vocab_size must be a positive integer, got 0$"),
        ({"num_heads": True}, "num_heads must be a positive integer, got True$"),
        ({"num_layers": 0}, "num_layers must .*got 0$"),
        (
            {"d_model": 10, "num_heads": 4},
            "divisible by num_heads, got d_model=10 and num_heads=4$",
        ),
        ({"positional": "rope"}, "positional must .*got 'rope'$"),
    ],
)
def test_model_rejects_bad_arguments_and_echoes_them(kwargs, message):
    sizes = {"source_vocab_size": SOURCE_VOCAB, "target_vocab_size": TARGET_VOCAB}
    with pytest.raises(ValueError, match=message):
        Transformer(**{**sizes, **kwargs})


def test_model_call_gives_float32_logits_eagerly_and_symbolically(model):
    logits = model((SOURCE, PADDED_TARGET_IN))
    assert tuple(logits.shape) == (3, 4, TARGET_VOCAB)  # [B, T, V]
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    symbolic = model((keras.Input((None,), dtype="int32"), keras.Input((None,), dtype="int32")))
    assert tuple(symbolic.shape) == (None, None, TARGET_VOCAB)


def test_causal_mask_blocks_the_future_in_teacher_forcing(model):
    reference = numpy(model((SOURCE, TARGET_IN)))
    for t in range(3):
        changed = TARGET_IN.copy()
        changed[:, t + 1 :] = (changed[:, t + 1 :] + 3) % (TARGET_VOCAB - 1) + 1  # other tokens
        logits = numpy(model((SOURCE, changed)))
        np.testing.assert_allclose(logits[:, : t + 1], reference[:, : t + 1], rtol=0, atol=1e-6)
        assert not np.allclose(logits[:, t + 1 :], reference[:, t + 1 :], atol=1e-3)


def test_extra_source_padding_does_not_change_the_logits(model):
    padded = np.pad(SOURCE, ((0, 0), (0, 3)))
    np.testing.assert_allclose(
        numpy(model((padded, TARGET_IN))), numpy(model((SOURCE, TARGET_IN))), rtol=0, atol=1e-6
    )


def test_decoding_gives_source_padding_zero_attention(model):
    state = model.encode(SOURCE)
    for step in range(3):
        _, state = model.decode_step(state, TARGET_IN[:, step], step)
        attention = numpy(state["attention"])  # [B, S]
        assert attention.dtype == np.float32
        assert np.all(attention[1, 3:] == 0.0) and attention[2, 4] == 0.0
        np.testing.assert_allclose(attention.sum(-1), np.ones(3), rtol=1e-6)


CACHED_VARIANTS = [
    pytest.param({}, id="pre-norm-sinusoidal"),
    pytest.param(
        {"norm_first": False, "positional": "learned", "max_length": 6}, id="post-learned"
    ),
]


@pytest.mark.parametrize("kwargs", CACHED_VARIANTS)
def test_cached_decoding_equals_teacher_forcing_and_full_recomputation(kwargs):
    # THE contract of the cache: feeding the reference tokens one at a time through
    # `decode_step` gives, at every position, the logits of the teacher-forced call, and
    # the logits of recomputing the whole prefix from scratch.
    model = tiny_model(**kwargs)
    teacher_forced = numpy(model((SOURCE, TARGET_IN)))
    state = model.encode(SOURCE, max_length=6)
    for step in range(TARGET_IN.shape[1]):
        logits, state = model.decode_step(state, TARGET_IN[:, step], step)
        logits = numpy(logits)
        np.testing.assert_allclose(logits, teacher_forced[:, step], rtol=0, atol=1e-5)
        recomputed = numpy(model((SOURCE, TARGET_IN[:, : step + 1])))[:, step]
        np.testing.assert_allclose(logits, recomputed, rtol=0, atol=1e-5)


def test_decode_step_keeps_the_state_structure_and_shapes_with_batch_first(model):
    state = model.encode(SOURCE, max_length=7)
    _, new_state = model.decode_step(state, np.full(3, START_ID, "int64"), np.int32(0))
    tf.nest.assert_same_structure(state, new_state)
    for before, after in zip(tf.nest.flatten(state), tf.nest.flatten(new_state), strict=True):
        assert tuple(after.shape) == tuple(before.shape) and after.shape[0] == 3
        assert after.dtype == before.dtype
    assert tuple(state["self_attention_cache"][0][0].shape) == (3, 7, 2, 8)  # [B, L, N, K]
    assert tuple(state["cross_attention_cache"][1][1].shape) == (3, 5, 2, 8)  # [B, S, N, K]


def test_greedy_decoding_and_beam_search_run_the_cache_in_while_loops():
    # Both decode inside `tf.function` loops, which need the state's shapes fixed, and
    # beam search tiles and reorders every state entry along the batch.
    model = tiny_model(num_layers=1)
    tokens, attention = greedy_decode(model, SOURCE, 5)
    assert tokens.shape == (3, 5) and attention.shape == (3, 5, 5)
    assert np.all(attention.numpy()[1, :, 3:] == 0.0)
    logits, _ = model.decode_step(model.encode(SOURCE, max_length=5), np.full(3, START_ID), 0)
    logits = numpy(logits)
    logits[:, [PAD_ID, START_ID]] = -np.inf  # never output
    np.testing.assert_array_equal(tokens.numpy()[:, 0], logits.argmax(-1))
    beam_tokens, _ = beam_search(model, SOURCE, 5, beam_size=2, alpha=0.0, n_best=2)
    assert beam_tokens.shape == (3, 2, 5)


def test_encode_rejects_a_cache_longer_than_learned_positions():
    model = Transformer(
        SOURCE_VOCAB, TARGET_VOCAB, d_model=8, num_heads=2, max_length=6, positional="learned"
    )
    with pytest.raises(ValueError, match="max_length must be at most .*=6 .*got 7;"):
        model.encode(SOURCE, max_length=7)


def test_encode_works_on_a_model_that_was_never_called():
    keras.utils.set_random_seed(0)
    fresh = Transformer(SOURCE_VOCAB, TARGET_VOCAB, num_layers=1, d_model=8, num_heads=2)
    logits, _ = fresh.decode_step(fresh.encode(SOURCE, max_length=3), np.full(3, START_ID), 0)
    assert tuple(logits.shape) == (3, TARGET_VOCAB)


def test_one_step_fit_gives_a_finite_loss_and_the_model_reloads(tmp_path):
    model = compile_model(tiny_model(num_layers=1))
    history = model.fit(
        (SOURCE, PADDED_TARGET_IN), PADDED_TARGET_OUT, epochs=1, batch_size=3, verbose=0
    )
    assert np.isfinite(history.history["loss"][0])
    model.save(tmp_path / "transformer.keras")
    reloaded = keras.saving.load_model(tmp_path / "transformer.keras")
    assert isinstance(reloaded, Transformer)
    np.testing.assert_allclose(
        numpy(reloaded((SOURCE, TARGET_IN))), numpy(model((SOURCE, TARGET_IN))), rtol=0, atol=1e-6
    )


def test_mixed_precision_step_gives_float32_logits_and_a_finite_loss(mixed_float16):
    model = tiny_model(num_layers=1)
    assert model.decoder_blocks[0].cross_attention.compute_dtype == "float16"
    logits = model((SOURCE, PADDED_TARGET_IN))
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    compile_model(model)
    # Eagerly: the same float16 arithmetic, without a second traced train step (the
    # float32 fit test traces one already).
    model.run_eagerly = True
    loss, _ = model.train_on_batch((SOURCE, PADDED_TARGET_IN), PADDED_TARGET_OUT)
    assert np.isfinite(loss)

    state = model.encode(SOURCE, max_length=4)
    assert keras.backend.standardize_dtype(state["self_attention_cache"][0][0].dtype) == "float16"
    logits, state = model.decode_step(state, np.full(3, START_ID), 0)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert np.all(np.isfinite(numpy(logits)))
    attention = numpy(state["attention"])
    assert attention.dtype == np.float32 and np.all(attention[1, 3:] == 0.0)
