"""What notebook 06 inspects in a Transformer: Keras' attention with our weights, the
attention of every head, decoding without a cache, and the plots that show them."""

import keras
import numpy as np
import pytest
from matplotlib.figure import Figure

from s2s_keras import plots
from s2s_keras.decoding import (
    attention_heads,
    attention_map,
    greedy_decode,
    greedy_decode_recomputed,
)
from s2s_keras.layers import MultiHeadAttention, copy_keras_attention_weights, merge_masks
from s2s_keras.models import Seq2Seq, Transformer
from s2s_keras.text import END_ID, WordTokenizer

SOURCE = np.array([[2, 5, 6, 7, 3], [2, 8, 3, 0, 0], [2, 9, 10, 3, 0]], dtype="int32")
TARGET_IN = np.array([[2, 4, 5, 6], [2, 7, 0, 0], [2, 8, 9, 0]], dtype="int32")


def states(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    model = Transformer(20, 16, num_layers=2, d_model=16, num_heads=2, ff_dim=32)
    model((SOURCE, TARGET_IN))
    return model


def test_copied_weights_make_our_attention_equal_keras_attention():
    query, value = states(3, 4, 8, seed=1), states(3, 5, 6, seed=2)
    mask = np.broadcast_to(keras.ops.convert_to_numpy(merge_masks(SOURCE != 0)), (3, 4, 5))
    reference = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, output_shape=8)
    reference(query, value)
    ours = MultiHeadAttention(2)
    ours(query, value)
    assert not np.allclose(ours(query, value), reference(query, value), atol=1e-3)
    copy_keras_attention_weights(ours, reference)
    expected, expected_weights = reference(
        query, value, attention_mask=mask, return_attention_scores=True
    )
    output, weights = ours(query, value, attention_mask=mask, return_attention_scores=True)
    np.testing.assert_allclose(output, expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(weights, expected_weights, rtol=0, atol=1e-6)


def test_copying_between_mismatched_or_unbuilt_layers_fails_in_one_line():
    query = states(1, 2, 8)
    reference = keras.layers.MultiHeadAttention(num_heads=4, key_dim=4)
    reference(query, query)
    ours = MultiHeadAttention(2)
    with pytest.raises(ValueError, match="must be built"):
        copy_keras_attention_weights(ours, reference)
    ours(query, query)
    with pytest.raises(ValueError, match="query_dense weights do not correspond"):
        copy_keras_attention_weights(ours, reference)


def test_cross_attention_weights_per_layer_and_head_sum_to_one_and_skip_padding(model):
    weights = [
        keras.ops.convert_to_numpy(w) for w in model.cross_attention_weights(SOURCE, TARGET_IN)
    ]
    assert len(weights) == 2
    for layer in weights:
        assert layer.shape == (3, 2, 4, 5)  # [B, N, T, S]
        np.testing.assert_allclose(layer.sum(-1), 1.0, rtol=1e-5)
        assert np.all(layer[1, :, :, 3:] == 0.0) and np.all(layer[2, :, :, 4:] == 0.0)
    assert not np.allclose(weights[1][:, 0], weights[1][:, 1], atol=1e-4)  # heads differ


def test_teacher_forced_heads_average_to_the_attention_seen_while_decoding(model):
    tokens, decoded = greedy_decode(model, SOURCE, 6)
    tokens, decoded = tokens.numpy(), decoded.numpy()  # [B, L], [B, L, S]
    target_in = np.concatenate([np.full((3, 1), 2), np.where(tokens == 0, END_ID, tokens)], 1)
    last = keras.ops.convert_to_numpy(model.cross_attention_weights(SOURCE, target_in[:, :6])[-1])
    for row in range(3):
        real = tokens[row] != 0
        np.testing.assert_allclose(last[row].mean(0)[real], decoded[row][real], rtol=0, atol=1e-5)


def test_decoding_without_a_cache_gives_the_cached_tokens(model):
    np.testing.assert_array_equal(
        greedy_decode_recomputed(model, SOURCE, 7).numpy(),
        greedy_decode(model, SOURCE, 7)[0].numpy(),
    )
    assert greedy_decode_recomputed(model, SOURCE, 7).shape == (3, 7)


def test_decoding_without_a_cache_checks_max_length(model):
    with pytest.raises(ValueError, match="max_length must be a positive integer, got 0"):
        greedy_decode_recomputed(model, SOURCE, 0)


@pytest.fixture(scope="module")
def tokenizers():
    words = ["a b c d e f g h", "b c d e f g h a"]
    return WordTokenizer.from_texts(words), WordTokenizer.from_texts(words)


def test_attention_heads_match_attention_map_and_label_the_axes(tokenizers):
    keras.utils.set_random_seed(1)
    model = Transformer(12, 12, num_layers=2, d_model=16, num_heads=4, ff_dim=32)
    source, output, weights = attention_heads(model, *tokenizers, "a b c")
    assert source == ["[START]", "a", "b", "c", "[END]"]
    assert weights.shape == (2, 4, len(output), len(source))
    _, map_output, averaged = attention_map(model, *tokenizers, "a b c")
    assert map_output == output
    np.testing.assert_allclose(weights[-1].mean(0), averaged, rtol=0, atol=1e-5)


def test_attention_heads_refuse_a_model_without_heads(tokenizers):
    with pytest.raises(ValueError, match="Seq2Seq has no attention heads to show"):
        attention_heads(Seq2Seq(12, 12, embedding_dim=4, units=4), *tokenizers, "a b")


def test_plots_of_lines_matrices_and_heads_draw_what_they_are_given():
    fig = plots.line_chart(
        {"cached": ([1, 2, 4], [1.0, 2.0, 3.0]), "recomputed": ([1, 2], [1, 5])},
        "steps",
        "seconds",
        logy=True,
    )
    assert isinstance(fig, Figure)
    assert [len(line.get_xdata()) for line in fig.axes[0].lines] == [3, 2]
    fig = plots.matrix_image(np.eye(3), "key", "query", colorbar_label="allowed")
    assert fig.axes[0].images[0].get_array().shape == (3, 3)
    fig = plots.attention_heads(np.full((6, 2, 3), 1 / 3), ["x", "y", "z"], ["p", "q"], "heads")
    images = [ax.images[0].get_array().shape for ax in fig.axes if ax.images]
    assert images == [(2, 3)] * 6
    assert [ax.get_title() for ax in fig.axes if ax.images][-1] == "head 6"
