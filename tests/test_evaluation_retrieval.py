"""Retrieval verdicts per sentence and per source length (notebook 01's last section).

A stand-in "model" embeds each sentence by a vector chosen by its text, so the right
answer of every query is known by construction.
"""

import numpy as np
import pytest

from s2s_keras.evaluation import (
    retrieval_accuracy,
    retrieval_by_length,
    retrieval_hits,
    sentence_vectors,
)
from s2s_keras.text import WordTokenizer
from s2s_keras.types import ParallelText

# Sources of 1, 1, 2, 6 and 7 words; the two long ones will be given swapped vectors.
PAIRS = ParallelText(
    ("Alpha.", "Bravo.", "Charlie delta.", "Echo foxtrot golf hotel india juliett.",
     "Kilo lima mike november oscar papa quebec."),
    ("Uno.", "Dos.", "Tres cuatro.", "Cinco seis siete ocho nueve diez.",
     "Once doce trece catorce quince dieciseis diecisiete."),
)  # fmt: skip


class ByText:
    """Embeds a row of ids by the vector given to the sentence they spell.

    Args:
        tokenizer: the tokenizer of this side.
        vectors: `{sentence: vector}`.
    """

    def __init__(self, tokenizer, vectors):
        ids = tokenizer.tokenize(list(vectors)).to_tensor().numpy()
        self.table = {
            tuple(row[row != 0]): np.asarray(v, "float32")
            for row, v in zip(ids, vectors.values(), strict=True)
        }

    def __call__(self, ids):
        ids = np.asarray(ids)
        return np.stack([self.table[tuple(row[row != 0])] for row in ids])


@pytest.fixture(scope="module")
def setup():
    source_tokenizer = WordTokenizer.from_texts(PAIRS.source)
    target_tokenizer = WordTokenizer.from_texts(PAIRS.target)
    basis = np.eye(len(PAIRS))
    source_vectors = dict(zip(PAIRS.source, basis, strict=True))
    target_vectors = dict(zip(PAIRS.target, basis[[0, 1, 2, 4, 3]], strict=True))  # swap 3, 4

    class Model:  # the protocol: embed_source / embed_target
        embed_source = ByText(source_tokenizer, source_vectors)
        embed_target = ByText(target_tokenizer, target_vectors)

    return Model(), source_tokenizer, target_tokenizer


@pytest.mark.parametrize("batch_size", [1, 2, 256])
def test_hits_mark_exactly_the_pairs_whose_translation_wins(setup, batch_size):
    model, source_tokenizer, target_tokenizer = setup
    hits = retrieval_hits(model, PAIRS, source_tokenizer, target_tokenizer, batch_size)
    assert hits.dtype == bool
    np.testing.assert_array_equal(hits, [True, True, True, False, False])
    accuracy = retrieval_accuracy(model, PAIRS, source_tokenizer, target_tokenizer, batch_size)
    assert accuracy == pytest.approx(0.6)


@pytest.mark.parametrize("batch_size", [1, 2, 256])
def test_sentence_vectors_embed_each_side_in_order(setup, batch_size):
    model, source_tokenizer, target_tokenizer = setup
    sources = sentence_vectors(
        model, source_tokenizer, PAIRS.source, side="source", batch_size=batch_size
    )
    targets = sentence_vectors(
        model, target_tokenizer, PAIRS.target, side="target", batch_size=batch_size
    )
    assert sources.dtype == np.float64
    np.testing.assert_array_equal(sources, np.eye(5))
    np.testing.assert_array_equal(targets, np.eye(5)[[0, 1, 2, 4, 3]])
    with pytest.raises(ValueError, match="side must be"):
        sentence_vectors(model, source_tokenizer, PAIRS.source, side="both")
    with pytest.raises(ValueError, match="no sentences"):
        sentence_vectors(model, source_tokenizer, [], side="source")


def test_by_length_counts_and_scores_each_bucket_and_skips_empty_ones(setup):
    model, source_tokenizer, target_tokenizer = setup
    rows = retrieval_by_length(
        model, PAIRS, source_tokenizer, target_tokenizer, edges=(0, 2, 5, 20)
    )
    assert rows == [
        {"bucket": "0-1", "min": 0, "max": 1, "sentences": 2, "accuracy": 1.0},
        {"bucket": "2-4", "min": 2, "max": 4, "sentences": 1, "accuracy": 1.0},
        {"bucket": "5-19", "min": 5, "max": 19, "sentences": 2, "accuracy": 0.0},
    ]  # no sentence has 20+ words: that bucket is left out


def test_the_last_bucket_is_open_ended(setup):
    model, source_tokenizer, target_tokenizer = setup
    rows = retrieval_by_length(model, PAIRS, source_tokenizer, target_tokenizer, edges=(0, 7))
    assert [(r["bucket"], r["max"], r["sentences"]) for r in rows] == [
        ("0-6", 6, 4),
        ("7+", None, 1),
    ]
    assert rows[1]["accuracy"] == 0.0 and rows[0]["accuracy"] == 0.75


@pytest.mark.parametrize("edges", [(), (0, 5, 5), (10, 2)])
def test_rejects_edges_that_do_not_increase(setup, edges):
    model, source_tokenizer, target_tokenizer = setup
    with pytest.raises(ValueError, match="edges must be a non-empty increasing sequence"):
        retrieval_by_length(model, PAIRS, source_tokenizer, target_tokenizer, edges=edges)
