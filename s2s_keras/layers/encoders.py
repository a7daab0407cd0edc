"""The recurrent encoder.

Introduced in notebook 01 (encoder-only models). Shapes use the alphabet of
`s2s_keras.layers`.
"""

import keras
from keras import ops

from s2s_keras.checks import fraction, positive_int, without_removed_options
from s2s_keras.layers.masking import padding_mask


@keras.saving.register_keras_serializable(package="s2s_keras")
class RNNEncoder(keras.layers.Layer):
    """Embedding + a bidirectional GRU over padded ids.

    The final state is the "context vector" of Sutskever et al. (2014) and Cho et al.
    (2014); the per-position outputs are what attention reads. The GRU is the one Cho et
    al. (2014) introduce, and it reads in both directions, as in Bahdanau et al. (2015),
    so that every position sees its whole sentence.

    Args:
        vocab_size: `V`, source vocabulary size (id 0 is padding).
        embedding_dim: `E`, size of the token embeddings. Defaults to 128.
        units: GRU units per direction; outputs and state have `D = 2 * units`.
            Defaults to 256.
        dropout: dropout on the embeddings. Defaults to 0.

    Call arguments:
        source_ids: `[B, S]` int ids, right-padded with 0.
        training: Python bool.

    Returns:
        `(outputs [B, S, D], state [B, D], mask [B, S] bool)`: `state` concatenates the
        forward direction's last hidden state and the backward direction's (its output
        at the first token); `mask` is True on real tokens.
    """

    def __init__(self, vocab_size, embedding_dim=128, units=256, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = positive_int("vocab_size", vocab_size)
        self.embedding_dim = positive_int("embedding_dim", embedding_dim)
        self.units = positive_int("units", units)
        self.dropout = fraction("dropout", dropout)

    @property
    def output_dim(self):
        """`D`, the width of the outputs and of the state: `2 * units`."""
        return 2 * self.units

    def build(self, source_ids_shape):
        self.embedding = keras.layers.Embedding(
            self.vocab_size, self.embedding_dim, name="embedding", dtype=self.dtype_policy
        )
        self.embedding.build(source_ids_shape)
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        gru = keras.layers.GRU(
            self.units,
            return_sequences=True,
            return_state=True,
            name="gru_0",
            dtype=self.dtype_policy,
        )
        rnn = keras.layers.Bidirectional(gru, name="bigru_0", dtype=self.dtype_policy)
        rnn.build((None, None, self.embedding_dim))
        # A list of one: saved weights are keyed by it (`rnns/bidirectional/...`).
        self.rnns = [rnn]

    def call(self, source_ids, training=None):
        mask = padding_mask(source_ids)  # [B, S]
        x = self.dropout_layer(self.embedding(source_ids), training=training)  # [B, S, E]
        outputs, forward, backward = self.rnns[0](x, mask=mask, training=training)
        state = ops.concatenate([forward, backward], axis=-1)  # [B, D]
        return outputs, state, mask  # [B, S, D], [B, D], [B, S]

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "dropout": self.dropout,
        }

    @classmethod
    def from_config(cls, config):
        removed = {"cell": "gru", "bidirectional": True, "num_layers": 1}
        return cls(**without_removed_options(cls.__name__, config, removed))
