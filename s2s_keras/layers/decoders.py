"""Recurrent decoders: one conditioned on a fixed context vector, one with attention.

`ContextDecoder` is introduced in notebook 02 (seq2seq with a context vector),
`AttentionDecoder` in notebook 04 (Bahdanau attention) and its Luong scores and input
feeding in notebook 05. Shapes use the alphabet of `s2s_keras.layers`.
"""

import keras
from keras import ops

from s2s_keras.checks import boolean, fraction, one_of, positive_int, without_removed_options
from s2s_keras.layers.attention import LUONG_SCORES, BahdanauAttention, LuongAttention

ATTENTION_SCORES = ("bahdanau", *LUONG_SCORES)


@keras.saving.register_keras_serializable(package="s2s_keras")
class ContextDecoder(keras.layers.Layer):
    """GRU decoder conditioned on one fixed context vector `c` at every step.

    The RNN Encoder–Decoder of Cho et al. (2014), §2.2, with the GRU they introduce
    there; Sutskever et al. (2014) condition only the first state on `c`. Here `c` (the
    encoder's final state) sets the first state, `s_0 = tanh(W c)`, enters the GRU at
    every step, `s_t = GRU(s_{t-1}, [e_t; c])`, and is read by the output layer,
    `logits_t = W_o [s_t; c; e_t]`, where `e_t` is the embedding of the previous token
    `y_{t-1}` (Cho's `g(s_t, y_{t-1}, c)`, without the maxout layer). Because `c` is the
    same at every step, teacher forcing runs the fused GRU over the whole target at once.

    Args:
        vocab_size: `V`, target vocabulary size (id 0 is padding).
        embedding_dim: `E`, size of the target embeddings. Defaults to 128.
        units: `H`, GRU units. Defaults to 256.
        dropout: dropout on the embeddings and on the output layer's input. Defaults to 0.

    Call arguments:
        target_in: `[B, T]` int ids, starting with `[START]`, right-padded with 0.
        context: `[B, D]` the context vector.
        state: `[B, H]` GRU state (from `initial_state(context)` at the first step).
        training: Python bool.

    Returns:
        `(logits [B, T, V] float32, state [B, H])`; padding steps leave the state as is.
    """

    def __init__(self, vocab_size, embedding_dim=128, units=256, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = positive_int("vocab_size", vocab_size)
        self.embedding_dim = positive_int("embedding_dim", embedding_dim)
        self.units = positive_int("units", units)
        self.dropout = fraction("dropout", dropout)

    def build(self, target_in_shape, context_shape):
        policy = self.dtype_policy
        context_dim = context_shape[-1]
        self.embedding = keras.layers.Embedding(
            self.vocab_size, self.embedding_dim, name="embedding", dtype=policy
        )
        self.embedding.build(target_in_shape)
        self.bridge = keras.layers.Dense(self.units, activation="tanh", name="bridge", dtype=policy)
        self.bridge.build((None, context_dim))
        self.rnn = keras.layers.GRU(
            self.units, return_sequences=True, return_state=True, name="gru", dtype=policy
        )
        self.rnn.build((None, None, self.embedding_dim + context_dim))
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=policy)
        # Logits in float32 so the softmax and the loss are stable under mixed precision.
        self.logits = keras.layers.Dense(self.vocab_size, name="logits", dtype="float32")
        self.logits.build((None, None, self.units + context_dim + self.embedding_dim))

    def initial_state(self, context):
        """`[B, D]` context → `[B, H]` first decoder state `tanh(W c)`."""
        return self.bridge(context)

    def call(self, target_in, context, state, training=None):
        e = self.dropout_layer(self.embedding(target_in), training=training)  # [B, T, E]
        batch, length = ops.shape(e)[0], ops.shape(e)[1]
        c = ops.broadcast_to(
            ops.expand_dims(context, 1), (batch, length, ops.shape(context)[-1])
        )  # [B, T, D]
        rnn_out, state = self.rnn(
            ops.concatenate([e, c], axis=-1),
            initial_state=state,
            mask=ops.not_equal(target_in, 0),
            training=training,
        )  # [B, T, H], [B, H]
        readout = ops.concatenate([rnn_out, c, e], axis=-1)  # [B, T, H + D + E]
        readout = self.dropout_layer(readout, training=training)
        return self.logits(readout), state  # [B, T, V], [B, H]

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "dropout": self.dropout,
        }


@keras.saving.register_keras_serializable(package="s2s_keras")
class AttentionDecoder(keras.layers.Layer):
    """GRU decoder that attends over the encoder outputs at every step.

    The GRU state `s_t` queries the source (the scores of Bahdanau et al. 2015 or of
    Luong et al. 2015, eq. 8) and the context `c_t` and `s_t` are merged into the
    attentional state `h̃_t = tanh(W_c [c_t; s_t])` (Luong et al. 2015, eq. 5) from which
    the next token is predicted.

    Without input feeding (the default) the GRU does not read `c_t` — Luong's "attention
    after the RNN" — so teacher forcing runs the GRU over the whole target at once (the
    fused kernel), then attends for all positions in one batched op. With input feeding
    (Luong et al. 2015, §3.3) the GRU reads `[e_t; h̃_{t-1}]`, so the model knows where it
    attended before; step `t` then needs step `t - 1`'s attention, and teacher forcing
    runs a `GRUCell` step by step (`keras.ops.scan`), slower to train.

    Args:
        vocab_size: `V`, target vocabulary size (id 0 is padding).
        embedding_dim: `E`, size of the target embeddings. Defaults to 128.
        units: `H`, GRU units; also `A`, the size of the scoring layer of the
            `"bahdanau"` and `"concat"` scores (`"dot"` and `"general"` have none).
            Defaults to 256.
        dropout: dropout on the embeddings and the attentional state. Defaults to 0.
        attention: the score: `"bahdanau"` (default, `BahdanauAttention`), or Luong's
            `"dot"`, `"general"` or `"concat"` (`LuongAttention`). `"dot"` needs
            `D == H`.
        input_feeding: feed `h̃_{t-1}` to the GRU with the embedding. Defaults to False.
        scaled: divide the `"dot"` and `"general"` scores by `√H` (`LuongAttention`).
            Defaults to True.

    Call arguments:
        target_in: `[B, T]` int ids, starting with `[START]`, right-padded with 0.
        memory: `[B, S, D]` encoder outputs.
        memory_mask: `[B, S]` bool, True on real source tokens.
        state: the recurrent state from `initial_state` at the first step: the GRU
            state `[B, H]`, or with input feeding the pair `(GRU state [B, H], h̃ [B, H])`.
        keys: optional pre-projected attention keys (`attention.project_keys(memory)`).
        training: Python bool.

    Returns:
        `(logits [B, T, V] float32, state, attention [B, T, S] float32)`, `state` of the
        same structure as the one given; padding steps leave it as is.
    """

    def __init__(
        self,
        vocab_size,
        embedding_dim=128,
        units=256,
        dropout=0.0,
        attention="bahdanau",
        input_feeding=False,
        scaled=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = positive_int("vocab_size", vocab_size)
        self.embedding_dim = positive_int("embedding_dim", embedding_dim)
        self.units = positive_int("units", units)
        self.dropout = fraction("dropout", dropout)
        # `self.attention` is the attention layer (made in `build`); this is its kind.
        self.attention_kind = one_of("attention", attention, ATTENTION_SCORES)
        self.input_feeding = boolean("input_feeding", input_feeding)
        self.scaled = boolean("scaled", scaled)

    def build(self, target_in_shape, memory_shape):
        policy = self.dtype_policy
        memory_dim = memory_shape[-1]
        self.embedding = keras.layers.Embedding(
            self.vocab_size, self.embedding_dim, name="embedding", dtype=policy
        )
        self.embedding.build(target_in_shape)
        self.bridge = keras.layers.Dense(self.units, activation="tanh", name="bridge", dtype=policy)
        self.bridge.build((None, memory_dim))
        if self.input_feeding:
            self.cell = keras.layers.GRUCell(self.units, name="gru_cell", dtype=policy)
            self.cell.build((None, self.embedding_dim + self.units))
        else:
            self.rnn = keras.layers.GRU(
                self.units, return_sequences=True, return_state=True, name="gru", dtype=policy
            )
            self.rnn.build((None, None, self.embedding_dim))
        if self.attention_kind == "bahdanau":
            self.attention = BahdanauAttention(self.units, name="attention", dtype=policy)
        else:
            self.attention = LuongAttention(
                self.attention_kind, scaled=self.scaled, name="attention", dtype=policy
            )
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
        """`[B, D]` encoder final state → the first decoder state.

        `s_0 = tanh(W encoder_state)` `[B, H]`; with input feeding the pair `(s_0, h̃_0)`
        with `h̃_0 = 0`, since nothing was attended to before the first step.
        """
        hidden = self.bridge(encoder_state)  # [B, H]
        if self.input_feeding:
            return hidden, ops.zeros_like(hidden)
        return hidden

    def call(self, target_in, memory, memory_mask, state, keys=None, training=None):
        x = self.dropout_layer(self.embedding(target_in), training=training)  # [B, T, E]
        if keys is None:
            keys = self.attention.project_keys(memory)
        if self.input_feeding:
            h, state, weights = self._feed_step_by_step(
                x, ops.not_equal(target_in, 0), memory, memory_mask, keys, state, training
            )  # [B, T, H], (s, h̃), [B, T, S]
        else:
            rnn_out, state = self.rnn(
                x, initial_state=state, mask=ops.not_equal(target_in, 0), training=training
            )  # [B, T, H], [B, H]
            context, weights = self.attention(rnn_out, memory, value_mask=memory_mask, keys=keys)
            h = self.combine(ops.concatenate([context, rnn_out], axis=-1))  # [B, T, H]
        h = self.dropout_layer(h, training=training)
        return self.logits(h), state, weights  # [B, T, V], state, [B, T, S]

    def _feed_step_by_step(self, x, real, memory, memory_mask, keys, state, training):
        """Input feeding: one GRU step, then attention, per target position."""
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            # A lone [B, H] tensor would unpack along the batch without complaint.
            raise ValueError(
                "With input_feeding=True the state is the pair (hidden, feed) from "
                f"`initial_state`, got {type(state).__name__} of shape "
                f"{getattr(state, 'shape', None)}"
            )
        hidden, feed = state  # [B, H], [B, H]
        no_attention = ops.zeros((ops.shape(memory)[0], ops.shape(memory)[1]), "float32")

        def step(carry, t):
            hidden, feed, weights = carry  # [B, H], [B, H], [B, S]
            x_t, real_t = ops.take(x, t, axis=1), ops.take(real, t, axis=1)  # [B, E], [B]
            s_t, _ = self.cell(ops.concatenate([x_t, feed], axis=-1), hidden, training=training)
            context, weights_t = self.attention(
                ops.expand_dims(s_t, 1), memory, value_mask=memory_mask, keys=keys
            )  # [B, 1, D], [B, 1, S]
            h_t = self.combine(ops.concatenate([context[:, 0], s_t], axis=-1))  # [B, H]
            # A padding step keeps the state, as the masked fused GRU does.
            keep = ops.expand_dims(real_t, -1)  # [B, 1]
            carry = (
                ops.where(keep, s_t, hidden),
                ops.where(keep, h_t, feed),
                ops.where(keep, weights_t[:, 0], weights),
            )
            # `ops.scan` on TensorFlow stacks outputs shaped like the carry: hence the
            # attention weights in the carry, and the carry as the per-step output.
            return carry, carry

        # Scanning over the positions `t` (one `xs`): on TensorFlow, `ops.scan` over
        # several `xs` fails when `T` is unknown, as in a symbolic call (Keras 3.15).
        (hidden, feed, _), (_, h, weights) = ops.scan(
            step, (hidden, feed, no_attention), ops.arange(ops.shape(x)[1])
        )  # [T, B, H], [T, B, S]
        return ops.swapaxes(h, 0, 1), (hidden, feed), ops.swapaxes(weights, 0, 1)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "dropout": self.dropout,
            "attention": self.attention_kind,
            "input_feeding": self.input_feeding,
            "scaled": self.scaled,
        }

    @classmethod
    def from_config(cls, config):
        # The attention's hidden layer has `A = H` units.
        removed = {"attention_units": config.get("units", 256)}
        return cls(**without_removed_options(cls.__name__, config, removed))
