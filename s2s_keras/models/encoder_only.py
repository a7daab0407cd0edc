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

Shapes: `B` batch, `S` source length, `T` target length, `D` encoder output size
(`2 * units`), `E` sentence-embedding size, `N` sentences in an evaluation set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from s2s_keras.layers import RNNEncoder
from s2s_keras.text import Tokenizer
from s2s_keras.types import ParallelText

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
        y_true: ignored; the labels are the diagonal. `make_retrieval_dataset` yields
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
def in_batch_accuracy(y_true, y_pred):
    """Share of sources whose translation scores highest among the batch's targets.

    Args:
        y_true: ignored; the labels are the diagonal.
        y_pred: `[B, B]` logits.

    Returns:
        `[B]` float32, 1.0 where row `i`'s argmax is `i` (ties go to the first column).
    """
    del y_true
    best = ops.argmax(y_pred, axis=1)  # [B]
    return ops.cast(ops.equal(best, ops.arange(ops.shape(y_pred)[0], dtype=best.dtype)), "float32")


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


def make_retrieval_dataset(
    data: ParallelText,
    source_tokenizer: Tokenizer,
    target_tokenizer: Tokenizer,
    *,
    batch_size: int = 64,
    seed: int | None = None,
    max_length: int = 64,
) -> tf.data.Dataset:
    """Shuffled batches of `((source_ids, target_ids), zeros)` for `DualEncoder.fit`.

    Every batch is full (`drop_remainder=True`): the batch is the set of candidates, so
    a small last batch would be an easier task with a different loss scale. There is no
    length bucketing: in a bucketed batch every negative has about the length of the
    right answer, and that would hide the easiest cue of all (length) from training,
    only for the model to meet it at evaluation.

    In-batch negatives assume that no two pairs of a batch share a translation; the toy
    corpus has none, and duplicates in real corpora are rare enough to be harmless noise.

    Args:
        data: the sentence pairs, at least `batch_size` of them.
        source_tokenizer, target_tokenizer: tokenizers of each side.
        batch_size: `B`, pairs per batch, each other's negatives. Defaults to 64.
        seed: shuffle seed; `None` for a different order each run.
        max_length: longest sequence kept, in tokens including `[START]` and `[END]`;
            longer ones are cut. Defaults to 64.

    Returns:
        A `tf.data.Dataset` of `((int64 [B, S], int64 [B, T]), float32 [B])`, padded
        with 0; the zeros are the (ignored) labels of `in_batch_softmax_loss`.
    """
    if batch_size < 2:
        raise ValueError(f"batch_size must be >= 2 (in-batch negatives), got {batch_size!r}")
    if len(data) < batch_size:
        raise ValueError(
            f"got {len(data)} sentence pairs, fewer than one full batch of {batch_size}; "
            "pass more pairs or a smaller batch_size"
        )

    def tokenize(src, tgt):
        return (
            source_tokenizer.tokenize(src)[:, :max_length],
            target_tokenizer.tokenize(tgt)[:, :max_length],
        )

    ds = (
        tf.data.Dataset.from_tensor_slices((list(data.source), list(data.target)))
        .batch(1024)
        .map(tokenize, num_parallel_calls=tf.data.AUTOTUNE)
        .unbatch()
        # unbatch leaves rank-1 "ragged" specs (ragged_rank 0) that padded_batch rejects.
        .map(lambda s, t: (tf.identity(s), tf.identity(t)))
        .cache()
        .shuffle(len(data), seed=seed, reshuffle_each_iteration=True)  # see make_dataset
        .padded_batch(batch_size, padded_shapes=([None], [None]), drop_remainder=True)
        .map(lambda s, t: ((s, t), tf.zeros([batch_size], tf.float32)))
        # `unbatch` loses the length; stating it gives Keras an epoch length from the start.
        .apply(tf.data.experimental.assert_cardinality(len(data) // batch_size))
    )
    return ds.prefetch(tf.data.AUTOTUNE)


def _embed_all(embed, tokenizer: Tokenizer, sentences, batch_size: int) -> np.ndarray:
    """`N` sentences → `[N, E]` float64 embeddings, in order, `batch_size` at a time."""
    chunks = []
    for i in range(0, len(sentences), batch_size):
        ids = tokenizer.tokenize(list(sentences[i : i + batch_size])).to_tensor()  # [b, S]
        chunks.append(keras.ops.convert_to_numpy(embed(ids)).astype(np.float64))
    return np.concatenate(chunks, axis=0)


def retrieval_accuracy(
    model,
    data: ParallelText,
    source_tokenizer: Tokenizer,
    target_tokenizer: Tokenizer,
    batch_size: int = 256,
) -> float:
    """Top-1 accuracy of finding each source's translation among all targets of `data`.

    Every source and every target is embedded (`model.embed_source`, `model.embed_target`,
    no dropout); source `i` retrieves the target of highest cosine, ties going to the
    lowest index. It counts as right when that target's text is the reference `data.target[i]`,
    so a duplicate of the reference elsewhere in `data` is not held against the model.
    Chance is about `1 / N`. The result depends only on the model and `data`: not on
    `batch_size`, nor on any random state.

    Args:
        model: a `DualEncoder`, or anything with `embed_source` and `embed_target` mapping
            `[B, S]` int ids to `[B, E]` unit vectors.
        data: the `N` pairs, each source's translation among the `N` candidates.
        source_tokenizer, target_tokenizer: tokenizers of each side.
        batch_size: sentences embedded at once. Defaults to 256.

    Returns:
        A float in `[0, 1]`.
    """
    hits = retrieval_hits(model, data, source_tokenizer, target_tokenizer, batch_size)
    return float(np.mean(hits))


def retrieval_hits(
    model,
    data: ParallelText,
    source_tokenizer: Tokenizer,
    target_tokenizer: Tokenizer,
    batch_size: int = 256,
) -> np.ndarray:
    """Per pair, whether its source retrieves its translation among all targets of `data`.

    The sentence-level verdicts behind `retrieval_accuracy` (same rule, same arguments):
    source `i` is right when the target of highest cosine has the text of `data.target[i]`.

    Returns:
        `[N]` bool array, aligned with `data`.
    """
    if len(data) == 0:
        raise ValueError("cannot measure retrieval on 0 sentence pairs")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    sources = _embed_all(model.embed_source, source_tokenizer, data.source, batch_size)  # [N, E]
    targets = _embed_all(model.embed_target, target_tokenizer, data.target, batch_size)  # [N, E]
    # Rows a chunk at a time: the full [N, N] matrix of a large test set need not fit.
    best = np.concatenate(
        [
            np.argmax(sources[i : i + batch_size] @ targets.T, axis=1)  # [b, N] → [b]
            for i in range(0, len(data), batch_size)
        ]
    )
    references = np.asarray(data.target, dtype=object)
    return references[best] == references  # [N] bool


def retrieval_by_length(
    model,
    data: ParallelText,
    source_tokenizer: Tokenizer,
    target_tokenizer: Tokenizer,
    edges: Sequence[int] = (0, 5, 10, 15, 20),
    batch_size: int = 256,
) -> list[dict]:
    """Top-1 retrieval accuracy per bucket of source length (whitespace-separated words).

    Every source still searches among all `N` targets of `data`, so the buckets differ
    only in the sentences asked about, not in how many candidates they face. Notebook 01
    uses it to show what one fixed vector per sentence keeps as sentences grow.

    Args:
        model, data, source_tokenizer, target_tokenizer, batch_size: as in
            `retrieval_accuracy`.
        edges: increasing bucket lower bounds; the last bucket is open-ended.

    Returns:
        One dict per non-empty bucket: `{"bucket": "5-9", "min": 5, "max": 9,
        "sentences": n, "accuracy": float}` (`max` is None for the open bucket).
    """
    edges = list(edges)
    if not edges or any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        raise ValueError(f"edges must be a non-empty increasing sequence, got {edges!r}")
    hits = retrieval_hits(model, data, source_tokenizer, target_tokenizer, batch_size)  # [N]
    lengths = np.array([len(s.split()) for s in data.source])  # [N]
    rows = []
    for low, high in zip(edges, edges[1:] + [None], strict=True):
        picked = (lengths >= low) & (lengths < high if high is not None else True)
        if not picked.any():
            continue
        rows.append(
            {
                "bucket": f"{low}+" if high is None else f"{low}-{high - 1}",
                "min": low,
                "max": None if high is None else high - 1,
                "sentences": int(picked.sum()),
                "accuracy": float(hits[picked].mean()),
            }
        )
    return rows
