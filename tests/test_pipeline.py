"""The tf.data pipeline: exact teacher-forcing batches, truncation, bucketing, completeness."""

import collections

import numpy as np
import pytest
import tensorflow as tf

from s2s_keras.pipeline import make_dataset, padding_efficiency
from s2s_keras.text import WordTokenizer
from s2s_keras.toy import make_toy_corpus
from s2s_keras.types import ParallelText

PAIRS = ParallelText(("the cat", "a dog runs fast"), ("el gato", "un perro corre"))
LONG = ParallelText(
    ("one two three four five six seven", "hi"), ("uno dos tres cuatro cinco seis siete", "hola")
)


def tokenizers(data: ParallelText) -> tuple[WordTokenizer, WordTokenizer]:
    return WordTokenizer.from_texts(data.source), WordTokenizer.from_texts(data.target)


def ids(tokenizer: WordTokenizer, words: str) -> list[int]:
    return [tokenizer.vocab.index(word) for word in words.split()]


def batches(dataset) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    return [(s.numpy(), t_in.numpy(), t_out.numpy()) for (s, t_in), t_out in dataset]


def rows(dataset) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Every `(source, target_out)` pair of one epoch, padding removed."""
    return [
        (tuple(s[s != 0]), tuple(t[t != 0]))
        for source, _, target_out in batches(dataset)
        for s, t in zip(source, target_out, strict=True)
    ]


@pytest.fixture(scope="module")
def toy_train():
    return make_toy_corpus(2000, seed=0).train


@pytest.fixture(scope="module")
def toy_tokenizers(toy_train):
    return tokenizers(toy_train)


def test_batches_are_teacher_forced_exactly():
    source_tokenizer, target_tokenizer = tokenizers(PAIRS)
    assert source_tokenizer.vocab[4:] == ("a", "cat", "dog", "fast", "runs", "the")
    assert target_tokenizer.vocab[4:] == ("corre", "el", "gato", "perro", "un")
    dataset = make_dataset(
        PAIRS, source_tokenizer, target_tokenizer, batch_size=2, shuffle=False, bucket=False
    )
    [(source, target_in, target_out)] = batches(dataset)
    assert source.tolist() == [[2, 9, 5, 3, 0, 0], [2, 4, 6, 8, 7, 3]]
    assert target_in.tolist() == [[2, 5, 6, 3], [2, 8, 7, 4]]
    assert target_out.tolist() == [[5, 6, 3, 0], [8, 7, 4, 3]]


def test_batches_are_int64_matrices():
    dataset = make_dataset(PAIRS, *tokenizers(PAIRS), batch_size=2, shuffle=False)
    spec = tf.TensorSpec([None, None], tf.int64)
    assert dataset.element_spec == ((spec, spec), spec)


def test_target_in_starts_with_start_and_target_out_ends_with_one_end(toy_train, toy_tokenizers):
    dataset = make_dataset(toy_train.take(100), *toy_tokenizers, batch_size=16, seed=0)
    for _, target_in, target_out in batches(dataset):
        assert (target_in[:, 0] == 2).all()
        for row in target_out:
            unpadded = row[row != 0]
            assert unpadded[-1] == 3 and (unpadded == 3).sum() == 1, row


def test_target_in_is_target_out_shifted_right_by_one(toy_train, toy_tokenizers):
    dataset = make_dataset(toy_train.take(100), *toy_tokenizers, batch_size=16, seed=0)
    for _, target_in, target_out in batches(dataset):
        np.testing.assert_array_equal(target_in[:, 1:], target_out[:, :-1])


def test_long_sentences_are_truncated_and_the_target_keeps_its_end():
    source_tokenizer, target_tokenizer = tokenizers(LONG)
    dataset = make_dataset(
        LONG,
        source_tokenizer,
        target_tokenizer,
        batch_size=2,
        max_length=5,
        shuffle=False,
        bucket=False,
    )
    [(source, target_in, target_out)] = batches(dataset)
    one_to_four, hi = ids(source_tokenizer, "one two three four"), ids(source_tokenizer, "hi")
    assert source.tolist() == [[2, *one_to_four], [2, *hi, 3, 0, 0]]
    uno_to_tres, hola = ids(target_tokenizer, "uno dos tres"), ids(target_tokenizer, "hola")
    assert target_in.tolist() == [[2, *uno_to_tres], [2, *hola, 3, 0]]
    assert target_out.tolist() == [[*uno_to_tres, 3], [*hola, 3, 0, 0]]


def test_every_pair_appears_exactly_once_per_epoch_when_bucketed_and_shuffled(toy_train):
    data = toy_train.take(300)
    source_tokenizer, target_tokenizer = tokenizers(data)
    expected = collections.Counter(
        (tuple(s), tuple(t[1:]))
        for s, t in zip(
            source_tokenizer.tokenize(list(data.source)).to_list(),
            target_tokenizer.tokenize(list(data.target)).to_list(),
            strict=True,
        )
    )
    dataset = make_dataset(
        data, source_tokenizer, target_tokenizer, batch_size=16, shuffle=True, bucket=True, seed=1
    )
    first, second = rows(dataset), rows(dataset)
    assert collections.Counter(first) == expected
    assert collections.Counter(second) == expected
    assert first != second, "shuffle should give a new order every epoch"


def test_bucketing_wastes_less_compute_on_padding_than_plain_batching(toy_train, toy_tokenizers):
    def efficiency(bucket):
        dataset = make_dataset(toy_train, *toy_tokenizers, batch_size=32, bucket=bucket, seed=0)
        return padding_efficiency(dataset)

    bucketed, plain = efficiency(True), efficiency(False)
    assert bucketed > plain, f"bucketed {bucketed:.3f} vs plain {plain:.3f}"
    assert bucketed > 0.8, f"bucketed {bucketed:.3f} vs plain {plain:.3f}"


def _batch(source, target_out):
    """One `((source, target_in), target_out)` batch; target_in is nonzero noise."""
    source = tf.constant(source, tf.int64)
    target_out = tf.constant(target_out, tf.int64)
    return (source, tf.ones_like(target_out)), target_out


def test_padding_efficiency_counts_real_tokens_over_all_batches():
    dataset = tf.data.Dataset.from_tensors(
        _batch([[2, 5, 3, 0], [2, 3, 0, 0]], [[5, 3], [3, 0]])  # 5 + 3 real of 8 + 4
    ).concatenate(tf.data.Dataset.from_tensors(_batch([[2, 3, 0, 0]], [[3, 0]])))  # 2 + 1 of 4 + 2
    assert padding_efficiency(dataset) == 11 / 18


def test_padding_efficiency_of_an_empty_dataset_is_an_error():
    dataset = tf.data.Dataset.from_tensors(_batch([[2, 3]], [[3]])).take(0)
    with pytest.raises(ValueError, match="empty"):
        padding_efficiency(dataset)


@pytest.mark.parametrize(
    ("data", "kwargs", "message"),
    [
        (PAIRS, {"batch_size": 0}, "batch_size must be >= 1, got 0"),
        (PAIRS, {"max_length": 2}, r"max_length must be >= 3 .*, got 2"),
        (ParallelText((), ()), {}, "0 sentence pairs"),
    ],
)
def test_bad_arguments_are_rejected(data, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_dataset(data, *tokenizers(PAIRS), **kwargs)


def test_shuffling_mixes_the_whole_split_even_when_the_file_is_sorted_by_length():
    # Tatoeba files are sorted by length. A shuffle buffer smaller than the split would
    # start every epoch with the shortest pairs; the first batch must already mix in the
    # long pairs from the end of the file (here 1 in 6 of the pairs, all past 50,000).
    n, short = 60_000, 50_000
    words = ["a"] * short + ["a b c d e"] * (n - short)
    data = ParallelText(tuple(words), tuple(words))
    tokenizer = WordTokenizer.from_texts(["a b c d e"])
    ds = make_dataset(data, tokenizer, tokenizer, batch_size=64, bucket=False, seed=0)
    (source, _), _ = next(iter(ds))
    long_rows = int(np.sum(np.sum(source.numpy() != 0, axis=1) > 3))
    assert 3 <= long_rows <= 25, long_rows
