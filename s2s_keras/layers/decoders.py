"""Recurrent decoders.

Introduced in notebook 04 (Bahdanau attention). Shapes: `B` batch, `T` target length,
`S` source length, `D` encoder output size, `H` decoder units, `V` target vocabulary.
"""

import keras
from keras import ops

from s2s_keras.layers.attention import BahdanauAttention


@keras.saving.register_keras_serializable(package="s2s_keras")
class AttentionDecoder(keras.layers.Layer):
    """GRU decoder that attends over the encoder outputs at every step.

    The GRU runs over the target prefix; its output `s_t` queries the source with
    additive attention (Bahdanau et al. 2015) and the context `c_t` and `s_t` are merged
    into the attentional state `h̃_t = tanh(W_c [c_t; s_t])` (Luong et al. 2015, eq. 5)
    from which the next token is predicted. Because the GRU does not read `c_t`, teacher
    forcing runs the GRU over the whole target at once (the fused kernel), then attends
    for all positions in one batched op.

    Args:
        vocab_size: `V`, target vocabulary size (id 0 is padding).
        embedding_dim: size of the target embeddings. Defaults to 128.
        units: `H`, GRU units. Defaults to 256.
        attention_units: size of the attention scoring layer. Defaults to `units`.
        dropout: dropout on the embeddings and the attentional state. Defaults to 0.

    Call arguments:
        target_in: `[B, T]` int ids, starting with `[START]`, right-padded with 0.
        memory: `[B, S, D]` encoder outputs.
        memory_mask: `[B, S]` bool, True on real source tokens.
        state: `[B, H]` GRU state (from `initial_state` at the first step).
        keys: optional `[B, S, A]` pre-projected attention keys.
        training: Python bool.

    Returns:
        `(logits [B, T, V] float32, state [B, H], attention [B, T, S] float32)`.
    """

    def __init__(
        self, vocab_size, embedding_dim=128, units=256, attention_units=None, dropout=0.0, **kwargs
    ):
        super().__init__(**kwargs)
        for name, value in (
            ("vocab_size", vocab_size),
            ("embedding_dim", embedding_dim),
            ("units", units),
            ("attention_units", units if attention_units is None else attention_units),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.attention_units = units if attention_units is None else attention_units
        self.dropout = dropout

    def build(self, target_in_shape, memory_shape):
        policy = self.dtype_policy
        memory_dim = memory_shape[-1]
        self.embedding = keras.layers.Embedding(
            self.vocab_size, self.embedding_dim, name="embedding", dtype=policy
        )
        self.embedding.build(target_in_shape)
        self.bridge = keras.layers.Dense(self.units, activation="tanh", name="bridge", dtype=policy)
        self.bridge.build((None, memory_dim))
        self.rnn = keras.layers.GRU(
            self.units, return_sequences=True, return_state=True, name="gru", dtype=policy
        )
        self.rnn.build((None, None, self.embedding_dim))
        self.attention = BahdanauAttention(self.attention_units, name="attention", dtype=policy)
        self.attention.build((None, None, self.units), memory_shape)
        self.combine = keras.layers.Dense(
            self.units, activation="tanh", name="combine", dtype=policy
        )
        self.combine.build((None, None, self.units + memory_dim))
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=policy)
        # Logits in float32 so the softmax and the loss are stable under mixed precision.
        self.logits = keras.layers.Dense(self.vocab_size, name="logits", dtype="float32")
        self.logits.build((None, None, self.units))

    def initial_state(self, encoder_state):
        """`[B, D]` encoder final state → `[B, H]` first decoder state."""
        return self.bridge(encoder_state)

    def call(self, target_in, memory, memory_mask, state, keys=None, training=None):
        x = self.dropout_layer(self.embedding(target_in), training=training)  # [B, T, E]
        rnn_out, state = self.rnn(
            x, initial_state=state, mask=ops.not_equal(target_in, 0), training=training
        )  # [B, T, H], [B, H]
        context, weights = self.attention(rnn_out, memory, mask=memory_mask, keys=keys)
        h = self.combine(ops.concatenate([context, rnn_out], axis=-1))  # [B, T, H]
        h = self.dropout_layer(h, training=training)
        return self.logits(h), state, weights  # [B, T, V], [B, H], [B, T, S]

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "attention_units": self.attention_units,
            "dropout": self.dropout,
        }
