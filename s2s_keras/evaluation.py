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
def masked_loss(y_true, y_pred):
    """Token cross-entropy averaged over real (non-padding) target tokens.

    Args:
        y_true: `[B, T]` int ids, 0 is padding.
        y_pred: `[B, T, V]` logits.
    """
    loss = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)
    mask = ops.cast(ops.not_equal(y_true, 0), loss.dtype)
    return ops.sum(loss * mask) / ops.maximum(ops.sum(mask), 1.0)


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
