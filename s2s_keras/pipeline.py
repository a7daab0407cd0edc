"""tf.data input pipelines: teacher-forced seq2seq training and translation retrieval.

Introduced in notebook 00 (data and tokenization); notebook 01 trains its dual encoder
on `make_retrieval_dataset`, notebook 08 measures what bucketing buys. The order of the
stages of `make_dataset` matters:

    pairs → tokenize (batched) → truncate → cache → shuffle → bucket by length
          → pad with 0 → split target into (input, output) → prefetch

Tokenizing before `cache` means the tokenizer runs once, not once per epoch; shuffling
after `cache` gives a new order every epoch; bucketing puts sentences of similar length
in one batch so little compute is spent on padding. `make_retrieval_dataset` shares
the stages up to the shuffle, then makes full, unbucketed batches.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from s2s_keras.text import Tokenizer
from s2s_keras.types import ParallelText

DEFAULT_BOUNDARIES = (8, 12, 16, 20, 24, 32, 48, 64, 96, 128)


def make_dataset(
    data: ParallelText,
    source_tokenizer: Tokenizer,
    target_tokenizer: Tokenizer,
    *,
    batch_size: int = 64,
    max_length: int = 64,
    shuffle: bool = True,
    bucket: bool = True,
    boundaries: Sequence[int] = DEFAULT_BOUNDARIES,
    seed: int | None = None,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """Batches of `((source, target_in), target_out)` for `Model.fit`.

    `target_in` is the target without its last token (it starts with `[START]`),
    `target_out` the target without its first (it ends with `[END]`): the model predicts
    token `t + 1` from tokens `≤ t` (teacher forcing).

    Args:
        data: the sentence pairs.
        source_tokenizer, target_tokenizer: tokenizers of each side.
        batch_size: sentences per batch.
        max_length: longest sequence kept, in tokens including the markers; longer
            sequences are truncated (the target keeps its `[END]`).
        shuffle: reshuffle every epoch (with `seed`).
        bucket: group sentences of similar length (less padding); `False` gives plain
            `padded_batch` over the (shuffled) stream.
        boundaries: bucket boundaries in tokens; those ≥ `max_length` are ignored.
        seed: shuffle seed; `None` for a different order each run.
        drop_remainder: drop incomplete batches (fixed batch dimension).

    Returns:
        A `tf.data.Dataset` of `((int64 [B, S], int64 [B, T]), int64 [B, T])`, padded with 0.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    if max_length < 3:
        raise ValueError(
            f"max_length must be >= 3 (room for [START], a token and [END]), got {max_length!r}"
        )
    if len(data) == 0:
        raise ValueError("cannot make a dataset from 0 sentence pairs")

    ds = _token_pairs(data, source_tokenizer, target_tokenizer, max_length, keep_target_end=True)
    if shuffle:
        ds = _shuffle_all(ds, len(data), seed)
    return _batches(ds, batch_size, max_length, bucket, boundaries, drop_remainder)


def make_sampled_dataset(
    parts: Sequence[ParallelText],
    probabilities: Sequence[float],
    source_tokenizer: Tokenizer,
    target_tokenizer: Tokenizer,
    *,
    batch_size: int = 64,
    max_length: int = 64,
    seed: int | None = None,
) -> tf.data.Dataset:
    """An endless stream of bucketed batches, each pair drawn from a part at random.

    A multilingual model trains on such a mixture (notebook 10): each pair comes from
    part `i` with probability `probabilities[i]`, and within a part in a reshuffled
    order that restarts when the part runs out. Batches are bucketed as in
    `make_dataset`, so one batch mixes the parts. Count training in steps.

    Args:
        parts: the sentence pairs of each part (e.g. of each direction), none empty.
        probabilities: the chance of each part, summing to 1.
        source_tokenizer, target_tokenizer: tokenizers of each side.
        batch_size, max_length, seed: as in `make_dataset`.

    Returns:
        A repeating `tf.data.Dataset` of `((int64 [B, S], int64 [B, T]), int64 [B, T])`.
    """
    if len(parts) != len(probabilities) or not parts:
        raise ValueError(
            f"need one probability per part, got {len(parts)} parts and "
            f"{len(probabilities)} probabilities"
        )
    if any(len(p) == 0 for p in parts):
        raise ValueError("cannot sample from a part with 0 sentence pairs")
    streams = [
        _shuffle_all(
            _token_pairs(p, source_tokenizer, target_tokenizer, max_length, keep_target_end=True),
            len(p),
            None if seed is None else seed + i,
        ).repeat()
        for i, p in enumerate(parts)
    ]
    ds = tf.data.Dataset.sample_from_datasets(
        streams, weights=[float(w) for w in probabilities], seed=seed
    )
    return _batches(ds, batch_size, max_length, True, DEFAULT_BOUNDARIES, False)


def _batches(ds, batch_size, max_length, bucket, boundaries, drop_remainder):
    """`(source, target)` id pairs → padded, teacher-forced, prefetched batches."""
    padded = (tf.TensorShape([None]), tf.TensorShape([None]))
    if bucket:
        bounds = [b for b in boundaries if b < max_length] + [max_length + 1]
        ds = ds.bucket_by_sequence_length(
            element_length_func=lambda s, t: tf.maximum(tf.shape(s)[0], tf.shape(t)[0]),
            bucket_boundaries=bounds,
            bucket_batch_sizes=[batch_size] * (len(bounds) + 1),
            padded_shapes=padded,
            drop_remainder=drop_remainder,
        )
    else:
        ds = ds.padded_batch(batch_size, padded_shapes=padded, drop_remainder=drop_remainder)
    return ds.map(_teacher_forcing, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


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

    Notebook 01 trains its dual encoder on them. The stages are those of `make_dataset`
    up to the shuffle; then every batch is full (`drop_remainder=True`): the batch is the
    set of candidates, so a small last batch would be an easier task with a different
    loss scale. There is no length bucketing: in a bucketed batch every negative has
    about the length of the right answer, and that would hide the easiest cue of all
    (length) from training, only for the model to meet it at evaluation.

    In-batch negatives assume that no two pairs of a batch share a translation; the toy
    corpus has none, and duplicates in real corpora are rare enough to be harmless noise.

    Args:
        data: the sentence pairs, at least `batch_size` of them.
        source_tokenizer, target_tokenizer: tokenizers of each side.
        batch_size: `B`, pairs per batch, each other's negatives. Defaults to 64.
        seed: shuffle seed; `None` for a different order each run.
        max_length: longest sequence kept, in tokens including `[START]` and `[END]`;
            longer ones are cut (both sides alike). Defaults to 64.

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
    ds = _token_pairs(data, source_tokenizer, target_tokenizer, max_length, keep_target_end=False)
    ds = (
        _shuffle_all(ds, len(data), seed)
        .padded_batch(batch_size, padded_shapes=([None], [None]), drop_remainder=True)
        .map(lambda s, t: ((s, t), tf.zeros([batch_size], tf.float32)))
        # `unbatch` loses the length; stating it gives Keras an epoch length from the start.
        .apply(tf.data.experimental.assert_cardinality(len(data) // batch_size))
    )
    return ds.prefetch(tf.data.AUTOTUNE)


def _token_pairs(data, source_tokenizer, target_tokenizer, max_length, *, keep_target_end):
    """The cached stream of `(int64 [S], int64 [T])` id pairs, at most `max_length` long.

    `keep_target_end` truncates the target inside the sentence, so that it still ends
    with `[END]` (exactly once), the token teacher forcing learns to stop with; without
    it both sides are cut alike.
    """

    def tokenize(src, tgt):
        s = source_tokenizer.tokenize(src)[:, :max_length]
        t = target_tokenizer.tokenize(tgt)
        if keep_target_end:
            t = tf.concat([t[:, :-1][:, : max_length - 1], t[:, -1:]], axis=1)
        else:
            t = t[:, :max_length]
        return s, t

    return (
        tf.data.Dataset.from_tensor_slices((list(data.source), list(data.target)))
        .batch(1024)
        .map(tokenize, num_parallel_calls=tf.data.AUTOTUNE)
        .unbatch()
        # unbatch leaves rank-1 "ragged" specs (ragged_rank 0) that padded_batch rejects.
        .map(_dense, num_parallel_calls=tf.data.AUTOTUNE)
        .cache()
    )


def _shuffle_all(ds, size, seed):
    """`ds` reshuffled every epoch, over a buffer of the whole split.

    Tatoeba files are sorted by length, and a smaller buffer would start every epoch with
    the shortest sentences (a run stopped by a time budget would never see the long
    ones). Token ids are small: 114k pairs of spa-eng take a few tens of MB.
    """
    return ds.shuffle(size, seed=seed, reshuffle_each_iteration=True)


def _dense(source, target):
    return tf.identity(source), tf.identity(target)


def _teacher_forcing(source, target):
    return (source, target[:, :-1]), target[:, 1:]


def padding_efficiency(dataset: tf.data.Dataset) -> float:
    """Share of real tokens among all token slots, over one pass of `dataset`.

    Counts the source and the output target of `((source, target_in), target_out)`
    batches; 1.0 means no padding at all.
    """
    real = total = 0
    for (source, _), target_out in dataset:
        for x in (source, target_out):
            x = x.numpy()
            real += int(np.count_nonzero(x))
            total += x.size
    if total == 0:
        raise ValueError("the dataset is empty")
    return real / total
