"""Decoding: turn a trained model's `decode_step` into translations.

Introduced in notebook 02 (greedy decoding); notebook 03 adds sampling and beam search.

Every decoder here serves every model through one protocol:

- `model.encode(source_ids, max_length=None)` → a state: a (possibly nested) dict of
  tensors, each with the batch as its leading dimension. `max_length` is the number of
  steps that will be run, so a model can preallocate fixed-shape caches (the
  Transformer's key/value cache); models without one ignore it.
- `model.decode_step(state, last_ids, step)` → `(logits [B, V], new_state)`, the new
  state with the same structure and shapes; an optional `"attention"` entry `[B, S]`
  holds the attention of the step, for plots.

Decoding runs in a `tf.function` whose loop has a fixed number of steps and fixed
shapes, so it is traced once per batch shape, not once per sentence length.
Shapes: `B` batch, `S` source length, `L` maximum output length, `K` beam size,
`V` vocabulary.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from s2s_keras import checks
from s2s_keras.text import END_ID, PAD_ID, START_ID, Tokenizer

METHODS = ("greedy", "beam", "sample")


# --- the decode_step protocol -------------------------------------------------------


def _prepare(model, source_ids):
    """`[B, S]` ids as an int64 tensor, with the model built."""
    source_ids = tf.convert_to_tensor(source_ids, tf.int64)
    if not getattr(model, "built", True):
        # A never-called Keras model has no variables yet, and a decoding function
        # (traced before, for other models) may not create any: build it here, eagerly.
        model.encode(source_ids)
    return source_ids


def _never_output(scores):
    """`[N, V]` float32 logits or log-probabilities, with `-inf` for padding and `[START]`.

    Neither is ever a correct output. Padding mid-sentence would break the convention
    that padding means "after `[END]`", and fed back to a GRU it makes an all-padding
    row, which cuDNN rejects; sampling from a weak model would pick both.
    Applied to log-probabilities (beam search), it leaves the scores the model's own.
    """
    ids = tf.range(tf.shape(scores)[-1])  # [V]
    # Added, not selected with tf.where: a broadcast add is the cheaper op per step.
    return scores + tf.where((ids == PAD_ID) | (ids == START_ID), float("-inf"), 0.0)


def _next_input(tokens, done):
    """The token each row reads at the next step: its own, or `[END]` once finished.

    Finished rows go on reading `[END]`, never padding: to a GRU an all-padding row is
    an error on GPU (cuDNN); their outputs are dropped anyway.
    """
    return tf.where(done, tf.constant(END_ID, tf.int64), tokens)


def _checked_repeats(max_repeats) -> tf.Tensor:
    """`max_repeats` (None, or an int >= 1) as the scalar int32 the loops take; 0: no limit."""
    if max_repeats is None:
        return tf.constant(0, tf.int32)
    return tf.constant(checks.positive_int("max_repeats", max_repeats), tf.int32)


def _ban_repeats(scores, run_token, run_length, max_repeats):
    """`[N, V]` scores with `-inf` for the token that would repeat a run too long.

    Row `n` has just produced `run_token[n]` `run_length[n]` times in a row; with
    `max_repeats > 0`, that token may not come once more when the run is already
    `max_repeats` long. A decoder stuck on a single-character piece (`"hppppppp"`) or a
    word (`"already already already"`) must then choose something else.
    """
    ids = tf.range(tf.shape(scores)[-1], dtype=tf.int64)  # [V]
    full = (max_repeats > 0) & (run_length >= max_repeats)  # [N]
    banned = full[:, None] & (ids[None, :] == run_token[:, None])  # [N, V]
    return scores + tf.where(banned, float("-inf"), 0.0)


def _extend_runs(token, run_token, run_length):
    """The runs after each row produced `token` `[N]`: one longer, or a new run of 1."""
    same = token == run_token
    return token, tf.where(same, run_length + 1, tf.ones_like(run_length))


def _checked_max_length(max_length, *, per_sentence=False, batch=None):
    """`max_length` as an int32 tensor, after checking a Python or NumPy value."""
    if not tf.is_tensor(max_length):
        values = np.asarray(max_length)
        if (
            values.dtype.kind not in "iu"
            or values.ndim > int(per_sentence)
            or values.size == 0
            or values.min() < 1
            or (values.ndim == 1 and len(values) != batch)
        ):
            expected = "a positive integer"
            if per_sentence:
                expected += f" or one per sentence ({batch})"
            raise ValueError(f"max_length must be {expected}, got {max_length!r}")
    return tf.convert_to_tensor(max_length, tf.int32)


# --- one token per row per step: greedy decoding and sampling ------------------------


def greedy_decode(model, source_ids, max_length: int, *, max_repeats: int | None = None):
    """Pick the most likely token at every step until `[END]` or `max_length` tokens.

    Args:
        model: anything with `encode` and `decode_step` (see `s2s_keras.models`).
        source_ids: `[B, S]` int ids, padded with 0.
        max_length: `L`, the most tokens to generate (the `[END]` included).
        max_repeats: if set, no token comes more than this many times in a row (the
            loop guard of notebook 06: `_ban_repeats`). Defaults to `None`: no limit.

    Returns:
        `(tokens [B, L] int64, attention [B, L, S] float32)`; after `[END]`, tokens are 0
        (padding) and attention rows are zero. `attention` is `None` for a model whose
        decoding state has no `"attention"` entry.
    """
    source_ids = _prepare(model, source_ids)
    return _greedy(
        model, source_ids, _checked_max_length(max_length), _checked_repeats(max_repeats)
    )


def sample_decode(
    model,
    source_ids,
    max_length: int,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    seed: int | None = None,
    max_repeats: int | None = None,
):
    """Draw every token at random from the model's distribution, sharpened or flattened.

    The next token is drawn from `softmax(logits / temperature)`, restricted to the
    `top_k` most likely tokens (Fan et al. 2018, "Hierarchical Neural Story
    Generation"). Temperatures below 1 make likely tokens likelier, above 1 flatten the
    distribution; `top_k=1` is greedy decoding.

    Args:
        model: anything with `encode` and `decode_step` (see `s2s_keras.models`).
        source_ids: `[B, S]` int ids, padded with 0.
        max_length: `L`, the most tokens to generate (the `[END]` included).
        temperature: a positive float. Defaults to 1 (the model's own distribution).
        top_k: draw from the `top_k` most likely tokens only (ties with the last one
            kept); 0 keeps them all. Defaults to 0.
        seed: the same seed and batch give the same tokens. Defaults to `None`: a seed
            drawn from TensorFlow's global generator (`keras.utils.set_random_seed`
            makes that reproducible too).
        max_repeats: as for `greedy_decode`.

    Returns:
        `(tokens [B, L] int64, attention [B, L, S] float32)`, as `greedy_decode`.
    """
    temperature = checks.positive_number("temperature", temperature)
    top_k = checks.non_negative_int("top_k", top_k)  # 0: no limit
    if checks.int_or_none("seed", seed) is None:
        seed = tf.random.uniform([], maxval=2**31 - 1, dtype=tf.int64)
    source_ids = _prepare(model, source_ids)
    return _sample(
        model,
        source_ids,
        _checked_max_length(max_length),
        tf.constant(temperature, tf.float32),
        tf.constant(top_k, tf.int32),
        tf.convert_to_tensor(seed, tf.int64),
        _checked_repeats(max_repeats),
    )


def _token_by_token(model, source_ids, max_length, choose, max_repeats):
    """The loop greedy decoding and sampling share: `choose(logits [B, V], step)` → `[B]`."""
    batch = tf.shape(source_ids)[0]
    state = model.encode(source_ids, max_length=max_length)
    with_attention = "attention" in state
    last = tf.fill([batch], tf.constant(START_ID, tf.int64))
    done = tf.zeros([batch], tf.bool)
    run_token, run_length = last, tf.zeros([batch], tf.int32)  # [START] is never output
    tokens = tf.TensorArray(tf.int64, size=max_length)
    attention = tf.TensorArray(tf.float32, size=max_length)
    for step in tf.range(max_length):
        logits, state = model.decode_step(state, last, step)
        logits = _never_output(tf.cast(logits, tf.float32))  # [B, V]
        logits = _ban_repeats(logits, run_token, run_length, max_repeats)
        nxt = tf.where(done, tf.constant(PAD_ID, tf.int64), choose(logits, step))
        run_token, run_length = _extend_runs(nxt, run_token, run_length)
        tokens = tokens.write(step, nxt)  # [B]
        if with_attention:
            weights = tf.cast(state["attention"], tf.float32)  # [B, S]
            attention = attention.write(step, tf.where(done[:, None], 0.0, weights))
        done = done | (nxt == END_ID)
        last = _next_input(nxt, done)
    tokens = tf.transpose(tokens.stack())  # [B, L]
    if not with_attention:
        return tokens, None
    return tokens, tf.transpose(attention.stack(), [1, 0, 2])  # [B, L, S]


@tf.function(reduce_retracing=True)
def _greedy(model, source_ids, max_length, max_repeats):
    def most_likely(logits, step):
        return tf.argmax(logits, axis=-1, output_type=tf.int64)

    return _token_by_token(model, source_ids, max_length, most_likely, max_repeats)


@tf.function(reduce_retracing=True)
def _sample(model, source_ids, max_length, temperature, top_k, seed, max_repeats):
    def draw(logits, step):
        logits = logits / temperature  # [B, V]
        vocab = tf.shape(logits)[-1]
        k = tf.where((top_k == 0) | (top_k > vocab), vocab, top_k)
        kth_best = tf.math.top_k(logits, k).values[:, -1:]  # [B, 1]
        logits = tf.where(logits < kth_best, float("-inf"), logits)
        # Stateless: the draw is a function of (seed, step) alone, so a seed reproduces
        # a whole decoding, in or out of `tf.function`.
        step_seed = tf.stack([seed, tf.cast(step, tf.int64)])
        return tf.random.stateless_categorical(logits, 1, step_seed, dtype=tf.int64)[:, 0]

    return _token_by_token(model, source_ids, max_length, draw, max_repeats)


def greedy_decode_recomputed(model, source_ids, max_length: int):
    """Greedy decoding without a cache: every step runs the whole model on the prefix.

    Notebook 06 times it against `greedy_decode` to show what the Transformer's
    key/value cache saves. Step `t` calls `model((source_ids, prefix))` on the `t + 1`
    tokens so far (encoder included) and keeps the last position's logits, so the work
    per step grows with `t` and a sentence of `L` tokens costs `O(L²)` positions where
    the cache costs `O(L)`. The tokens are those of `greedy_decode`.

    Args:
        model: a model whose `call((source_ids, target_in))` gives `[B, T, V]` logits.
        source_ids: `[B, S]` int ids, padded with 0.
        max_length: `L`, the most tokens to generate (the `[END]` included).

    Returns:
        `tokens [B, L]` int64, 0 (padding) after `[END]`.
    """
    source_ids = _prepare(model, source_ids)
    return _greedy_recomputed(model, source_ids, _checked_max_length(max_length))


@tf.function(reduce_retracing=True)
def _greedy_recomputed(model, source_ids, max_length):
    batch = tf.shape(source_ids)[0]
    prefix = tf.fill([batch, 1], tf.constant(START_ID, tf.int64))  # [B, t + 1]
    done = tf.zeros([batch], tf.bool)
    tokens = tf.TensorArray(tf.int64, size=max_length)
    for step in tf.range(max_length):
        tf.autograph.experimental.set_loop_options(
            # A batch of one has static shapes that the loop's ops do not keep.
            shape_invariants=[
                (prefix, tf.TensorShape([None, None])),
                (done, tf.TensorShape([None])),
            ]
        )
        logits = model((source_ids, prefix), training=False)[:, -1, :]  # [B, V]
        logits = _never_output(tf.cast(logits, tf.float32))
        nxt = tf.where(done, tf.constant(PAD_ID, tf.int64), tf.argmax(logits, -1))
        tokens = tokens.write(step, nxt)
        done = done | (nxt == END_ID)
        prefix = tf.concat([prefix, _next_input(nxt, done)[:, None]], axis=1)
    return tf.transpose(tokens.stack())  # [B, L]


# --- beam search ---------------------------------------------------------------------


def length_penalty(length, alpha):
    """GNMT's length penalty `lp(Y) = ((5 + |Y|) / 6) ** alpha`.

    Wu et al. (2016), "Google's Neural Machine Translation System", eq. 14. A hypothesis
    is ranked by `log P(Y | X) / lp(Y)`; log-probabilities only fall as `Y` grows, so
    without it (`alpha=0`) beam search prefers short translations. `alpha` in
    [0.6, 1] worked best for GNMT.

    Args:
        length: `|Y|`, generated tokens including `[END]` (any shape, int or float).
        alpha: the strength, >= 0; 0 gives `lp = 1`.

    Returns:
        float32 tensor of the shape of `length`.
    """
    return ((5.0 + tf.cast(length, tf.float32)) / 6.0) ** tf.cast(alpha, tf.float32)


def beam_search(
    model,
    source_ids,
    max_length,
    *,
    beam_size: int = 4,
    alpha: float = 0.6,
    n_best: int = 1,
    max_repeats: int | None = None,
):
    """Keep the `beam_size` most likely prefixes per sentence; return the best finished.

    All sentences and all their beams go through `decode_step` together, as one batch
    of `B * K` rows. At each step every live hypothesis is extended by every token and
    the `K` most likely extensions survive; one that ends with `[END]` (or reaches its
    sentence's `max_length`) leaves the beam for the sentence's finished set, ranked by
    its length-normalised score `log P(Y | X) / lp(Y)` (`length_penalty`, Wu et al.
    2016). Live hypotheses all have the same length, so their raw log-probabilities
    rank them. A sentence stops once no live hypothesis could beat its `n_best`-th
    finished one, which changes nothing but the time taken.

    With `beam_size=1` this is greedy decoding, for any `alpha`.

    Args:
        model: anything with `encode` and `decode_step` (see `s2s_keras.models`).
        source_ids: `[B, S]` int ids, padded with 0.
        max_length: `L`, the most tokens to generate (the `[END]` included): an int, or
            `[B]` ints, one per sentence, so that each sentence gets exactly the result
            it would get alone.
        beam_size: `K`, hypotheses kept per sentence. Defaults to 4.
        alpha: length-normalisation strength, >= 0. Defaults to 0.6.
        n_best: how many hypotheses to return per sentence, at most `beam_size`.
            Defaults to 1.
        max_repeats: if set, no hypothesis has a token more than this many times in a
            row (as for `greedy_decode`). Defaults to `None`: no limit.

    Returns:
        `(tokens [B, n_best, L] int64, scores [B, n_best] float32)`, best first. Tokens
        are 0 (padding) after `[END]`; a hypothesis that never produced `[END]` is
        returned at its full length, scored with that length. A score of `-inf` marks a
        slot with no hypothesis (only when `beam_size` exceeds the possible tokens).
    """
    beam_size = checks.positive_int("beam_size", beam_size)
    n_best = checks.int_in_range("n_best", n_best, 1, beam_size, high_name="beam_size")
    alpha = checks.non_negative_number("alpha", alpha)
    source_ids = _prepare(model, source_ids)
    max_length = _checked_max_length(max_length, per_sentence=True, batch=source_ids.shape[0])
    if source_ids.shape[0] == 0:  # nothing to search (and no maximum of no lengths)
        length = int(tf.reduce_max(tf.concat([tf.reshape(max_length, [-1]), [1]], 0)))
        return tf.zeros([0, n_best, length], tf.int64), tf.zeros([0, n_best], tf.float32)
    return _beam_search(
        model,
        source_ids,
        max_length,
        int(beam_size),
        tf.constant(alpha, tf.float32),
        int(n_best),
        _checked_repeats(max_repeats),
    )


def _best(tokens, scores, k):
    """The `k` best of `[B, N, L]` hypotheses by `[B, N]` scores, best first."""
    scores, index = tf.math.top_k(scores, k)  # [B, k]; ties: the earlier one first
    return tf.gather(tokens, index, batch_dims=1), scores


@tf.function(reduce_retracing=True)
def _beam_search(model, source_ids, max_length, beam_size, alpha, n_best, max_repeats):
    """`beam_search` on tensors; `beam_size` and `n_best` are Python ints (shapes)."""
    minus_inf = float("-inf")
    # Static sizes where known: sizes captured from outside the loop lose their value
    # inside it, and the loop variables must keep the shapes they start with.
    batch = source_ids.shape[0] or tf.shape(source_ids)[0]
    limit = tf.broadcast_to(max_length, [batch])  # [B] steps allowed per sentence
    steps = tf.reduce_max(limit)
    positions = tf.range(steps)  # [L]

    state = model.encode(source_ids, max_length=steps)
    # Each sentence's state once per beam: row `b * K + k` is beam `k` of sentence `b`.
    state = tf.nest.map_structure(lambda x: tf.repeat(x, beam_size, axis=0), state)
    last = tf.fill([batch * beam_size], tf.constant(START_ID, tf.int64))  # [B*K]
    run_token, run_length = last, tf.zeros([batch * beam_size], tf.int32)  # each row's run
    live_tokens = tf.zeros([batch, beam_size, steps], tf.int64)  # [B, K, L]
    # Only beam 0 is live at first: otherwise the K beams would be K copies of it.
    live_scores = tf.tile(
        tf.constant([[0.0] + [minus_inf] * (beam_size - 1)]), [batch, 1]
    )  # [B, K] log P(prefix | X); -inf: no hypothesis
    done_tokens = tf.zeros([batch, beam_size, steps], tf.int64)  # [B, K, L]
    done_scores = tf.fill([batch, beam_size], minus_inf)  # [B, K] normalised, best first

    for step in tf.range(steps):
        logits, state = model.decode_step(state, last, step)
        vocab = logits.shape[-1] or tf.shape(logits)[-1]
        log_probs = _never_output(tf.nn.log_softmax(tf.cast(logits, tf.float32)))
        log_probs = _ban_repeats(log_probs, run_token, run_length, max_repeats)  # [B*K, V]
        log_probs = tf.reshape(log_probs, [batch, beam_size, vocab])  # [B, K, V]
        extended = tf.reshape(live_scores[:, :, None] + log_probs, [batch, -1])  # [B, K*V]
        scores, choice = tf.math.top_k(extended, beam_size)  # [B, K]
        parent = choice // vocab  # [B, K] the beam each survivor extends
        token = tf.cast(choice % vocab, tf.int64)  # [B, K]
        live_tokens = tf.gather(live_tokens, parent, batch_dims=1)
        live_tokens = tf.where(positions == step, token[:, :, None], live_tokens)

        # A hypothesis that ends, or reaches its sentence's limit, joins the finished set.
        leaving = (token == END_ID) | (step + 1 >= limit)[:, None]  # [B, K]
        normalised = scores / length_penalty(step + 1, alpha)
        done_tokens, done_scores = _best(
            tf.concat([done_tokens, live_tokens], axis=1),
            tf.concat([done_scores, tf.where(leaving, normalised, minus_inf)], axis=1),
            beam_size,
        )
        live_scores = tf.where(leaving, minus_inf, scores)
        # Log-probabilities only fall and lp(Y) <= lp(limit): no live hypothesis can
        # score above best_live / lp(limit). Below the n-th finished, the sentence is done.
        hopeless = (
            tf.reduce_max(live_scores, axis=1) / length_penalty(limit, alpha)
            < done_scores[:, n_best - 1]
        )
        live_scores = tf.where(hopeless[:, None], minus_inf, live_scores)

        rows = tf.reshape(parent + beam_size * tf.range(batch)[:, None], [-1])  # [B*K]
        state = tf.nest.map_structure(lambda x, rows=rows: tf.gather(x, rows), state)
        run_token, run_length = _extend_runs(
            tf.reshape(token, [-1]), tf.gather(run_token, rows), tf.gather(run_length, rows)
        )
        last = _next_input(tf.reshape(token, [-1]), tf.reshape(live_scores == minus_inf, [-1]))
        if tf.reduce_all(live_scores == minus_inf):
            break
    return done_tokens[:, :n_best], done_scores[:, :n_best]


# --- text in, text out ---------------------------------------------------------------


def decode_tokens(
    model,
    source_ids,
    max_length,
    *,
    method: str = "greedy",
    beam_size: int = 4,
    alpha: float = 0.6,
    temperature: float = 1.0,
    top_k: int = 0,
    seed: int | None = None,
    max_repeats: int | None = None,
):
    """One translation per sentence, as ids: the best (or a sampled) one, by `method`.

    Args:
        model: a seq2seq model with `encode` / `decode_step`.
        source_ids: `[B, S]` int ids, padded with 0.
        max_length: `[B]` ints, the most tokens each sentence may get.
        method: `"greedy"` (`greedy_decode`), `"beam"` (the best hypothesis of
            `beam_search`) or `"sample"` (`sample_decode`). Defaults to `"greedy"`.
        beam_size, alpha: for `"beam"`, see `beam_search`. Default to 4 and 0.6.
        temperature, top_k, seed: for `"sample"`, see `sample_decode`.
        max_repeats: the most times a token may come in a row (`greedy_decode`);
            `None`: no limit.

    Returns:
        `[B, L]` int64 ids, `L = max(max_length)`. Greedy decoding and sampling run every
        row for `L` steps, so a row may run past its own limit: `translate_ids` cuts it.
    """
    _check_method(method)
    if method == "beam":
        tokens, _ = beam_search(
            model,
            source_ids,
            max_length,
            beam_size=beam_size,
            alpha=alpha,
            max_repeats=max_repeats,
        )
        return tokens[:, 0]  # [B, L], the best of each sentence
    longest = tf.reduce_max(max_length)
    if method == "sample":
        tokens, _ = sample_decode(
            model,
            source_ids,
            longest,
            temperature=temperature,
            top_k=top_k,
            seed=seed,
            max_repeats=max_repeats,
        )
        return tokens
    return greedy_decode(model, source_ids, longest, max_repeats=max_repeats)[0]


def _check_method(method):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def tokenize_sources(tokenizer: Tokenizer, text, max_length: int) -> tf.RaggedTensor:
    """`[B]` raw sentences → `[B, (S)]` int64 ids, cut after `max_length` tokens.

    A cut source keeps its `[START]` and loses its `[END]`, as in the training pipeline
    (`pipeline.make_dataset`): the model meets a long source as it learned it.
    """
    return tokenizer.tokenize(text)[:, :max_length]


def has_words(lengths):
    """Whether sources of these lengths (markers included) have anything to translate.

    `[START] [END]` alone is what an empty, whitespace or invisible input tokenizes to.
    """
    return lengths > 2


def translate_ids(
    source_ids: tf.RaggedTensor, decode, target_tokenizer: Tokenizer, *, extra_length
):
    """The translation contract, on tensors: `[B, (S)]` source ids → `[B]` translations.

    In-memory translation (`translate`) and the exported SavedModel (`s2s_keras.export`)
    both run it: each sentence may get `extra_length` tokens more than its own source
    (markers included), its tokens are cut at that limit, and a sentence with no words
    gets `""` without being decoded. The result for a sentence is what translating it
    alone gives, whatever else is in the batch (for greedy decoding and beam search;
    sampling draws depend on the batch).

    Args:
        source_ids: `[B, (S)]` int64 ids from `tokenize_sources`.
        decode: `decode(source_ids [K, S], max_length [K]) → tokens [K, L]`, e.g.
            `decode_tokens` with its model bound.
        target_tokenizer: turns the tokens into text.
        extra_length: int or scalar int32 tensor, >= 0.

    Returns:
        `[B]` `tf.string`, in the order of `source_ids`.
    """
    lengths = tf.cast(source_ids.row_lengths(), tf.int32)  # [B], markers included
    keep = tf.where(has_words(lengths))[:, 0]  # [K] indices of the sentences to translate
    outputs = tf.fill(tf.shape(lengths), "")

    def translate_kept():
        source = tf.gather(source_ids, keep).to_tensor(default_value=PAD_ID)  # [K, S]
        limit = tf.gather(lengths, keep) + extra_length  # [K]
        tokens = decode(source, limit)  # [K, L]
        # Cut every row at its own limit: a token-by-token decoder's row is the same
        # prefix alone and in a batch, so the cut row is what decoding it alone gives.
        steps = tf.range(tf.shape(tokens)[1])[None, :]  # [1, L]
        tokens = tf.where(steps < limit[:, None], tokens, tf.constant(PAD_ID, tokens.dtype))
        translations = target_tokenizer.detokenize(tokens)  # [K]
        return tf.tensor_scatter_nd_update(outputs, keep[:, None], translations)

    # A batch with nothing to translate (no sentences, or only empty ones) skips the
    # decoding: beam search cannot take zero sentences (their longest limit is
    # undefined), and there is nothing to compute anyway.
    return tf.cond(tf.size(keep) > 0, translate_kept, lambda: outputs)


def translate(
    model,
    source_tokenizer: Tokenizer,
    target_tokenizer: Tokenizer,
    sentences: Sequence[str],
    *,
    method: str = "greedy",
    beam_size: int = 4,
    alpha: float = 0.6,
    temperature: float = 1.0,
    top_k: int = 0,
    seed: int | None = None,
    batch_size: int = 64,
    max_source_length: int = 64,
    extra_length: int = 10,
    max_repeats: int | None = None,
    progress: bool = False,
) -> list[str]:
    """Translate raw sentences, in batches, keeping their order.

    Sentences are sorted by length for batching (less padding) and put back in order;
    each batch goes through `translate_ids`, the contract the exported SavedModel
    follows too. Every sentence may have `extra_length` tokens more than its source,
    whatever the others in its batch: greedy and beam search give what translating it
    alone gives.

    Args:
        model: a seq2seq model with `encode` / `decode_step`.
        source_tokenizer, target_tokenizer: the tokenizers the model was trained with.
        sentences: raw source text.
        method: `"greedy"` (`greedy_decode`), `"beam"` (the best hypothesis of
            `beam_search`) or `"sample"` (`sample_decode`). Defaults to `"greedy"`.
        beam_size, alpha: for `"beam"`, see `beam_search`. Default to 4 and 0.6.
        temperature, top_k: for `"sample"`, see `sample_decode`. Default to 1 and 0.
        seed: for `"sample"`: the same seed gives the same translations.
        batch_size: sentences per decoding batch.
        max_source_length: longer sources are truncated to this many tokens.
        extra_length: the output may be this many tokens longer than the source.
        max_repeats: no token more than this many times in a row (`greedy_decode`);
            `None` (the default): no limit.
        progress: show a progress bar.

    Returns:
        One translation per input sentence (empty input gives an empty string).
    """
    _check_method(method)
    sentences = list(sentences)
    if not sentences:
        return []
    # One seed per batch, all derived from `seed`: batches do not repeat each other's draws.
    seeds = np.random.default_rng(seed)
    ids = tokenize_sources(source_tokenizer, sentences, max_source_length)
    lengths = ids.row_lengths().numpy()
    # Sentences with no words stay out of the batches: they would only take room there.
    order = [i for i in np.argsort(lengths, kind="stable") if has_words(lengths[i])]
    out: list[str] = [""] * len(sentences)
    bar = tqdm(total=len(order), disable=not progress, unit="sent", desc="translate")
    for i in range(0, len(order), batch_size):
        idx = order[i : i + batch_size]
        decode = functools.partial(
            decode_tokens,
            model,
            method=method,
            beam_size=beam_size,
            alpha=alpha,
            temperature=temperature,
            top_k=top_k,
            seed=int(seeds.integers(2**31 - 1)) if method == "sample" else None,
            max_repeats=max_repeats,
        )
        texts = translate_ids(
            tf.gather(ids, idx), decode, target_tokenizer, extra_length=extra_length
        )
        for j, text in zip(idx, texts.numpy(), strict=True):
            out[j] = text.decode("utf-8")
        bar.update(len(idx))
    bar.close()
    return out


def n_best_translations(
    model,
    source_tokenizer: Tokenizer,
    target_tokenizer: Tokenizer,
    sentence: str,
    beam_size: int = 4,
    alpha: float = 0.6,
    n: int | None = None,
    *,
    max_source_length: int = 64,
    extra_length: int = 10,
) -> list[tuple[str, float]]:
    """The `n` best translations of one sentence by beam search, with their scores.

    Args:
        model: a seq2seq model with `encode` / `decode_step`.
        source_tokenizer, target_tokenizer: the tokenizers the model was trained with.
        sentence: raw source text.
        beam_size, alpha: see `beam_search`. Default to 4 and 0.6.
        n: how many, at most `beam_size`. Defaults to `beam_size`.
        max_source_length: a longer source is truncated to this many tokens.
        extra_length: a translation may be this many tokens longer than the source.

    Returns:
        `[(text, score), ...]`, best first; the score is `log P(Y | X) / lp(Y)`
        (`length_penalty`). Empty input gives `[("", 0.0)]`.
    """
    ids = tokenize_sources(source_tokenizer, [sentence], max_source_length).to_tensor()
    if not has_words(ids.shape[1]):
        return [("", 0.0)]
    tokens, scores = beam_search(
        model,
        ids,
        int(ids.shape[1]) + extra_length,
        beam_size=beam_size,
        alpha=alpha,
        n_best=beam_size if n is None else n,
    )
    texts = target_tokenizer.detokenize(tokens[0]).numpy()
    return [(t.decode("utf-8"), float(s)) for t, s in zip(texts, scores[0].numpy(), strict=True)]


def forced_attention(model, source_ids, output_ids):
    """The cross-attention of a given translation: every layer and head, step by step.

    The explorer (`s2s_keras.explorer`) and the exported `translate_with_attention`
    signature show it for any hypothesis of beam search, not only the greedy one: the
    output is fed back teacher-forced. A Transformer is run once over the whole output
    (`cross_attention_weights`, layer by layer, head by head); a recurrent model steps
    through `decode_step`, reading its `"attention"` entry (one layer, one head).

    Args:
        model: a seq2seq model with `encode` / `decode_step` and attention.
        source_ids: `[B, S]` int ids, padded with 0.
        output_ids: `[B, T]` int ids of the translations, `[END]` included, padded with 0
            (what `greedy_decode` or `beam_search` return).

    Returns:
        `[B, layers, N, T, S]` float32; rows of positions after a translation's `[END]`
        (and of padding) are zero. For a recurrent model `layers = N = 1`.

    Raises:
        ValueError: the model has no attention (its decoding state has no `"attention"`).
    """
    source_ids = _prepare(model, source_ids)
    output_ids = tf.convert_to_tensor(output_ids, tf.int64)
    if hasattr(model, "cross_attention_weights"):
        return _forced_heads(model, source_ids, output_ids)
    return _forced_steps(model, source_ids, output_ids)


def _output_positions(output_ids):
    """`[B, T]` True where a position holds an output token (up to its `[END]`)."""
    ended_before = tf.cumsum(tf.cast(output_ids == END_ID, tf.int32), axis=1, exclusive=True)
    return (ended_before == 0) & (output_ids != PAD_ID)


@tf.function(reduce_retracing=True)
def _forced_heads(model, source_ids, output_ids):
    batch = tf.shape(output_ids)[0]
    start = tf.fill([batch, 1], tf.constant(START_ID, tf.int64))
    target_in = tf.concat([start, output_ids[:, :-1]], axis=1)  # [B, T]
    target_in = tf.where(_output_positions(output_ids), target_in, PAD_ID)
    layers = model.cross_attention_weights(source_ids, target_in)  # per layer [B, N, T, S]
    weights = tf.cast(tf.stack(layers, axis=1), tf.float32)  # [B, layers, N, T, S]
    keep = tf.cast(_output_positions(output_ids), tf.float32)[:, None, None, :, None]
    return weights * keep


@tf.function(reduce_retracing=True)
def _forced_steps(model, source_ids, output_ids):
    batch = tf.shape(source_ids)[0]
    steps = tf.shape(output_ids)[1]
    state = model.encode(source_ids, max_length=steps)
    if "attention" not in state:
        raise ValueError(
            f"{type(model).__name__} has no attention to show: its decoding state has no "
            "'attention' entry; use a model with attention (e.g. AttentionSeq2Seq)"
        )
    keep = _output_positions(output_ids)  # [B, T]
    last = tf.fill([batch], tf.constant(START_ID, tf.int64))
    attention = tf.TensorArray(tf.float32, size=steps)
    for step in tf.range(steps):
        _, state = model.decode_step(state, last, step)
        weights = tf.cast(state["attention"], tf.float32)  # [B, S]
        attention = attention.write(step, tf.where(keep[:, step, None], weights, 0.0))
        # Finished rows read [END], never padding (see `_next_input`).
        last = _next_input(output_ids[:, step], ~keep[:, step])
    weights = tf.transpose(attention.stack(), [1, 0, 2])  # [B, T, S]
    return weights[:, None, None]  # [B, 1, 1, T, S]


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
    ids = tokenize_sources(source_tokenizer, [sentence], max_length).to_tensor()
    tokens, weights = greedy_decode(model, ids, int(ids.shape[1]) + 10)
    if weights is None:
        raise ValueError(
            f"{type(model).__name__} has no attention to show: its decoding state has no "
            "'attention' entry; use a model with attention (e.g. AttentionSeq2Seq)"
        )
    out = [int(t) for t in tokens[0].numpy()]
    length = out.index(END_ID) + 1 if END_ID in out else len(out)
    src = source_tokenizer.lookup(ids.numpy())[0]
    tgt = target_tokenizer.lookup([out[:length]])[0]
    nfc = functools.partial(unicodedata.normalize, "NFC")
    return [nfc(t) for t in src], [nfc(t) for t in tgt], weights[0, :length, :].numpy()


def attention_heads(
    model,
    source_tokenizer: Tokenizer,
    target_tokenizer: Tokenizer,
    sentence: str,
    max_length: int = 64,
):
    """Greedy-translate one sentence and return every cross-attention head's map.

    Notebook 06 draws them. The greedy output is fed back teacher-forced through
    `model.cross_attention_weights` (the Transformer has it), which keeps each layer and
    head apart; `attention_map` shows their last-layer average.

    Returns:
        `(source_tokens, output_tokens, weights [layers, N, T, S])`, tokens as in
        `attention_map`.
    """
    if not hasattr(model, "cross_attention_weights"):
        raise ValueError(
            f"{type(model).__name__} has no attention heads to show: it lacks "
            "cross_attention_weights; use a Transformer"
        )
    ids = tokenize_sources(source_tokenizer, [sentence], max_length).to_tensor()
    tokens, _ = greedy_decode(model, ids, int(ids.shape[1]) + 10)
    out = [int(t) for t in tokens[0].numpy()]
    length = out.index(END_ID) + 1 if END_ID in out else len(out)
    target_in = tf.constant([[START_ID, *out[: length - 1]]], tf.int64)  # [1, T]
    layers = model.cross_attention_weights(ids, target_in)  # per layer [1, N, T, S]
    weights = np.stack([np.asarray(w)[0] for w in layers])  # [layers, N, T, S]
    src = source_tokenizer.lookup(ids.numpy())[0]
    tgt = target_tokenizer.lookup([out[:length]])[0]
    nfc = functools.partial(unicodedata.normalize, "NFC")
    return [nfc(t) for t in src], [nfc(t) for t in tgt], weights
