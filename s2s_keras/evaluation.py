"""Losses, metrics and the evaluation protocol (DESIGN §5).

Introduced in notebook 02 (masked loss, BLEU); notebook 07 applies it to every model.
BLEU and chrF come from sacrebleu only: hypotheses are detokenized plain text, the
references the raw corpus lines, BLEU lower-cased with the 13a tokenizer.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import sacrebleu
from keras import ops


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


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict:
    """Corpus BLEU and chrF with their sacrebleu signatures (DESIGN §5).

    Args:
        hypotheses: detokenized system outputs, one per line.
        references: the raw reference lines, aligned with `hypotheses`.

    Returns:
        `{"bleu": float, "chrf": float, "bleu_signature": str, "chrf_signature": str,
        "sentences": int}`.
    """
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references):
        raise ValueError(f"got {len(hypotheses)} hypotheses for {len(references)} references")
    bleu = sacrebleu.metrics.BLEU(lowercase=True)
    chrf = sacrebleu.metrics.CHRF()
    return {
        "bleu": bleu.corpus_score(hypotheses, [references]).score,
        "chrf": chrf.corpus_score(hypotheses, [references]).score,
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


def bleu_by_length(
    sources: Sequence[str],
    hypotheses: Sequence[str],
    references: Sequence[str],
    edges: Sequence[int] = (0, 5, 10, 15, 20, 30),
) -> list[dict]:
    """Corpus BLEU per bucket of source length (in whitespace-separated words).

    The plot of notebook 02: a fixed context vector loses ground as sentences grow,
    attention much less so (Bahdanau et al. 2015, Figure 2; Cho et al. 2014b).

    Args:
        sources, hypotheses, references: aligned lines.
        edges: bucket lower bounds; the last bucket is open-ended.

    Returns:
        One dict per non-empty bucket: `{"bucket": "10-14", "min": 10, "max": 14,
        "sentences": n, "bleu": float}` (`max` is None for the open bucket).
    """
    if not len(sources) == len(hypotheses) == len(references):
        raise ValueError(
            f"got {len(sources)} sources, {len(hypotheses)} hypotheses and "
            f"{len(references)} references; they must be aligned"
        )
    bleu = sacrebleu.metrics.BLEU(lowercase=True)
    rows = []
    bounds = list(edges) + [None]
    for low, high in zip(bounds[:-1], bounds[1:], strict=True):
        picked = [
            i
            for i, s in enumerate(sources)
            if len(s.split()) >= low and (high is None or len(s.split()) < high)
        ]
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
