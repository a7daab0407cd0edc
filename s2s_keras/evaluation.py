"""Losses, metrics and the evaluation protocol (the README's *Evaluation protocol*).

Introduced in notebook 02 (masked loss, BLEU); notebook 07 applies it to every model.
BLEU and chrF come from sacrebleu only: hypotheses are detokenized plain text, the
references the raw corpus lines, BLEU lower-cased with the 13a tokenizer, or with
sacrebleu's `zh` tokenizer for a Chinese target (13a splits on spaces and punctuation,
so a Chinese sentence would be one or two "words"). `paired_bootstrap` says whether two
systems differ significantly (Koehn 2004, "Statistical Significance Tests for Machine
Translation Evaluation"). The retrieval metrics of notebook 01's dual encoder close
the module.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import keras
import numpy as np
import sacrebleu
from keras import ops

from s2s_keras.types import ParallelText

if TYPE_CHECKING:  # tokenizers are tensorflow-text: imported by whoever passes one
    from s2s_keras.text import Tokenizer


@keras.saving.register_keras_serializable(package="s2s_keras")
def masked_loss(y_true, y_pred, label_smoothing=0.0):
    """Token cross-entropy averaged over real (non-padding) target tokens.

    With label smoothing ε (Szegedy et al. 2016; Vaswani et al. 2017 use ε = 0.1) the
    target distribution puts `1 - ε` on the right token and spreads `ε` uniformly over
    the vocabulary: `loss = (1 - ε) · NLL + ε · mean_v(-log p_v)`.

    Args:
        y_true: `[B, T]` int ids, 0 is padding.
        y_pred: `[B, T, V]` logits.
        label_smoothing: ε in `[0, 1)`. Defaults to 0.

    Returns:
        A float32 scalar; 0 when the batch has no real token.
    """
    log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)  # [B, T, V]
    y_true = ops.cast(y_true, "int32")
    nll = -ops.squeeze(ops.take_along_axis(log_probs, y_true[..., None], axis=-1), -1)
    if label_smoothing:
        nll = (1.0 - label_smoothing) * nll - label_smoothing * ops.mean(log_probs, axis=-1)
    mask = ops.cast(ops.not_equal(y_true, 0), "float32")  # [B, T]
    return ops.sum(nll * mask) / ops.maximum(ops.sum(mask), 1.0)


@keras.saving.register_keras_serializable(package="s2s_keras")
class MaskedLoss(keras.losses.Loss):
    """`masked_loss` as a configurable, serialisable Keras loss.

    Args:
        label_smoothing: ε in `[0, 1)`. Defaults to 0.
    """

    def __init__(self, label_smoothing=0.0, name="masked_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        return masked_loss(y_true, y_pred, self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


@keras.saving.register_keras_serializable(package="s2s_keras")
class MaskedAccuracy(keras.metrics.Metric):
    """Share of real (non-padding) target tokens whose arg-max prediction is right.

    Counts tokens over the whole epoch, so long and short batches weigh by their tokens
    rather than one batch one vote.
    """

    def __init__(self, name="masked_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.correct = self.add_variable((), initializer="zeros", name="correct")
        self.total = self.add_variable((), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        pred = ops.cast(ops.argmax(y_pred, axis=-1), y_true.dtype)
        mask = ops.cast(ops.not_equal(y_true, 0), "float32")
        self.correct.assign_add(ops.sum(ops.cast(ops.equal(pred, y_true), "float32") * mask))
        self.total.assign_add(ops.sum(mask))

    def result(self):
        return self.correct / ops.maximum(self.total, 1.0)

    def reset_state(self):
        self.correct.assign(0.0)
        self.total.assign(0.0)


# sacrebleu tokenizers of target languages that 13a cannot split into words.
BLEU_TOKENIZERS = {"zh": "zh"}


def bleu_metric(target_lang: str | None = None) -> sacrebleu.metrics.BLEU:
    """The BLEU of the evaluation protocol for a target language: lower-cased, 13a or `zh`.

    Args:
        target_lang: ISO 639-1 code of the target side, e.g. `"en"` or `"zh"`; `None`
            (unknown) scores as 13a does.
    """
    return sacrebleu.metrics.BLEU(lowercase=True, tokenize=BLEU_TOKENIZERS.get(target_lang))


def corpus_scores(
    hypotheses: Sequence[str], references: Sequence[str], *, target_lang: str | None = None
) -> dict:
    """Corpus BLEU and chrF with their sacrebleu signatures.

    Args:
        hypotheses: detokenized system outputs, one per line.
        references: the raw reference lines, aligned with `hypotheses`.
        target_lang: ISO 639-1 code of their language; `"zh"` selects sacrebleu's `zh`
            tokenizer for BLEU (the signature shows `tok:zh`). Defaults to `None` (13a).

    Returns:
        `{"bleu": float, "chrf": float, "bleu_signature": str, "chrf_signature": str,
        "sentences": int}`.
    """
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references):
        raise ValueError(f"got {len(hypotheses)} hypotheses for {len(references)} references")
    return multi_reference_scores(hypotheses, [references], target_lang=target_lang)


def multi_reference_scores(
    hypotheses: Sequence[str],
    reference_streams: Sequence[Sequence[str | None]],
    *,
    target_lang: str | None = None,
) -> dict:
    """`corpus_scores` against several references per hypothesis (sacrebleu's streams).

    Stream `k` holds the `k`-th reference of every hypothesis, `None` where one has
    fewer; BLEU counts an n-gram matched by any reference, chrF takes each sentence's
    best reference (`multilingual.ZeroShotSet.reference_streams` builds them).

    Returns:
        As `corpus_scores`.
    """
    hypotheses = list(hypotheses)
    streams = [list(s) for s in reference_streams]
    if not streams or any(len(s) != len(hypotheses) for s in streams):
        raise ValueError(
            f"every reference stream needs {len(hypotheses)} lines, got {[len(s) for s in streams]}"
        )
    bleu = bleu_metric(target_lang)
    chrf = sacrebleu.metrics.CHRF()
    return {
        "bleu": bleu.corpus_score(hypotheses, streams).score,
        "chrf": chrf.corpus_score(hypotheses, streams).score,
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
        "sentences": len(hypotheses),
    }


def sentence_chrf(hypotheses: Sequence[str], references: Sequence[str]) -> list[float]:
    """chrF of each hypothesis against its reference, for finding a model's worst outputs.

    Sentence-level BLEU is mostly zeros on short sentences; chrF (character n-grams)
    grades every sentence, which makes it the usual choice for error analysis.
    """
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references):
        raise ValueError(f"got {len(hypotheses)} hypotheses for {len(references)} references")
    chrf = sacrebleu.metrics.CHRF()
    return [chrf.sentence_score(h, [r]).score for h, r in zip(hypotheses, references, strict=True)]


_HAN = (
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs: extension A, unified, compatibility
)
_CHINESE_UNITS = re.compile(f"[{_HAN}]|[^\\W{_HAN}]+")


def source_length(sentence: str, language: str | None = None) -> int:
    """The length of a sentence in words; in characters for Chinese.

    Chinese writes no spaces, so its length is its Han characters plus the words of
    other scripts inside it (names, numbers); punctuation is not counted.

    Args:
        sentence: raw text.
        language: its ISO 639-1 code; `"zh"` counts characters.

    Example:
        >>> source_length("Tom会说法语吗？", "zh"), source_length("¿Habla Tom francés?")
        (6, 3)
    """
    if language == "zh":
        return len(_CHINESE_UNITS.findall(sentence))
    return len(sentence.split())


def bleu_by_length(
    sources: Sequence[str],
    hypotheses: Sequence[str],
    references: Sequence[str],
    edges: Sequence[int] = (0, 5, 10, 15, 20, 30),
    *,
    target_lang: str | None = None,
    source_lang: str | None = None,
) -> list[dict]:
    """Corpus BLEU per bucket of source length (`source_length`: words, Chinese characters).

    The plot of notebook 02: a fixed context vector loses ground as sentences grow,
    attention much less so (Bahdanau et al. 2015, Figure 2; Cho et al. 2014b).

    Args:
        sources, hypotheses, references: aligned lines.
        edges: bucket lower bounds; the last bucket is open-ended.
        target_lang: language of the hypotheses, as in `corpus_scores`.
        source_lang: language of the sources; `"zh"` measures them in characters.

    Returns:
        One dict per non-empty bucket: `{"bucket": "10-14", "min": 10, "max": 14,
        "sentences": n, "bleu": float}` (`max` is None for the open bucket).
    """
    if not len(sources) == len(hypotheses) == len(references):
        raise ValueError(
            f"got {len(sources)} sources, {len(hypotheses)} hypotheses and "
            f"{len(references)} references; they must be aligned"
        )
    bleu = bleu_metric(target_lang)
    lengths = [source_length(s, source_lang) for s in sources]
    rows = []
    bounds = list(edges) + [None]
    for low, high in zip(bounds[:-1], bounds[1:], strict=True):
        picked = [i for i, n in enumerate(lengths) if n >= low and (high is None or n < high)]
        if not picked:
            continue
        score = bleu.corpus_score(
            [hypotheses[i] for i in picked], [[references[i] for i in picked]]
        )
        rows.append(
            {
                "bucket": f"{low}+" if high is None else f"{low}-{high - 1}",
                "min": low,
                "max": None if high is None else high - 1,
                "sentences": len(picked),
                "bleu": score.score,
            }
        )
    return rows


def bleu_gap_by_length(baseline: Sequence[dict], system: Sequence[dict]) -> list[dict]:
    """The BLEU gap, bucket by bucket, between two `bleu_by_length` results.

    Both must come from the same source sentences and edges (notebook 04: the attention
    model against notebook 02's context-vector model on the test split), so each bucket
    holds the same sentences for both; a gap above 0 means `system` scores higher there.

    Args:
        baseline, system: the rows of `bleu_by_length` for the two models.

    Returns:
        One dict per bucket, in order: `{"bucket": "5-9", "sentences": n, "baseline":
        float, "system": float, "gap": system - baseline}`.

    Raises:
        ValueError: the buckets or their sentence counts differ (not the same sentences).

    Example:
        >>> rows = bleu_gap_by_length([{"bucket": "0-4", "sentences": 3, "bleu": 10.0}],
        ...                           [{"bucket": "0-4", "sentences": 3, "bleu": 12.5}])
        >>> rows[0]["gap"]
        2.5
    """
    buckets = [(r["bucket"], r["sentences"]) for r in baseline]
    others = [(r["bucket"], r["sentences"]) for r in system]
    if buckets != others:
        raise ValueError(
            f"the buckets (bucket, sentences) differ: {buckets} against {others}; score both "
            "models with bleu_by_length on the same sources and edges"
        )
    return [
        {
            "bucket": base["bucket"],
            "sentences": base["sentences"],
            "baseline": base["bleu"],
            "system": other["bleu"],
            "gap": other["bleu"] - base["bleu"],
        }
        for base, other in zip(baseline, system, strict=True)
    ]


def paired_bootstrap(
    baseline: Sequence[str],
    system: Sequence[str],
    references: Sequence[str],
    *,
    target_lang: str | None = None,
    samples: int = 1000,
    alpha: float = 0.05,
    reference_streams: Sequence[Sequence[str | None]] | None = None,
) -> dict:
    """Whether `system` scores differently from `baseline`, by paired bootstrap resampling.

    sacrebleu's own test (`sacrebleu.significance.PairedTest`, `test_type="bs"`, as
    `sacrebleu --paired-bs`): both systems are scored on the same `samples` resamples of
    the test sentences, and the p-value is the share of resamples whose difference exceeds
    the observed one around its mean. The resamples are seeded (`SACREBLEU_SEED`, default
    12345), so the result is reproducible. Two outputs with the same score are never
    called significant (sacrebleu gives them the smallest p-value, `1 / (samples + 1)`).

    Args:
        baseline, system: detokenized outputs of the two systems, aligned with `references`.
        references: the raw reference lines.
        target_lang: language of the outputs, as in `corpus_scores`.
        samples: bootstrap resamples. Defaults to 1000.
        alpha: significance level. Defaults to 0.05.
        reference_streams: several references per sentence, as `multi_reference_scores`
            takes them; they replace `references`. Defaults to `None`.

    Returns:
        `{"bleu": row, "chrf": row, "samples": int, "bleu_signature": str,
        "chrf_signature": str}`, each row `{"baseline": float, "system": float,
        "p_value": float, "significant": bool}`.
    """
    from sacrebleu.significance import PairedTest

    baseline, system, references = list(baseline), list(system), list(references)
    streams = [references] if reference_streams is None else [list(r) for r in reference_streams]
    if not all(len(baseline) == len(system) == len(r) for r in streams):
        raise ValueError(
            f"got {len(baseline)} baseline and {len(system)} system outputs for "
            f"{len(references)} references; they must be aligned"
        )
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be a positive integer, got {samples!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    metrics = {"bleu": bleu_metric(target_lang), "chrf": sacrebleu.metrics.CHRF()}
    test = PairedTest(
        [("baseline", baseline), ("system", system)],
        metrics,
        references=streams,
        test_type="bs",
        n_samples=samples,
    )
    signatures, scores = test()
    out: dict = {"samples": samples}
    # sacrebleu names its columns after the metrics ("BLEU", "chrF2"), in their order.
    for key, name in zip(metrics, [k for k in scores if k != "System"], strict=True):
        base, other = scores[name]
        out[key] = {
            "baseline": base.score,
            "system": other.score,
            "p_value": other.p_value,
            "significant": bool(other.p_value < alpha and other.score != base.score),
        }
        out[f"{key}_signature"] = str(signatures[name])
    return out


# --- translation retrieval (notebook 01) --------------------------------------------


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


def _embed_all(embed, tokenizer: Tokenizer, sentences, batch_size: int) -> np.ndarray:
    """`N` sentences → `[N, E]` float64 embeddings, in order, `batch_size` at a time."""
    chunks = []
    for i in range(0, len(sentences), batch_size):
        ids = tokenizer.tokenize(list(sentences[i : i + batch_size])).to_tensor()  # [b, S]
        chunks.append(ops.convert_to_numpy(embed(ids)).astype(np.float64))
    return np.concatenate(chunks, axis=0)


def sentence_vectors(
    model, tokenizer: Tokenizer, sentences: Sequence[str], *, side: str, batch_size: int = 256
) -> np.ndarray:
    """A dual encoder's vectors of `sentences`, as the retrieval metrics compute them.

    Args:
        model: a `DualEncoder`, or anything with `embed_source` and `embed_target`.
        tokenizer: the tokenizer of that side.
        sentences: the `N` raw sentences.
        side: `"source"` (`model.embed_source`) or `"target"` (`model.embed_target`).
        batch_size: sentences embedded at once. Defaults to 256.

    Returns:
        `[N, E]` float64 array, in the order of `sentences` (unit rows for a `DualEncoder`:
        a product of two rows is their cosine).
    """
    if side not in ("source", "target"):
        raise ValueError(f"side must be 'source' or 'target', got {side!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    if not len(sentences):
        raise ValueError("no sentences to embed")
    return _embed_all(getattr(model, f"embed_{side}"), tokenizer, list(sentences), batch_size)


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
    sources = sentence_vectors(
        model, source_tokenizer, data.source, side="source", batch_size=batch_size
    )  # [N, E]
    targets = sentence_vectors(
        model, target_tokenizer, data.target, side="target", batch_size=batch_size
    )  # [N, E]
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
