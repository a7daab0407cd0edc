"""Recurrent seq2seq models: a fixed context vector, then attention.

`Seq2Seq` is introduced in notebook 02 (seq2seq with a context vector),
`AttentionSeq2Seq` in notebook 04 (Bahdanau attention) and its Luong variants in
notebook 05. Both share the bidirectional GRU encoder and differ only in the decoder.
Shapes use the alphabet of `s2s_keras.layers`; here the encoder outputs and the decoder
state have the same width, `D = H = 2 * units`.
"""

from dataclasses import asdict, dataclass

import keras
from keras import ops

from s2s_keras.checks import fraction, positive_int
from s2s_keras.layers import AttentionDecoder, ContextDecoder, RNNEncoder


@dataclass(frozen=True)
class Seq2SeqConfig:
    """Sizes of a `Seq2Seq`. Defaults suit the toy corpus on a laptop CPU."""

    embedding_dim: int = 64  # toy vocabularies have ~100 words: small embeddings suffice
    units: int = 128  # encoder units per direction; the decoder gets 2x (the context size)
    dropout: float = 0.0  # the toy corpus is noiseless: nothing to regularise against


@dataclass(frozen=True)
class AttentionSeq2SeqConfig:
    """Sizes and attention of an `AttentionSeq2Seq`. Defaults suit the toy corpus on a
    laptop CPU."""

    embedding_dim: int = 64  # toy vocabularies have ~100 words: small embeddings suffice
    units: int = 128  # encoder units per direction; the decoder gets 2x (the memory size)
    dropout: float = 0.0  # the toy corpus is noiseless: nothing to regularise against
    attention: str = "bahdanau"  # or Luong's "dot", "general", "concat" (notebook 05)
    input_feeding: bool = False  # Luong's §3.3: better alignments, but a step-by-step GRU
    scaled: bool = True  # "dot"/"general" scores / √H (Vaswani et al.); Luong's are unscaled


class _RecurrentSeq2Seq(keras.Model):
    """What both recurrent models share: the sizes, the encoder and the config plumbing.

    The encoder is a bidirectional GRU (Bahdanau et al. 2015) with `units` per
    direction, so its outputs and final state have `D = 2 * units`; the decoders get
    `H = 2 * units` so that the sizes match (Luong's `"dot"` score needs `D == H`).
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
        self.source_vocab_size = positive_int("source_vocab_size", source_vocab_size)
        self.target_vocab_size = positive_int("target_vocab_size", target_vocab_size)
        self.embedding_dim = positive_int("embedding_dim", embedding_dim)
        self.units = positive_int("units", units)
        self.dropout = fraction("dropout", dropout)
        self.encoder = RNNEncoder(
            source_vocab_size,
            embedding_dim,
            units,
            dropout=dropout,
            name="encoder",
            dtype=self.dtype_policy,
        )

    @classmethod
    def from_config_object(cls, config, source_vocab_size, target_vocab_size):
        """Build from a frozen config dataclass (`Seq2SeqConfig`, `AttentionSeq2SeqConfig`)."""
        return cls(source_vocab_size, target_vocab_size, **asdict(config))

    def _encode(self, source_ids):
        """`[B, S]` ids → `(outputs [B, S, D], final state [B, D], mask [B, S])`, no dropout."""
        if not self.built:
            # `encode` reaches into the decoder's sublayers, which only `build` creates.
            self.build(((None, None), (None, None)))
        return self.encoder(source_ids, training=False)

    def get_config(self):
        return {
            **super().get_config(),
            "source_vocab_size": self.source_vocab_size,
            "target_vocab_size": self.target_vocab_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "dropout": self.dropout,
        }


@keras.saving.register_keras_serializable(package="s2s_keras")
class Seq2Seq(_RecurrentSeq2Seq):
    """Bidirectional GRU encoder + GRU decoder conditioned on one fixed context vector.

    The RNN Encoder–Decoder of Cho et al. (2014), "Learning Phrase Representations using
    RNN Encoder–Decoder for Statistical Machine Translation" (see `ContextDecoder`); the
    context vector `c` (the encoder's final state, both directions) is all the decoder
    knows of the source, as in Sutskever et al. (2014), "Sequence to Sequence Learning
    with Neural Networks". Long sentences do not fit in it: the motivation for attention.

    There is no attention, so the decoding state has no `"attention"` entry and
    `s2s_keras.decoding.attention_map` does not apply.

    Args:
        source_vocab_size, target_vocab_size: vocabulary sizes (id 0 is padding).
        embedding_dim: embedding size of both sides. Defaults to 64.
        units: encoder GRU units per direction; the context and the decoder have
            `2 * units`. Defaults to 128.
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
        super().__init__(
            source_vocab_size, target_vocab_size, embedding_dim, units, dropout, **kwargs
        )
        self.decoder = ContextDecoder(
            target_vocab_size,
            embedding_dim,
            2 * units,
            dropout=dropout,
            name="decoder",
            dtype=self.dtype_policy,
        )

    def build(self, input_shape):
        source_shape, target_shape = input_shape
        self.encoder.build(source_shape)
        self.decoder.build(target_shape, (None, self.encoder.output_dim))

    def call(self, inputs, training=None):
        source_ids, target_in = inputs
        _, context, _ = self.encoder(source_ids, training=training)  # [B, D]
        state = self.decoder.initial_state(context)
        logits, _ = self.decoder(target_in, context, state, training=training)
        return logits

    def encode(self, source_ids, max_length=None):
        """`[B, S]` ids → the decoding state: the context vector and the GRU state.

        `max_length` is accepted for the common interface and ignored.
        """
        _, context, _ = self._encode(source_ids)
        return {
            "context": context,  # [B, D]
            "hidden": self.decoder.initial_state(context),  # [B, H]
        }

    def decode_step(self, state, last_ids, step=None):
        """One decoding step.

        Args:
            state: from `encode` or a previous `decode_step`.
            last_ids: `[B]` the previous token (`[START]` at step 0).
            step: the step index (unused: the GRU state carries the position).

        Returns:
            `(logits [B, V] float32, new_state)`, `new_state` of the same structure.
        """
        logits, hidden = self.decoder(
            ops.expand_dims(last_ids, 1), state["context"], state["hidden"], training=False
        )
        return logits[:, 0, :], {**state, "hidden": hidden}


@keras.saving.register_keras_serializable(package="s2s_keras")
class AttentionSeq2Seq(_RecurrentSeq2Seq):
    """Bidirectional GRU encoder + GRU decoder that attends over the source.

    With `attention="bahdanau"`: Bahdanau, Cho and Bengio (2015), "Neural Machine
    Translation by Jointly Learning to Align and Translate", with the attentional output
    layer of Luong et al. (2015). With `"dot"`, `"general"` or `"concat"`: the global
    attention of Luong, Pham and Manning (2015), "Effective Approaches to
    Attention-based Neural Machine Translation" (on a bidirectional GRU encoder instead
    of their stacked LSTMs), optionally with their input feeding (see `AttentionDecoder`).

    Args:
        source_vocab_size, target_vocab_size: vocabulary sizes (id 0 is padding).
        embedding_dim: embedding size of both sides. Defaults to 64.
        units: encoder GRU units per direction; the decoder has `2 * units`. Defaults to 128.
        dropout: dropout rate. Defaults to 0.
        attention: `"bahdanau"` (default), `"dot"`, `"general"` or `"concat"`.
        input_feeding: feed the previous attentional state to the decoder GRU (Luong et
            al. 2015, §3.3). Defaults to False.
        scaled: divide the `"dot"` and `"general"` scores by `√H` (`LuongAttention`).
            Defaults to True; a model saved without this setting loads unscaled, as it
            was trained.

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
        attention="bahdanau",
        input_feeding=False,
        scaled=True,
        **kwargs,
    ):
        super().__init__(
            source_vocab_size, target_vocab_size, embedding_dim, units, dropout, **kwargs
        )
        self.attention = attention
        self.input_feeding = input_feeding
        self.scaled = scaled
        self.decoder = AttentionDecoder(
            target_vocab_size,
            embedding_dim,
            2 * units,
            dropout=dropout,
            attention=attention,
            input_feeding=input_feeding,
            scaled=scaled,
            name="decoder",
            dtype=self.dtype_policy,
        )

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

    def encode(self, source_ids, max_length=None):
        """`[B, S]` ids → the decoding state: memory, its mask and keys, decoder state.

        `max_length` is accepted for the common interface and ignored.
        """
        memory, enc_state, mask = self._encode(source_ids)
        state = {
            "memory": memory,  # [B, S, D]
            "mask": mask,  # [B, S]
            # [B, S, A]: the score's projected keys ("dot": `memory` itself)
            "keys": self.decoder.attention.project_keys(memory),
            "attention": ops.zeros(ops.shape(mask), "float32"),  # [B, S], filled per step
        }
        if self.input_feeding:
            state["hidden"], state["feed"] = self.decoder.initial_state(enc_state)  # [B, H]
        else:
            state["hidden"] = self.decoder.initial_state(enc_state)  # [B, H]
        return state

    def decode_step(self, state, last_ids, step=None):
        """One decoding step.

        Args:
            state: from `encode` or a previous `decode_step`.
            last_ids: `[B]` the previous token (`[START]` at step 0).
            step: the step index (unused: the GRU state carries the position).

        Returns:
            `(logits [B, V] float32, new_state)`; `new_state["attention"]` is `[B, S]`,
            and with input feeding `new_state["feed"]` is the attentional state `[B, H]`.
        """
        decoder_state = (state["hidden"], state["feed"]) if self.input_feeding else state["hidden"]
        logits, decoder_state, weights = self.decoder(
            ops.expand_dims(last_ids, 1),
            state["memory"],
            state["mask"],
            decoder_state,
            keys=state["keys"],
            training=False,
        )
        new_state = {**state, "attention": weights[:, 0, :]}
        if self.input_feeding:
            new_state["hidden"], new_state["feed"] = decoder_state
        else:
            new_state["hidden"] = decoder_state
        return logits[:, 0, :], new_state

    def get_config(self):
        return {
            **super().get_config(),
            "attention": self.attention,
            "input_feeding": self.input_feeding,
            "scaled": self.scaled,
        }

    @classmethod
    def from_config(cls, config):
        # Models saved before `scaled` existed computed Luong's unscaled scores.
        return super().from_config({"scaled": False, **config})
