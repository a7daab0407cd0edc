"""Attention layers: additive (Bahdanau) and multiplicative (Luong) scoring.

Introduced in notebook 04 (Bahdanau attention); notebook 05 adds Luong's scores. Shapes
use the alphabet of `s2s_keras.layers`: the queries are decoder states `[B, T, H]`, the
values encoder outputs `[B, S, D]`.

Both layers share one call signature, so a decoder can swap one for the other:
`layer(query, value, value_mask=None, keys=None)` → `(context, weights)`, where `keys`
is the result of `layer.project_keys(value)`, computed once per source sentence by
step-by-step decoding instead of once per step.

Masks work as in `keras.layers.MultiHeadAttention`: `value_mask` defaults to the Keras
mask of `value` (`value._keras_mask`, set by e.g. `Embedding(mask_zero=True)`), and the
context carries the Keras mask of `query`, if it has one.
"""

import keras
from keras import ops

from s2s_keras.checks import boolean, one_of, positive_int, without_removed_options
from s2s_keras.layers.masking import masked_softmax

LUONG_SCORES = ("dot", "general", "concat")


def _additive_scores(query_proj, keys, score_dense):
    """`vᵀ tanh(q + k)` for every (query, key) pair: `[B, T, A]`, `[B, S, A]` → `[B, T, S]`."""
    hidden = ops.tanh(ops.expand_dims(query_proj, 2) + ops.expand_dims(keys, 1))  # [B, T, S, A]
    return ops.squeeze(score_dense(hidden), -1)  # [B, T, S]


def _attend(scores, value, value_mask):
    """Masked softmax of `[B, T, S]` scores, then the weighted sum of `[B, S, D]` values."""
    mask = None if value_mask is None else ops.expand_dims(ops.cast(value_mask, "bool"), 1)
    weights = masked_softmax(scores, mask)  # [B, T, S] float32; mask [B, 1, S]
    context = ops.matmul(ops.cast(weights, value.dtype), value)  # [B, T, D]
    return context, weights


@keras.saving.register_keras_serializable(package="s2s_keras")
class BahdanauAttention(keras.layers.Layer):
    """Additive attention of Bahdanau, Cho and Bengio (2015), eq. 6 of appendix A.1.2.

    `score(q_t, h_s) = vᵀ tanh(W_q q_t + W_k h_s)`; the weights are a softmax of the
    scores over the source positions, and the context is the weighted sum of the values.

    Args:
        units: `A`, the size of the hidden layer that scores each (query, key) pair.

    Call arguments:
        query: `[B, T, H]` decoder states.
        value: `[B, S, D]` encoder outputs.
        value_mask: optional `[B, S]` bool, True on real source tokens; padding gets
            weight 0. Defaults to the Keras mask of `value`, if it has one.
        keys: optional `[B, S, A]` result of `project_keys(value)`, so step-by-step
            decoding projects the source once instead of at every step.

    Returns:
        `(context [B, T, D], weights [B, T, S] float32)`.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = positive_int("units", units)
        self.supports_masking = True  # the context keeps the query's Keras mask

    def build(self, query_shape, value_shape):
        self.query_dense = keras.layers.Dense(
            self.units, use_bias=False, name="query_dense", dtype=self.dtype_policy
        )
        self.key_dense = keras.layers.Dense(
            self.units, use_bias=False, name="key_dense", dtype=self.dtype_policy
        )
        self.score_dense = keras.layers.Dense(
            1, use_bias=False, name="score_dense", dtype=self.dtype_policy
        )
        self.query_dense.build(query_shape)
        self.key_dense.build(value_shape)
        self.score_dense.build((None, None, None, self.units))

    def project_keys(self, value):
        return self.key_dense(value)  # [B, S, A]

    def call(self, query, value, value_mask=None, keys=None):
        if keys is None:
            keys = self.project_keys(value)
        scores = _additive_scores(self.query_dense(query), keys, self.score_dense)  # [B, T, S]
        return _attend(scores, value, value_mask)

    def compute_output_shape(self, query_shape, value_shape):
        b, t = query_shape[0], query_shape[1]
        return (b, t, value_shape[-1]), (b, t, value_shape[1])

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="s2s_keras")
class LuongAttention(keras.layers.Layer):
    """Global attention of Luong, Pham and Manning (2015), the scores of eq. 8.

    - `"dot"`: `score(q_t, h_s) = q_tᵀ h_s`, no weights; queries and values must have
      the same size (`H == D`).
    - `"general"`: `score(q_t, h_s) = q_tᵀ W_a h_s`, the multiplicative score; `W_a h_s`
      is the key, so it is projected once per sentence.
    - `"concat"`: `score(q_t, h_s) = v_aᵀ tanh(W_a [q_t; h_s])` with a hidden layer of
      `A = H` units. Splitting `W_a = [W_q  W_k]` gives `W_a [q_t; h_s] = W_q q_t + W_k h_s`:
      the additive score of `BahdanauAttention` (without a bias), kept here to compare
      all three of Luong's scores under one name.

    The weights are a softmax of the scores over the source positions (Luong's eq. 7),
    and the context is the weighted sum of the values.

    `scaled` divides the `"dot"` and `"general"` scores by `√H`, as Vaswani et al. (2017)
    do. Luong et al. do not, but the product of two `H`-wide vectors with entries of unit
    scale has a standard deviation of about `√H`: unscaled, the softmax starts nearly
    one-hot on an arbitrary position and learns to align slowly (notebook 05 measures
    it). `"concat"` learns its own scale (`v_a`) and ignores `scaled`.

    Args:
        score: `"dot"`, `"general"` or `"concat"`. Defaults to `"general"`, the best of
            the three for global attention in Luong et al. (2015), Table 4.
        scaled: divide the `"dot"` and `"general"` scores by `√H`. Defaults to True.

    Call arguments:
        query: `[B, T, H]` decoder states.
        value: `[B, S, D]` encoder outputs.
        value_mask: optional `[B, S]` bool, True on real source tokens; padding gets
            weight 0. Defaults to the Keras mask of `value`, if it has one.
        keys: optional result of `project_keys(value)` (`[B, S, D]` for `"dot"`, which
            is `value` itself, `[B, S, H]` for `"general"`, `[B, S, A]` for `"concat"`),
            so step-by-step decoding projects the source once instead of at every step.

    Returns:
        `(context [B, T, D], weights [B, T, S] float32)`.

    Example:

    >>> import numpy as np
    >>> layer = LuongAttention("general")
    >>> context, weights = layer(np.ones((2, 3, 4)), np.ones((2, 5, 6)))
    >>> tuple(context.shape), tuple(weights.shape)
    ((2, 3, 6), (2, 3, 5))
    """

    def __init__(self, score="general", scaled=True, **kwargs):
        super().__init__(**kwargs)
        self.score = one_of("score", score, LUONG_SCORES)
        self.scaled = boolean("scaled", scaled)
        self.supports_masking = True  # the context keeps the query's Keras mask

    def build(self, query_shape, value_shape):
        query_dim, value_dim = query_shape[-1], value_shape[-1]
        policy = self.dtype_policy
        if self.score == "dot":
            if query_dim is not None and value_dim is not None and query_dim != value_dim:
                raise ValueError(
                    "score='dot' needs queries and values of the same size, got query "
                    f"size {query_dim} and value size {value_dim}; use score='general' "
                    "to learn a projection between them"
                )
            return
        if self.score == "general":
            # keys = W_a h_s, so that q_tᵀ (W_a h_s) is one batched matmul.
            self.key_dense = keras.layers.Dense(
                query_dim, use_bias=False, name="key_dense", dtype=policy
            )
            self.key_dense.build(value_shape)
            return
        # "concat": a hidden layer of A = H units scores W_q q_t + W_k h_s.
        self.query_dense = keras.layers.Dense(
            query_dim, use_bias=False, name="query_dense", dtype=policy
        )
        self.key_dense = keras.layers.Dense(
            query_dim, use_bias=False, name="key_dense", dtype=policy
        )
        self.score_dense = keras.layers.Dense(1, use_bias=False, name="score_dense", dtype=policy)
        self.query_dense.build(query_shape)
        self.key_dense.build(value_shape)
        self.score_dense.build((None, None, None, query_dim))

    def project_keys(self, value):
        if self.score == "dot":
            return value  # [B, S, D]
        return self.key_dense(value)  # [B, S, H] ("general") or [B, S, A] ("concat")

    def call(self, query, value, value_mask=None, keys=None):
        if keys is None:
            keys = self.project_keys(value)
        if self.score == "concat":
            scores = _additive_scores(self.query_dense(query), keys, self.score_dense)
        else:
            # In the compute dtype, as in Keras' `Attention`; `masked_softmax` goes to
            # float32. For "dot" GRU states in [-1, 1] bound |q · h| by H, far below 65504.
            scores = ops.matmul(query, ops.swapaxes(keys, 1, 2))  # [B, T, H] x [B, H, S]
            if self.scaled:
                scores = scores / ops.cast(ops.sqrt(float(query.shape[-1])), scores.dtype)
        return _attend(scores, value, value_mask)  # [B, T, D], [B, T, S]

    def compute_output_shape(self, query_shape, value_shape):
        b, t = query_shape[0], query_shape[1]
        return (b, t, value_shape[-1]), (b, t, value_shape[1])

    def get_config(self):
        return {**super().get_config(), "score": self.score, "scaled": self.scaled}

    @classmethod
    def from_config(cls, config):
        return cls(**without_removed_options(cls.__name__, config, {"units": None}))
