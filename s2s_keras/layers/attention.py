"""Attention layers: additive (Bahdanau) and multiplicative (Luong) scoring.

Introduced in notebook 04 (Bahdanau attention); notebook 05 adds Luong's scores.
Shapes: `B` batch, `T` target (query) length, `S` source length, `H` hidden (`Hq` of the
queries, `Hv` of the values), `A` the attention dimension of the additive scores.

Both layers share one call signature, so a decoder can swap one for the other:
`layer(query, value, mask=None, keys=None)` → `(context, weights)`, where `keys` is the
result of `layer.project_keys(value)`, computed once per source sentence by step-by-step
decoding instead of once per step.
"""

import keras
from keras import ops

from s2s_keras.layers.masking import masked_softmax

LUONG_SCORES = ("dot", "general", "concat")


def _additive_scores(query_proj, keys, score_dense):
    """`vᵀ tanh(q + k)` for every (query, key) pair: `[B, T, A]`, `[B, S, A]` → `[B, T, S]`."""
    hidden = ops.tanh(ops.expand_dims(query_proj, 2) + ops.expand_dims(keys, 1))  # [B, T, S, A]
    return ops.squeeze(score_dense(hidden), -1)  # [B, T, S]


def _attend(scores, value, mask):
    """Masked softmax of `[B, T, S]` scores, then the weighted sum of `[B, S, Hv]` values."""
    if mask is not None:
        mask = ops.expand_dims(ops.cast(mask, "bool"), 1)  # [B, 1, S]
    weights = masked_softmax(scores, mask)  # [B, T, S] float32
    context = ops.matmul(ops.cast(weights, value.dtype), value)  # [B, T, Hv]
    return context, weights


@keras.saving.register_keras_serializable(package="s2s_keras")
class BahdanauAttention(keras.layers.Layer):
    """Additive attention of Bahdanau, Cho and Bengio (2015), eq. 6 of appendix A.1.2.

    `score(q_t, h_s) = vᵀ tanh(W_q q_t + W_k h_s)`; the weights are a softmax of the
    scores over the source positions, and the context is the weighted sum of the values.

    Args:
        units: `A`, the size of the hidden layer that scores each (query, key) pair.

    Call arguments:
        query: `[B, T, Hq]` decoder states.
        value: `[B, S, Hv]` encoder outputs.
        mask: optional `[B, S]` bool, True on real source tokens. Padding gets weight 0.
        keys: optional `[B, S, A]` result of `project_keys(value)`, so step-by-step
            decoding projects the source once instead of at every step.

    Returns:
        `(context [B, T, Hv], weights [B, T, S] float32)`.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, int) or units < 1:
            raise ValueError(f"units must be a positive integer, got {units!r}")
        self.units = units
        self.supports_masking = True

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

    def call(self, query, value, mask=None, keys=None):
        if keys is None:
            keys = self.project_keys(value)
        scores = _additive_scores(self.query_dense(query), keys, self.score_dense)  # [B, T, S]
        return _attend(scores, value, mask)

    def compute_output_shape(self, query_shape, value_shape):
        b, t = query_shape[0], query_shape[1]
        return (b, t, value_shape[-1]), (b, t, value_shape[1])

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="s2s_keras")
class LuongAttention(keras.layers.Layer):
    """Global attention of Luong, Pham and Manning (2015), the scores of eq. 8.

    - `"dot"`: `score(q_t, h_s) = q_tᵀ h_s`, no weights; queries and values must have
      the same size (`Hq == Hv`).
    - `"general"`: `score(q_t, h_s) = q_tᵀ W_a h_s`, the multiplicative score; `W_a h_s`
      is the key, so it is projected once per sentence.
    - `"concat"`: `score(q_t, h_s) = v_aᵀ tanh(W_a [q_t; h_s])`. Splitting
      `W_a = [W_q  W_k]` gives `W_a [q_t; h_s] = W_q q_t + W_k h_s`: the additive score
      of `BahdanauAttention` (without a bias), kept here to compare all three of Luong's
      scores under one name.

    The weights are a softmax of the scores over the source positions (Luong's eq. 7),
    and the context is the weighted sum of the values.

    `scaled` divides the `"dot"` and `"general"` scores by `√Hq`, as Vaswani et al. (2017)
    do. Luong et al. do not, but without it a product of two `Hq`-wide vectors of unit
    scale has a standard deviation of about `√Hq` (notebook 05: 20.3 for random 512-wide
    vectors), so the softmax starts nearly one-hot on an arbitrary position and learns to
    align slowly. On spa-eng, `luong-general` reached 11.0 BLEU in 20 minutes unscaled
    (README, results) and 30.0 scaled (with embeddings of 256, docs/performance.md); with
    the same seed and batches its mean training loss over the first 800 steps was 4.35
    scaled against 4.59 unscaled. `"concat"` learns its own scale (`v_a`) and ignores `scaled`.

    Args:
        score: `"dot"`, `"general"` or `"concat"`. Defaults to `"general"`, the best of
            the three for global attention in Luong et al. (2015), Table 4.
        units: `A`, the size of the hidden layer of the `"concat"` score; only for
            `"concat"`. Defaults to `None`: `Hq`, the query size.
        scaled: divide the `"dot"` and `"general"` scores by `√Hq`. Defaults to True.

    Call arguments:
        query: `[B, T, Hq]` decoder states.
        value: `[B, S, Hv]` encoder outputs.
        mask: optional `[B, S]` bool, True on real source tokens. Padding gets weight 0.
        keys: optional result of `project_keys(value)` (`[B, S, Hv]` for `"dot"`, which
            is `value` itself, `[B, S, Hq]` for `"general"`, `[B, S, A]` for `"concat"`),
            so step-by-step decoding projects the source once instead of at every step.

    Returns:
        `(context [B, T, Hv], weights [B, T, S] float32)`.

    Example:

    >>> import numpy as np
    >>> layer = LuongAttention("general")
    >>> context, weights = layer(np.ones((2, 3, 4)), np.ones((2, 5, 6)))
    >>> tuple(context.shape), tuple(weights.shape)
    ((2, 3, 6), (2, 3, 5))
    """

    def __init__(self, score="general", units=None, scaled=True, **kwargs):
        super().__init__(**kwargs)
        if score not in LUONG_SCORES:
            raise ValueError(f"score must be one of {LUONG_SCORES}, got {score!r}")
        if units is not None:
            if score != "concat":
                raise ValueError(
                    f"units only applies to score='concat', got units={units!r} "
                    f"with score={score!r}"
                )
            if not isinstance(units, int) or units < 1:
                raise ValueError(f"units must be a positive integer or None, got {units!r}")
        if not isinstance(scaled, bool):
            raise ValueError(f"scaled must be True or False, got {scaled!r}")
        self.score = score
        self.units = units
        self.scaled = scaled
        self.supports_masking = True

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
        units = query_dim if self.units is None else self.units
        self.query_dense = keras.layers.Dense(
            units, use_bias=False, name="query_dense", dtype=policy
        )
        self.key_dense = keras.layers.Dense(units, use_bias=False, name="key_dense", dtype=policy)
        self.score_dense = keras.layers.Dense(1, use_bias=False, name="score_dense", dtype=policy)
        self.query_dense.build(query_shape)
        self.key_dense.build(value_shape)
        self.score_dense.build((None, None, None, units))

    def project_keys(self, value):
        if self.score == "dot":
            return value  # [B, S, Hv]
        return self.key_dense(value)  # [B, S, Hq] ("general") or [B, S, A] ("concat")

    def call(self, query, value, mask=None, keys=None):
        if keys is None:
            keys = self.project_keys(value)
        if self.score == "concat":
            scores = _additive_scores(self.query_dense(query), keys, self.score_dense)
        else:
            # In the compute dtype, as in Keras' `Attention`; `masked_softmax` goes to
            # float32. For "dot" GRU states in [-1, 1] bound |q · h| by H, far below 65504.
            scores = ops.matmul(query, ops.swapaxes(keys, 1, 2))  # [B, T, Hq] x [B, Hq, S]
            if self.scaled:
                scores = scores / ops.cast(ops.sqrt(float(query.shape[-1])), scores.dtype)
        return _attend(scores, value, mask)  # [B, T, Hv], [B, T, S]

    def compute_output_shape(self, query_shape, value_shape):
        b, t = query_shape[0], query_shape[1]
        return (b, t, value_shape[-1]), (b, t, value_shape[1])

    def get_config(self):
        return {
            **super().get_config(),
            "score": self.score,
            "units": self.units,
            "scaled": self.scaled,
        }
