"""Recurrent seq2seq models.

Introduced in notebook 04 (Bahdanau attention).
"""

from dataclasses import asdict, dataclass

import keras
from keras import ops

from s2s_keras.layers import AttentionDecoder, RNNEncoder


@dataclass(frozen=True)
class AttentionSeq2SeqConfig:
    """Sizes of an `AttentionSeq2Seq`. Defaults suit the toy corpus on a laptop CPU."""

    embedding_dim: int = 64  # toy vocabularies have ~100 words: small embeddings suffice
    units: int = 128  # encoder units per direction; the decoder gets 2x (the memory size)
    dropout: float = 0.0  # the toy corpus is noiseless: nothing to regularise against


@keras.saving.register_keras_serializable(package="s2s_keras")
class AttentionSeq2Seq(keras.Model):
    """Bidirectional GRU encoder + GRU decoder with additive attention.

    Bahdanau, Cho and Bengio (2015), "Neural Machine Translation by Jointly Learning to
    Align and Translate", with the attentional output layer of Luong et al. (2015).

    Args:
        source_vocab_size, target_vocab_size: vocabulary sizes (id 0 is padding).
        embedding_dim: embedding size of both sides. Defaults to 64.
        units: encoder GRU units per direction; the decoder has `2 * units`. Defaults to 128.
        dropout: dropout rate. Defaults to 0.

    Call arguments:
        inputs: `(source_ids [B, S], target_in [B, T])` int ids, padded with 0.
        training: Python bool.

    Returns:
        Logits `[B, T, V]` float32.
    """

    def __init__(
        self,
        source_vocab_size,
        target_vocab_size,
        embedding_dim=64,
        units=128,
        dropout=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.source_vocab_size = source_vocab_size
        self.target_vocab_size = target_vocab_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.dropout = dropout
        self.encoder = RNNEncoder(
            source_vocab_size,
            embedding_dim,
            units,
            bidirectional=True,
            dropout=dropout,
            name="encoder",
            dtype=self.dtype_policy,
        )
        self.decoder = AttentionDecoder(
            target_vocab_size,
            embedding_dim,
            2 * units,
            dropout=dropout,
            name="decoder",
            dtype=self.dtype_policy,
        )

    @classmethod
    def from_config_object(
        cls, config: AttentionSeq2SeqConfig, source_vocab_size, target_vocab_size
    ):
        return cls(source_vocab_size, target_vocab_size, **asdict(config))

    def build(self, input_shape):
        source_shape, target_shape = input_shape
        self.encoder.build(source_shape)
        self.decoder.build(target_shape, (None, None, self.encoder.output_dim))

    def call(self, inputs, training=None):
        source_ids, target_in = inputs
        memory, enc_state, mask = self.encoder(source_ids, training=training)
        state = self.decoder.initial_state(enc_state)
        logits, _, _ = self.decoder(target_in, memory, mask, state, training=training)
        return logits

    def encode(self, source_ids):
        """`[B, S]` ids → the decoding state: memory, its mask and keys, GRU state."""
        if not self.built:
            # `encode` reaches into the decoder's sublayers, which only `build` creates.
            self.build(((None, None), (None, None)))
        memory, enc_state, mask = self.encoder(source_ids, training=False)
        return {
            "memory": memory,  # [B, S, D]
            "mask": mask,  # [B, S]
            "keys": self.decoder.attention.project_keys(memory),  # [B, S, A]
            "hidden": self.decoder.initial_state(enc_state),  # [B, H]
            "attention": ops.zeros(ops.shape(mask), "float32"),  # [B, S], filled per step
        }

    def decode_step(self, state, last_ids, step=None):
        """One decoding step.

        Args:
            state: from `encode` or a previous `decode_step`.
            last_ids: `[B]` the previous token (`[START]` at step 0).
            step: the step index (unused: the GRU state carries the position).

        Returns:
            `(logits [B, V] float32, new_state)`; `new_state["attention"]` is `[B, S]`.
        """
        logits, hidden, weights = self.decoder(
            ops.expand_dims(last_ids, 1),
            state["memory"],
            state["mask"],
            state["hidden"],
            keys=state["keys"],
            training=False,
        )
        new_state = {**state, "hidden": hidden, "attention": weights[:, 0, :]}
        return logits[:, 0, :], new_state

    def get_config(self):
        return {
            **super().get_config(),
            "source_vocab_size": self.source_vocab_size,
            "target_vocab_size": self.target_vocab_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "dropout": self.dropout,
        }
