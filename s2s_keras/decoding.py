"""Decoding: turn a trained model's `decode_step` into translations.

Introduced in notebook 02 (greedy decoding); notebook 03 adds sampling and beam search.
Decoding runs in a `tf.function` whose loop has a fixed number of steps and fixed
shapes, so it is traced once per batch shape, not once per sentence length.
Shapes: `B` batch, `S` source length, `L` maximum output length, `V` vocabulary.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from s2s_keras.text import END_ID, PAD_ID, START_ID, Tokenizer


def greedy_decode(model, source_ids, max_length: int):
    """Pick the most likely token at every step until `[END]` or `max_length` tokens.

    Args:
        model: anything with `encode` and `decode_step` (see `s2s_keras.models`).
        source_ids: `[B, S]` int ids, padded with 0.
        max_length: `L`, the most tokens to generate (the `[END]` included).

    Returns:
        `(tokens [B, L] int64, attention [B, L, S] float32)`; after `[END]`, tokens are 0
        (padding) and attention rows are zero.
    """
    source_ids = tf.convert_to_tensor(source_ids, tf.int64)
    if not getattr(model, "built", True):
        # A never-called Keras model has no variables yet, and `_greedy` (traced before,
        # for other models) may not create any: build it here, eagerly.
        model.encode(source_ids)
    return _greedy(model, source_ids, tf.constant(max_length, tf.int32))


@tf.function(reduce_retracing=True)
def _greedy(model, source_ids, max_length):
    batch = tf.shape(source_ids)[0]
    state = model.encode(source_ids)
    last = tf.fill([batch], tf.constant(START_ID, tf.int64))
    done = tf.zeros([batch], tf.bool)
    tokens = tf.TensorArray(tf.int64, size=max_length)
    attention = tf.TensorArray(tf.float32, size=max_length)
    for step in tf.range(max_length):
        logits, state = model.decode_step(state, last, step)
        nxt = tf.argmax(logits, axis=-1, output_type=tf.int64)  # [B]
        nxt = tf.where(done, tf.constant(PAD_ID, tf.int64), nxt)
        weights = tf.where(done[:, None], 0.0, tf.cast(state["attention"], tf.float32))
        tokens = tokens.write(step, nxt)
        attention = attention.write(step, weights)
        done = done | (nxt == END_ID)
        # Finished rows go on reading [END], never padding: to a GRU an all-padding row
        # is an error on GPU (cuDNN, DESIGN §11); their outputs are dropped anyway.
        last = tf.where(done, tf.constant(END_ID, tf.int64), nxt)
    return tf.transpose(tokens.stack()), tf.transpose(attention.stack(), [1, 0, 2])


def translate(
    model,
    source_tokenizer: Tokenizer,
    target_tokenizer: Tokenizer,
    sentences: Sequence[str],
    *,
    batch_size: int = 64,
    max_source_length: int = 64,
    extra_length: int = 10,
    progress: bool = False,
) -> list[str]:
    """Translate raw sentences with greedy decoding, in batches, keeping their order.

    Sentences are sorted by length for batching (less padding) and put back in order.

    Args:
        model: a seq2seq model with `encode` / `decode_step`.
        source_tokenizer, target_tokenizer: the tokenizers the model was trained with.
        sentences: raw source text.
        batch_size: sentences per decoding batch.
        max_source_length: longer sources are truncated to this many tokens.
        extra_length: the output may be this many tokens longer than the source.
        progress: show a progress bar.

    Returns:
        One translation per input sentence (empty input gives an empty string).
    """
    sentences = list(sentences)
    if not sentences:
        return []
    ids = source_tokenizer.tokenize(sentences)[:, :max_source_length]
    lengths = ids.row_lengths().numpy()
    # Only [START] [END]: the input was empty or whitespace; its translation is empty.
    order = [i for i in np.argsort(lengths, kind="stable") if lengths[i] > 2]
    out: list[str] = [""] * len(sentences)
    bar = tqdm(total=len(order), disable=not progress, unit="sent", desc="translate")
    for i in range(0, len(order), batch_size):
        idx = order[i : i + batch_size]
        batch = tf.gather(ids, idx).to_tensor(default_value=PAD_ID)
        tokens, _ = greedy_decode(model, batch, int(lengths[idx].max()) + extra_length)
        for j, text in zip(idx, target_tokenizer.detokenize(tokens).numpy(), strict=True):
            out[j] = text.decode("utf-8")
        bar.update(len(idx))
    bar.close()
    return out


def attention_map(
    model,
    source_tokenizer: Tokenizer,
    target_tokenizer: Tokenizer,
    sentence: str,
    max_length: int = 64,
):
    """Greedy-translate one sentence and return what it attended to.

    Returns:
        `(source_tokens, output_tokens, weights [T, S])`: token strings (NFC, for
        display; markers included on the source side, `[END]` on the output side) and
        the attention of each output token over the source tokens.
    """
    ids = source_tokenizer.tokenize([sentence])[:, :max_length].to_tensor()
    tokens, weights = greedy_decode(model, ids, int(ids.shape[1]) + 10)
    out = [int(t) for t in tokens[0].numpy()]
    length = out.index(END_ID) + 1 if END_ID in out else len(out)
    src = source_tokenizer.lookup(ids.numpy())[0]
    tgt = target_tokenizer.lookup([out[:length]])[0]
    nfc = functools.partial(unicodedata.normalize, "NFC")
    return [nfc(t) for t in src], [nfc(t) for t in tgt], weights[0, :length, :].numpy()
