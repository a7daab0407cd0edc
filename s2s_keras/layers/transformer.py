"""Transformer layers: multi-head attention, encoder and decoder blocks, their masks.

Introduced in notebook 06 (the Transformer). Vaswani et al. (2017), "Attention Is All
You Need"; the pre-norm variant (`norm_first=True`) follows Xiong et al. (2020), "On
Layer Normalization in the Transformer Architecture".

Masks are boolean, True where attention is allowed, and explicit: `padding_mask(ids)`
marks real tokens, `causal_mask` hides the future, and `merge_masks` is the one place
where they are combined into the `[B, T, S]` mask that attention reads.

Shapes use the alphabet of `s2s_keras.layers`: queries `[B, T, D]`, keys and values
`[B, S, D]` (`[B, L, ...]` from a decoding cache), `N` heads of size `K = D / N`.
"""

import math

import keras
from keras import ops

from s2s_keras.checks import boolean, fraction, positive_int, without_removed_options
from s2s_keras.layers.masking import masked_softmax

# The epsilon of every layer normalisation of the Transformer.
LAYER_NORM_EPSILON = 1e-5


def causal_mask(query_length, key_length=None, start_index=0):
    """`[T, S]` bool, True where query `i` may see key `j`: `j <= start_index + i`.

    Args:
        query_length: `T`, int or scalar int tensor.
        key_length: `S`. Defaults to `query_length`.
        start_index: the position of the first query, int or scalar int tensor. Defaults
            to 0; a decoder with a cache of length `L` passes the step it is at, and
            `causal_mask(1, L, step)` lets the new token see cache positions `0 … step`.
    """
    key_length = query_length if key_length is None else key_length
    queries = ops.arange(query_length) + ops.cast(start_index, "int32")  # [T] positions
    keys = ops.arange(key_length)  # [S]
    return ops.greater_equal(queries[:, None], keys[None, :])  # [T, S]


def merge_masks(padding_mask=None, attention_mask=None):
    """Combine a key padding mask and an attention mask into one `[B, T, S]` bool mask.

    Args:
        padding_mask: `[B, S]` bool (or 0/1), True on real key tokens, e.g.
            `padding_mask(source_ids)`.
        attention_mask: `[T, S]` or `[B, T, S]` bool, True where query `t` may see key
            `s`, e.g. `causal_mask(T)`.

    Returns:
        `[B, T, S]` bool, True where both allow attention (`B` or `T` is 1 when only
        one mask says nothing about it: the result broadcasts against the scores), or
        None when both masks are None.

    Example:

    >>> merge_masks([[True, True, False]], causal_mask(3)).numpy().astype(int)
    array([[[1, 0, 0],
            [1, 1, 0],
            [1, 1, 0]]])
    """
    mask = None
    if padding_mask is not None:
        mask = ops.expand_dims(ops.cast(padding_mask, "bool"), 1)  # [B, 1, S]
    if attention_mask is not None:
        attention_mask = ops.cast(attention_mask, "bool")
        if len(attention_mask.shape) == 2:
            attention_mask = ops.expand_dims(attention_mask, 0)  # [1, T, S]
        mask = attention_mask if mask is None else ops.logical_and(mask, attention_mask)
    return mask


@keras.saving.register_keras_serializable(package="s2s_keras")
class MultiHeadAttention(keras.layers.Layer):
    """Scaled dot-product attention over `N` heads, with a key/value cache for decoding.

    Vaswani et al. (2017), §3.2: project queries, keys and values to `N` heads of size
    `K = D / N`, compute `softmax(q kᵀ / sqrt(K)) v` per head, concatenate the heads and
    project back to the query width. The heads are a reshape, not separate layers: one
    `[D, N*K]` matrix projects all of them, and `[B, T, N*K]` is viewed as `[B, T, N, K]`.
    Numerically this is `keras.layers.MultiHeadAttention(num_heads, key_dim=D // N)` with
    the same weights, reshaped (its kernels are `[D, N, K]` and `[N, K, D]`).

    Scores are softmaxed in float32 whatever the compute dtype (`masked_softmax`), so
    masked keys get exactly zero weight under mixed precision too.

    A cache `(keys, values)` serves incremental decoding in two ways:

    - updated (`cache_update_index` given): the keys and values of `value` are written
      into the cache at that position (fixed shapes, no concatenation), and attention
      runs over the whole cache; the mask must hide positions not written yet;
    - static (`cache_update_index` None): the cache holds keys and values computed once
      (`compute_key_value(memory)`) and `value` is ignored: cross-attention to the source.

    Args:
        num_heads: `N`; must divide the query width `D`.
        dropout: dropout rate on the attention weights. Defaults to 0.

    Call arguments:
        query: `[B, T, D]`.
        value: `[B, S, D]`, the keys and the values (its width may differ from the
            query's); may be None with a static cache.
        attention_mask: bool, True where attention is allowed, `[B, T, S]` or anything
            that broadcasts to it (see `merge_masks`); `S` is `L` with a cache. Each
            query needs at least one allowed key. Defaults to None (attend everywhere).
        cache: optional `(keys, values)`, each `[B, L, N, K]`.
        cache_update_index: int or scalar int tensor, where to write this call's keys
            and values into `cache`; None for a static cache.
        return_attention_scores: also return the attention weights. Defaults to False.
        training: Python bool; dropout only when True.

    Returns:
        `output [B, T, D]`; then, when a cache is given, the cache `(keys, values)` with
        this call's entries written; then, if asked, the weights `[B, N, T, S]` float32
        (before dropout). A single output is returned as is, several as a tuple.
    """

    def __init__(self, num_heads, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = positive_int("num_heads", num_heads)
        self.dropout = fraction("dropout", dropout)

    def build(self, query_shape, value_shape=None):
        width = query_shape[-1]
        if width % self.num_heads:
            raise ValueError(
                f"the query width must be divisible by num_heads={self.num_heads}, got a "
                f"query width of {width!r}"
            )
        self.head_size = width // self.num_heads  # K
        value_shape = query_shape if value_shape is None else value_shape
        self.query_dense = self._dense(width, "query_dense", query_shape)  # [D, N*K]
        self.key_dense = self._dense(width, "key_dense", value_shape)
        self.value_dense = self._dense(width, "value_dense", value_shape)
        self.output_dense = self._dense(width, "output_dense", (None, None, width))
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)

    def _dense(self, units, name, input_shape):
        dense = keras.layers.Dense(units, name=name, dtype=self.dtype_policy)
        dense.build(input_shape)
        return dense

    def _split_heads(self, x):
        shape = ops.shape(x)
        return ops.reshape(x, (shape[0], shape[1], self.num_heads, self.head_size))

    def compute_key_value(self, value):
        """`[B, S, D]` → `(keys, values)`, each `[B, S, N, K]`: a static cache."""
        return (
            self._split_heads(self.key_dense(value)),  # [B, S, N*K] → [B, S, N, K]
            self._split_heads(self.value_dense(value)),  # [B, S, N*K] → [B, S, N, K]
        )

    def call(
        self,
        query,
        value=None,
        attention_mask=None,
        cache=None,
        cache_update_index=None,
        return_attention_scores=False,
        training=None,
    ):
        if cache is not None and cache_update_index is None:
            keys, values = cache  # [B, S, N, K] each, computed once
        elif value is None:
            raise ValueError(
                "value is required unless a static cache is given (cache without "
                "cache_update_index), got value=None"
            )
        else:
            keys, values = self.compute_key_value(value)  # [B, S, N, K] each
            if cache is not None:
                start = [0, ops.cast(cache_update_index, "int32"), 0, 0]
                keys = ops.slice_update(cache[0], start, keys)  # [B, L, N, K]
                values = ops.slice_update(cache[1], start, values)  # [B, L, N, K]
        queries = self._split_heads(self.query_dense(query))  # [B, T, N*K] → [B, T, N, K]
        queries = queries * ops.cast(1.0 / math.sqrt(self.head_size), queries.dtype)
        scores = ops.einsum("btnk,bsnk->bnts", queries, keys)  # [B, N, T, S]
        if attention_mask is not None:
            attention_mask = ops.expand_dims(ops.cast(attention_mask, "bool"), 1)  # [B, 1, T, S]
        weights = masked_softmax(scores, attention_mask)  # [B, N, T, S] float32
        dropped = self.dropout_layer(weights, training=training)
        context = ops.einsum("bnts,bsnk->btnk", ops.cast(dropped, values.dtype), values)
        shape = ops.shape(context)
        # [B, T, N, K] → [B, T, N*K]: the heads side by side, as the paper's Concat.
        context = ops.reshape(context, (shape[0], shape[1], self.num_heads * self.head_size))
        outputs = [self.output_dense(context)]  # [B, T, D]
        if cache is not None:
            outputs.append((keys, values))
        if return_attention_scores:
            outputs.append(weights)
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "dropout": self.dropout}

    @classmethod
    def from_config(cls, config):
        removed = {"key_dim": None, "use_bias": True}
        return cls(**without_removed_options(cls.__name__, config, removed))


class _TransformerBlock(keras.layers.Layer):
    """What the encoder and decoder blocks share: arguments, feed-forward, residuals."""

    def __init__(
        self,
        num_heads,
        ff_dim,
        dropout=0.0,
        norm_first=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = positive_int("num_heads", num_heads)
        self.ff_dim = positive_int("ff_dim", ff_dim)
        self.dropout = fraction("dropout", dropout)
        self.norm_first = boolean("norm_first", norm_first)

    def _build_attention(self, name, width, value_width=None):
        attention = MultiHeadAttention(
            self.num_heads, dropout=self.dropout, name=name, dtype=self.dtype_policy
        )
        attention.build((None, None, width), (None, None, value_width or width))
        norm = keras.layers.LayerNormalization(
            epsilon=LAYER_NORM_EPSILON, name=f"{name}_norm", dtype=self.dtype_policy
        )
        norm.build((None, None, width))
        return attention, norm

    def _build_feed_forward(self, width):
        policy = self.dtype_policy
        self.intermediate_dense = keras.layers.Dense(
            self.ff_dim, activation="relu", name="intermediate_dense", dtype=policy
        )
        self.intermediate_dense.build((None, None, width))
        self.output_dense = keras.layers.Dense(width, name="output_dense", dtype=policy)
        self.output_dense.build((None, None, self.ff_dim))
        self.feed_forward_norm = keras.layers.LayerNormalization(
            epsilon=LAYER_NORM_EPSILON, name="feed_forward_norm", dtype=policy
        )
        self.feed_forward_norm.build((None, None, width))
        # Residual dropout (§5.4): on each sublayer's output, before it is added back.
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=policy)

    def _residual(self, x, norm, sublayer, training):
        """`x + dropout(sublayer(norm(x)))` (pre-norm) or `norm(x + dropout(sublayer(x)))`.

        `sublayer` may return extras (a cache, scores) after its output; they are
        passed through.
        """
        out = sublayer(norm(x) if self.norm_first else x)
        out, extras = (out[0], out[1:]) if isinstance(out, tuple) else (out, ())
        x = x + self.dropout_layer(out, training=training)
        return (x if self.norm_first else norm(x)), extras

    def _feed_forward(self, x):
        return self.output_dense(self.intermediate_dense(x))  # [B, T, D] → [B, T, F] → [B, T, D]

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "dropout": self.dropout,
            "norm_first": self.norm_first,
        }

    @classmethod
    def from_config(cls, config):
        removed = {"activation": "relu", "layer_norm_epsilon": LAYER_NORM_EPSILON}
        return cls(**without_removed_options(cls.__name__, config, removed))


@keras.saving.register_keras_serializable(package="s2s_keras")
class TransformerEncoderBlock(_TransformerBlock):
    """One encoder layer: self-attention, then a position-wise feed-forward network.

    Vaswani et al. (2017), §3.1 and §3.3. Each sublayer is wrapped in a residual
    connection with layer normalisation, after the addition (post-norm, the paper) or
    before the sublayer (`norm_first=True`, pre-norm: Xiong et al. 2020 show that it
    keeps gradients well-scaled at initialisation, so training needs no learning-rate
    warm-up; a stack of pre-norm blocks needs one final `LayerNormalization`).

    Args:
        num_heads: `N`; must divide the input width `D`.
        ff_dim: `F`, the hidden width of the feed-forward network.
        dropout: rate of the residual and attention dropout. Defaults to 0.
        norm_first: pre-norm if True, post-norm if False. Defaults to False.

    Call arguments:
        inputs: `[B, S, D]`.
        padding_mask: optional `[B, S]` bool, True on real tokens; padding positions get
            no attention.
        return_attention_scores: also return the self-attention weights. Defaults to
            False.
        training: Python bool.

    Returns:
        `[B, S, D]`; with `return_attention_scores`, `(outputs, weights [B, N, S, S])`.
    """

    def build(self, inputs_shape):
        width = inputs_shape[-1]
        self.self_attention, self.self_attention_norm = self._build_attention(
            "self_attention", width
        )
        self._build_feed_forward(width)

    def call(self, inputs, padding_mask=None, return_attention_scores=False, training=None):
        mask = merge_masks(padding_mask)  # [B, 1, S]

        def attend(x):
            return self.self_attention(
                x,
                x,
                attention_mask=mask,
                return_attention_scores=return_attention_scores,
                training=training,
            )

        x, extras = self._residual(inputs, self.self_attention_norm, attend, training)
        x, _ = self._residual(x, self.feed_forward_norm, self._feed_forward, training)
        return (x, *extras) if extras else x


@keras.saving.register_keras_serializable(package="s2s_keras")
class TransformerDecoderBlock(_TransformerBlock):
    """One decoder layer: causal self-attention, cross-attention, feed-forward.

    Vaswani et al. (2017), §3.1: the self-attention is masked so that position `t` sees
    only positions `≤ t`, then the block attends to the encoder output (`memory`).
    Residuals and normalisation as in `TransformerEncoderBlock` (`norm_first`).

    For incremental decoding the block takes a self-attention cache of length `L`,
    writes the keys and values of its `[B, 1, D]` input at `cache_update_index`, and
    attends to positions `≤ cache_update_index` only; the cross-attention can read a
    static cache of the memory's keys and values, computed once per sentence with
    `cross_attention.compute_key_value(memory)`, so `memory` itself is not needed.

    Args:
        num_heads: `N`; must divide the input width `D`.
        ff_dim: `F`, the hidden width of the feed-forward network.
        dropout: rate of the residual and attention dropout. Defaults to 0.
        norm_first: pre-norm if True, post-norm if False. Defaults to False.

    Call arguments:
        inputs: `[B, T, D]` target embeddings (`T` is 1 when decoding with a cache).
        memory: `[B, S, D]` encoder outputs; may be None with `cross_attention_cache`.
        padding_mask: optional bool, True on real target tokens, over the keys of the
            self-attention: `[B, T]`, or `[B, L]` with a cache. The causal mask is
            always applied on top.
        memory_mask: optional `[B, S]` bool, True on real source tokens.
        self_attention_cache: optional `(keys, values)`, each `[B, L, N, K]`.
        cache_update_index: int or scalar int tensor, the position of `inputs[:, 0]`:
            where the cache is written and what the causal mask counts from. Required
            with `self_attention_cache`.
        cross_attention_cache: optional `(keys, values)` of the memory, `[B, S, N, K]`.
        return_attention_scores: also return the cross-attention weights. Defaults to
            False.
        training: Python bool.

    Returns:
        `outputs [B, T, D]`; then the updated `self_attention_cache` if one was given;
        then, if asked, the cross-attention weights `[B, N, T, S]` float32 (where each
        target position looked in the source). Several outputs come as a tuple.
    """

    def build(self, inputs_shape, memory_shape=None):
        width = inputs_shape[-1]
        memory_width = width if memory_shape is None else memory_shape[-1]
        self.self_attention, self.self_attention_norm = self._build_attention(
            "self_attention", width
        )
        self.cross_attention, self.cross_attention_norm = self._build_attention(
            "cross_attention", width, memory_width
        )
        self._build_feed_forward(width)

    def call(
        self,
        inputs,
        memory=None,
        padding_mask=None,
        memory_mask=None,
        self_attention_cache=None,
        cache_update_index=None,
        cross_attention_cache=None,
        return_attention_scores=False,
        training=None,
    ):
        if self_attention_cache is not None and cache_update_index is None:
            raise ValueError("cache_update_index is required with a self_attention_cache, got None")
        if memory is None and cross_attention_cache is None:
            raise ValueError("memory is required without a cross_attention_cache, got None")
        length = ops.shape(inputs)[1]
        if self_attention_cache is None:
            causal = causal_mask(length)  # [T, T]
        else:
            cache_length = ops.shape(self_attention_cache[0])[1]
            causal = causal_mask(length, cache_length, cache_update_index)  # [T, L]
        self_mask = merge_masks(padding_mask, causal)  # [B, T, T] or [B, T, L]
        cross_mask = merge_masks(memory_mask)  # [B, 1, S]

        def self_attend(x):
            return self.self_attention(
                x,
                x,
                attention_mask=self_mask,
                cache=self_attention_cache,
                cache_update_index=cache_update_index,
                training=training,
            )

        def cross_attend(x):
            return self.cross_attention(
                x,
                memory,
                attention_mask=cross_mask,
                cache=cross_attention_cache,
                return_attention_scores=return_attention_scores,
                training=training,
            )

        x, cache = self._residual(inputs, self.self_attention_norm, self_attend, training)
        x, extras = self._residual(x, self.cross_attention_norm, cross_attend, training)
        if cross_attention_cache is not None:
            extras = extras[1:]  # the static cache comes back unchanged: drop it
        x, _ = self._residual(x, self.feed_forward_norm, self._feed_forward, training)
        outputs = (x, *cache, *extras)
        return outputs[0] if len(outputs) == 1 else outputs


def copy_keras_attention_weights(layer, keras_layer):
    """Give our `MultiHeadAttention` the weights of a `keras.layers.MultiHeadAttention`.

    Used in notebook 06 to check our attention against Keras'. Both layers must be
    built (called once) with the same heads and sizes. Keras keeps the heads as a
    kernel axis (`[D, N, K]` projections in, `[N, K, D]` out); ours flattens them
    (`[D, N*K]`, `[N*K, D]`), in the same order, so each weight is copied reshaped.

    Args:
        layer: our built `MultiHeadAttention`.
        keras_layer: a built `keras.layers.MultiHeadAttention`.

    Raises:
        ValueError: a layer is not built, or their weights do not correspond.
    """
    if not (layer.built and keras_layer.built):
        raise ValueError("both attention layers must be built (call each once) before copying")
    for name in ("query_dense", "key_dense", "value_dense", "output_dense"):
        ours, theirs = getattr(layer, name).weights, getattr(keras_layer, name).weights
        sizes = [math.prod(w.shape) for w in ours], [math.prod(w.shape) for w in theirs]
        if sizes[0] != sizes[1]:
            raise ValueError(
                f"{name} weights do not correspond: sizes {sizes[0]} (ours) vs {sizes[1]} "
                "(Keras); build both with the same num_heads, head size and widths"
            )
        for variable, value in zip(ours, theirs, strict=True):
            variable.assign(ops.reshape(value, variable.shape))
