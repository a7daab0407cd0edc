"""Attention layers: additive (Bahdanau) scoring.

Introduced in notebook 04 (Bahdanau attention); notebook 05 adds Luong's scores.
Shapes: `B` batch, `T` target (query) length, `S` source length, `H` hidden, `A` the
attention dimension.
"""

import keras
from keras import ops

from s2s_keras.layers.masking import masked_softmax


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
        q = self.query_dense(query)  # [B, T, A]
        hidden = ops.tanh(ops.expand_dims(q, 2) + ops.expand_dims(keys, 1))  # [B, T, S, A]
        scores = ops.squeeze(self.score_dense(hidden), -1)  # [B, T, S]
        if mask is not None:
            mask = ops.expand_dims(ops.cast(mask, "bool"), 1)  # [B, 1, S]
        weights = masked_softmax(scores, mask)  # [B, T, S]
        context = ops.matmul(ops.cast(weights, value.dtype), value)  # [B, T, Hv]
        return context, weights

    def compute_output_shape(self, query_shape, value_shape):
        b, t = query_shape[0], query_shape[1]
        return (b, t, value_shape[-1]), (b, t, value_shape[1])

    def get_config(self):
        return {**super().get_config(), "units": self.units}
