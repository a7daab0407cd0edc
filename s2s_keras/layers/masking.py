"""Mask helpers shared by every attention layer.

Introduced in notebook 04 (Bahdanau attention). Padding id is 0 everywhere.
"""

from keras import ops


def padding_mask(ids):
    """`[B, S]` token ids → `[B, S]` bool, True on real tokens."""
    return ops.not_equal(ids, 0)


def masked_softmax(scores, mask=None):
    """Softmax over the last axis that gives masked positions exactly zero weight.

    The softmax runs in float32 whatever the compute dtype, so mixed precision cannot
    overflow; masked scores are replaced (not offset) by a large negative number whose
    `exp` underflows to exactly 0.

    Args:
        scores: `[..., S]` float scores.
        mask: bool, broadcastable to `scores`; True where attention is allowed. Every
            row needs at least one True.

    Returns:
        `[..., S]` float32 weights summing to 1.
    """
    scores = ops.cast(scores, "float32")
    if mask is not None:
        scores = ops.where(mask, scores, ops.full_like(scores, -1e9))
    return ops.softmax(scores, axis=-1)
