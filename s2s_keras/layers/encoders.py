"""Recurrent encoders.

Introduced in notebook 01 (encoder-only models). Shapes: `B` batch, `S` source length,
`E` embedding size, `H` hidden units.
"""

import keras
from keras import ops

from s2s_keras.layers.masking import padding_mask

_CELLS = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}


@keras.saving.register_keras_serializable(package="s2s_keras")
class RNNEncoder(keras.layers.Layer):
    """Embedding + a stack of (bi)directional GRU or LSTM layers over padded ids.

    The final state of the top layer is the "context vector" of Sutskever et al. (2014)
    and Cho et al. (2014); the per-position outputs are what attention reads (Bahdanau
    et al. 2015 use a bidirectional encoder so every position sees its whole sentence).

    Args:
        vocab_size: `V`, source vocabulary size (id 0 is padding).
        embedding_dim: `E`, size of the token embeddings. Defaults to 128.
        units: `H`, hidden units per direction. Defaults to 256.
        cell: `"gru"` (default) or `"lstm"`.
        bidirectional: read the sentence in both directions and concatenate. Defaults
            to True.
        num_layers: stacked recurrent layers. Defaults to 1.
        dropout: dropout on the embeddings and between layers. Defaults to 0.

    Call arguments:
        source_ids: `[B, S]` int ids, right-padded with 0.
        training: Python bool.

    Returns:
        `(outputs [B, S, D], state [B, D], mask [B, S] bool)` with `D = H` or `2H` when
        bidirectional; `state` is the top layer's final hidden state (both directions
        concatenated).
    """

    def __init__(
        self,
        vocab_size,
        embedding_dim=128,
        units=256,
        cell="gru",
        bidirectional=True,
        num_layers=1,
        dropout=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (
            ("vocab_size", vocab_size),
            ("embedding_dim", embedding_dim),
            ("units", units),
            ("num_layers", num_layers),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if cell not in _CELLS:
            raise ValueError(f"cell must be one of {sorted(_CELLS)}, got {cell!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.cell = cell
        self.bidirectional = bidirectional
        self.num_layers = num_layers
        self.dropout = dropout

    @property
    def output_dim(self):
        return self.units * (2 if self.bidirectional else 1)

    def build(self, source_ids_shape):
        self.embedding = keras.layers.Embedding(
            self.vocab_size, self.embedding_dim, name="embedding", dtype=self.dtype_policy
        )
        self.embedding.build(source_ids_shape)
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self.rnns = []
        input_dim = self.embedding_dim
        for i in range(self.num_layers):
            rnn = _CELLS[self.cell](
                self.units,
                return_sequences=True,
                return_state=True,
                name=f"{self.cell}_{i}",
                dtype=self.dtype_policy,
            )
            if self.bidirectional:
                rnn = keras.layers.Bidirectional(
                    rnn, name=f"bi{self.cell}_{i}", dtype=self.dtype_policy
                )
            rnn.build((None, None, input_dim))
            self.rnns.append(rnn)
            input_dim = self.output_dim

    def call(self, source_ids, training=None):
        mask = padding_mask(source_ids)  # [B, S]
        x = self.dropout_layer(self.embedding(source_ids), training=training)  # [B, S, E]
        for i, rnn in enumerate(self.rnns):
            x, *states = rnn(x, mask=mask, training=training)  # x: [B, S, D]
            if i + 1 < len(self.rnns):
                x = self.dropout_layer(x, training=training)
        # LSTM returns (h, c) per direction; keep the hidden states h.
        per_direction = len(states) // (2 if self.bidirectional else 1)
        hidden = states[::per_direction]
        state = ops.concatenate(hidden, axis=-1) if len(hidden) > 1 else hidden[0]  # [B, D]
        return x, state, mask

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "cell": self.cell,
            "bidirectional": self.bidirectional,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
        }
