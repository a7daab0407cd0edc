"""An encoder-only model: a dual encoder that retrieves translations.

Introduced in notebook 01 (encoder-only models). Each sentence is read by a recurrent
encoder and squeezed into one fixed vector, the "context vector" of Sutskever et al.
(2014) and Cho et al. (2014). Before asking a decoder to translate from that vector
(notebook 02), notebook 01 asks a simpler question: does the vector keep enough of the
sentence to pick its translation out of a crowd? Two encoders, one per language, are
trained so that a sentence and its translation get nearby vectors (Guo et al. 2018,
"Effective Parallel Corpus Mining using Bilingual Sentence Embeddings"; Yang et al.
2019, "Improving Multilingual Sentence Embedding using Bi-directional Dual Encoder with
Additive Margin Softmax"), and measured by top-1 translation retrieval.

The model and the loss it is trained with are here; its batches come from
`s2s_keras.pipeline.make_retrieval_dataset`, its metrics (`in_batch_accuracy`,
`retrieval_accuracy`, `retrieval_by_length`) from `s2s_keras.evaluation`. A `.keras`
file of a model compiled with `in_batch_accuracy` loads once `s2s_keras.evaluation` is
imported, which registers the metric (or with `compile=False`).

Shapes: `B` batch, `S` source length, `T` target length, `D` encoder output size
(`2 * units`), `E` sentence-embedding size.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import keras
from keras import ops

from s2s_keras.layers import RNNEncoder

POOLINGS = ("final", "mean")
# CLIP's cap on the learned scale (Radford et al. 2021): beyond it the softmax is nearly
# an argmax, and a scale still growing only makes training unstable.
MAX_SCALE = 100.0


@dataclass(frozen=True)
class DualEncoderConfig:
    """Sizes and choices of a `DualEncoder`. Defaults suit the toy corpus on a laptop CPU."""

    embedding_dim: int = 128  # E, the sentence vector; what retrieval compares
    token_dim: int = 64  # toy vocabularies have ~100 words: small word embeddings suffice
    units: int = 128  # GRU units per direction, as in `Seq2SeqConfig`: D = 256
    pooling: str = "final"  # the context vector; "mean" of the outputs is the usual fix
    dropout: float = 0.0  # the toy corpus is noiseless: nothing to regularise against
    # Initial logit scale (inverse temperature). Cosines lie in [-1, 1]: unscaled, the
    # softmax over a batch stays nearly flat and the gradients are weak.
    scale: float = 10.0
    # Learned, as in CLIP (Radford et al. 2021): how sharp the softmax should be changes
    # as the embeddings improve, and one scalar cannot overfit. Retrieval accuracy, an
    # argmax of cosines, does not depend on it.
    learn_scale: bool = True


@keras.saving.register_keras_serializable(package="s2s_keras")
def in_batch_softmax_loss(y_true, y_pred):
    """Symmetric in-batch softmax (InfoNCE) loss over a `[B, B]` similarity matrix.

    Row `i` of `y_pred` scores source `i` against every target of the batch; its
    translation, target `i`, is on the diagonal and the other `B - 1` targets are the
    negatives (Henderson et al. 2017, "Efficient Natural Language Response Suggestion for
    Smart Reply"; van den Oord et al. 2018 call it InfoNCE). The loss averages the cross
    entropy of retrieving the target from the source (rows) and the source from the target
    (columns), as in Yang et al. (2019) and CLIP (Radford et al. 2021).

    Args:
        y_true: ignored; the labels are the diagonal. `pipeline.make_retrieval_dataset` yields
            zeros so that `Model.fit` has something to pass.
        y_pred: `[B, B]` logits, e.g. the output of `DualEncoder`.

    Returns:
        `[B]` float32: pair `i`'s row and column cross entropies, averaged. Their mean
        (Keras' default reduction) is the symmetric InfoNCE loss.
    """
    del y_true
    logits = ops.cast(y_pred, "float32")  # [B, B]
    positives = ops.diagonal(logits)  # [B]
    source_to_target = ops.logsumexp(logits, axis=1) - positives  # [B]
    target_to_source = ops.logsumexp(logits, axis=0) - positives  # [B]
    return 0.5 * (source_to_target + target_to_source)


@keras.saving.register_keras_serializable(package="s2s_keras")
class DualEncoder(keras.Model):
    """Two bidirectional GRU encoders that map a sentence and its translation close together.

    Each side (Guo et al. 2018; Yang et al. 2019) is an `RNNEncoder` (a bidirectional GRU,
    Cho et al. 2014) whose sentence vector is its final state, the context vector of
    Sutskever et al. (2014) and Cho et al. (2014), or the mean of its outputs over the real
    tokens; a linear projection to `E` and L2 normalisation follow, so the dot product of
    two embeddings is their cosine. `call` returns the `[B, B]` cosines of every source
    against every target of the batch, times a scale: train it with
    `in_batch_softmax_loss`, the other pairs of the batch being the negatives.

    Args:
        source_vocab_size, target_vocab_size: vocabulary sizes (id 0 is padding).
        embedding_dim: `E`, size of the sentence embeddings. Defaults to 128.
        token_dim: size of the word embeddings of both encoders. Defaults to 64.
        units: GRU units per direction; `D = 2 * units`. Defaults to 128.
        pooling: `"final"` (default), the encoder's final state, or `"mean"`, the mean
            of its outputs over the real (non-padding) tokens.
        dropout: dropout rate inside the encoders. Defaults to 0.
        scale: the initial scale of the logits, > 0. Defaults to 10.
        learn_scale: train the scale (its logarithm, so it stays positive; capped at
            `MAX_SCALE`). Defaults to True.

    Call arguments:
        inputs: `(source_ids [B, S], target_ids [B, T])` int ids, right-padded with 0;
            row `i` of both is a translation pair.
        training: Python bool.

    Returns:
        Logits `[B, B]` float32: `scale * cos(source_i, target_j)`.

    Example:

    >>> model = DualEncoder(20, 30, embedding_dim=8, token_dim=8, units=4)
    >>> source = np.array([[2, 5, 6, 3], [2, 7, 3, 0]])
    >>> target = np.array([[2, 9, 3], [2, 11, 3]])
    >>> tuple(model((source, target)).shape), tuple(model.embed_source(source).shape)
    ((2, 2), (2, 8))
    """

    def __init__(
        self,
        source_vocab_size,
        target_vocab_size,
        embedding_dim=128,
        token_dim=64,
        units=128,
        pooling="final",
        dropout=0.0,
        scale=10.0,
        learn_scale=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(embedding_dim, int) or embedding_dim < 1:
            raise ValueError(f"embedding_dim must be a positive integer, got {embedding_dim!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if not 0.0 < scale <= MAX_SCALE:
            raise ValueError(f"scale must be in (0, {MAX_SCALE}], got {scale!r}")
        self.source_vocab_size = source_vocab_size
        self.target_vocab_size = target_vocab_size
        self.embedding_dim = embedding_dim
        self.token_dim = token_dim
        self.units = units
        self.pooling = pooling
        self.dropout = dropout
        self.scale = scale
        self.learn_scale = learn_scale
        self.source_encoder, self.target_encoder = (
            RNNEncoder(
                vocab_size,
                token_dim,
                units,
                dropout=dropout,
                name=f"{side}_encoder",
                dtype=self.dtype_policy,
            )
            for side, vocab_size in (("source", source_vocab_size), ("target", target_vocab_size))
        )
        self.source_projection, self.target_projection = (
            keras.layers.Dense(embedding_dim, name=f"{side}_projection", dtype=self.dtype_policy)
            for side in ("source", "target")
        )

    @classmethod
    def from_config_object(cls, config: DualEncoderConfig, source_vocab_size, target_vocab_size):
        """Build from a `DualEncoderConfig`."""
        return cls(source_vocab_size, target_vocab_size, **asdict(config))

    def build(self, input_shape):
        source_shape, target_shape = input_shape
        self.source_encoder.build(source_shape)
        self.target_encoder.build(target_shape)
        self.source_projection.build((None, self.source_encoder.output_dim))
        self.target_projection.build((None, self.target_encoder.output_dim))
        self.log_scale = self.add_weight(
            name="log_scale",
            shape=(),
            initializer=keras.initializers.Constant(math.log(self.scale)),
            trainable=self.learn_scale,
            dtype="float32",
            autocast=False,  # the logits are float32: keep its precision under mixed_float16
        )

    def _embed(self, encoder, projection, ids, training):
        if not self.built:
            self.build(((None, None), (None, None)))
        outputs, state, mask = encoder(ids, training=training)  # [B, S, D], [B, D], [B, S]
        if self.pooling == "final":
            pooled = state  # [B, D]
        else:
            # Outputs at padding positions are not zero: average over real tokens only.
            weights = ops.cast(mask, outputs.dtype)[..., None]  # [B, S, 1]
            total = ops.sum(outputs * weights, axis=1)  # [B, D]
            pooled = total / ops.maximum(ops.sum(weights, axis=1), 1.0)
        vectors = ops.cast(projection(pooled), "float32")  # [B, E]
        # L2 normalisation in float32: the squared norm of E float16 values can overflow.
        norm = ops.sqrt(ops.maximum(ops.sum(ops.square(vectors), -1, keepdims=True), 1e-12))
        return vectors / norm  # [B, E]

    def embed_source(self, source_ids, training=False):
        """`[B, S]` source ids → `[B, E]` float32 unit vectors."""
        return self._embed(self.source_encoder, self.source_projection, source_ids, training)

    def embed_target(self, target_ids, training=False):
        """`[B, T]` target ids → `[B, E]` float32 unit vectors."""
        return self._embed(self.target_encoder, self.target_projection, target_ids, training)

    def logit_scale(self):
        """The current scale of the logits, a float32 scalar in `(0, MAX_SCALE]`."""
        return ops.minimum(ops.exp(self.log_scale), MAX_SCALE)

    def call(self, inputs, training=None):
        source_ids, target_ids = inputs
        sources = self.embed_source(source_ids, training=training)  # [B, E]
        targets = self.embed_target(target_ids, training=training)  # [B, E]
        cosines = ops.matmul(sources, ops.transpose(targets))  # [B, B]
        return self.logit_scale() * cosines

    def get_config(self):
        return {
            **super().get_config(),
            "source_vocab_size": self.source_vocab_size,
            "target_vocab_size": self.target_vocab_size,
            "embedding_dim": self.embedding_dim,
            "token_dim": self.token_dim,
            "units": self.units,
            "pooling": self.pooling,
            "dropout": self.dropout,
            "scale": self.scale,
            "learn_scale": self.learn_scale,
        }
