"""The encoder-only model of notebook 01: a dual encoder that retrieves translations.

What it promises: sentence vectors are unit vectors that do not depend on padding; the
logits are the scaled cosines of every source against every target of the batch; the
loss is the symmetric in-batch softmax; retrieval accuracy is exact and deterministic;
configs round-trip and a `.keras` file reloads to the same embeddings; a few epochs on
300 toy pairs learn to retrieve far better than chance.
"""

import keras
import numpy as np
import pytest

from s2s_keras.evaluation import in_batch_accuracy, retrieval_accuracy
from s2s_keras.models.encoder_only import (
    MAX_SCALE,
    DualEncoder,
    DualEncoderConfig,
    in_batch_softmax_loss,
)
from s2s_keras.pipeline import make_retrieval_dataset
from s2s_keras.text import WordTokenizer
from s2s_keras.toy import generate_pairs
from s2s_keras.types import ParallelText

# A hand-made [B, B] = [3, 3] logits matrix: rows are sources, columns targets.
LOGITS = np.array([[2.0, 0.5, -1.0], [0.3, 1.5, 0.2], [-0.5, 1.0, 0.7]], dtype="float32")


@pytest.fixture(scope="module")
def toy():
    """300 toy pairs and the word tokenizers of both sides."""
    data = ParallelText(*map(tuple, zip(*generate_pairs(300), strict=True)))
    return data, WordTokenizer.from_texts(data.source), WordTokenizer.from_texts(data.target)


def tiny(toy, seed=0, **kwargs):
    _, source_tokenizer, target_tokenizer = toy
    keras.utils.set_random_seed(seed)
    sizes = {"embedding_dim": 16, "token_dim": 16, "units": 16, **kwargs}
    return DualEncoder(source_tokenizer.vocab_size, target_tokenizer.vocab_size, **sizes)


def padded_ids(tokenizer, sentences):
    return tokenizer.tokenize(list(sentences)).to_tensor().numpy()  # [B, S]


def log_softmax(x, axis):
    x = x - x.max(axis=axis, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


# --- the model ----------------------------------------------------------------------


def test_config_round_trips():
    model = DualEncoder(11, 12, embedding_dim=6, units=5, pooling="mean", dropout=0.1, scale=3.0)
    config = model.get_config()
    assert DualEncoder.from_config(config).get_config() == config


def test_from_config_object_uses_its_sizes_and_choices():
    config = DualEncoderConfig(embedding_dim=6, token_dim=7, units=5, pooling="mean")
    model = DualEncoder.from_config_object(config, 11, 12)
    got = model.get_config()
    assert (got["source_vocab_size"], got["target_vocab_size"]) == (11, 12)
    assert {k: got[k] for k in DualEncoderConfig.__dataclass_fields__} == {
        "embedding_dim": 6,
        "token_dim": 7,
        "units": 5,
        "pooling": "mean",
        "dropout": 0.0,
        "scale": 10.0,
        "learn_scale": True,
    }


def test_rejects_an_unknown_pooling_and_echoes_it():
    with pytest.raises(ValueError, match="pooling must be one of .*got 'max'$"):
        DualEncoder(11, 12, pooling="max")


@pytest.mark.parametrize("scale", [0.0, -1.0, MAX_SCALE + 1])
def test_rejects_a_scale_outside_its_range(scale):
    with pytest.raises(ValueError, match=f"scale must be in .*got {scale!r}$"):
        DualEncoder(11, 12, scale=scale)


def test_call_gives_float32_logits_of_shape_batch_by_batch(toy):
    data, source_tokenizer, target_tokenizer = toy
    source = padded_ids(source_tokenizer, data.source[:5])
    target = padded_ids(target_tokenizer, data.target[:5])
    model = tiny(toy)
    logits = model((source, target))
    assert tuple(logits.shape) == (5, 5)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert tuple(model.embed_source(source).shape) == (5, 16)  # [B, E]
    assert tuple(model.embed_target(target[:3]).shape) == (3, 16)
    symbolic = model((keras.Input((None,), dtype="int32"), keras.Input((None,), dtype="int32")))
    assert tuple(symbolic.shape) == (None, None)


def test_logits_are_the_scaled_cosines_of_the_embeddings(toy):
    data, source_tokenizer, target_tokenizer = toy
    source = padded_ids(source_tokenizer, data.source[:4])
    target = padded_ids(target_tokenizer, data.target[:4])
    model = tiny(toy, scale=3.0)
    cosines = model.embed_source(source).numpy() @ model.embed_target(target).numpy().T
    np.testing.assert_allclose(model((source, target)), 3.0 * cosines, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pooling", ["final", "mean"])
def test_embeddings_are_unit_vectors(toy, pooling):
    data, source_tokenizer, target_tokenizer = toy
    model = tiny(toy, pooling=pooling)
    for embed, ids in (
        (model.embed_source, padded_ids(source_tokenizer, data.source[:6])),
        (model.embed_target, padded_ids(target_tokenizer, data.target[:6])),
    ):
        vectors = embed(ids).numpy()
        assert vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=-1), np.ones(6), rtol=1e-6)


@pytest.mark.parametrize("pooling", ["final", "mean"])
def test_trailing_padding_does_not_change_sentence_vectors(toy, pooling):
    data, source_tokenizer, target_tokenizer = toy
    model = tiny(toy, pooling=pooling)
    # Sentences of different lengths, so most rows are padded already.
    source = padded_ids(source_tokenizer, data.source[:6])
    target = padded_ids(target_tokenizer, data.target[:6])
    assert (source == 0).any() and (target == 0).any()
    for embed, ids in ((model.embed_source, source), (model.embed_target, target)):
        longer = np.pad(ids, [(0, 0), (0, 5)])  # five more padding columns
        np.testing.assert_allclose(embed(longer), embed(ids), rtol=0, atol=1e-6)


def test_a_fixed_scale_is_not_trained(toy):
    fixed, learned = tiny(toy, learn_scale=False), tiny(toy)
    for model in (fixed, learned):
        model.build(((None, None), (None, None)))
    assert all(w.name != "log_scale" for w in fixed.trainable_weights)
    assert any(w.name == "log_scale" for w in learned.trainable_weights)
    assert float(fixed.logit_scale()) == pytest.approx(10.0)


def test_mixed_precision_keeps_embeddings_and_logits_float32(toy):
    data, source_tokenizer, target_tokenizer = toy
    source = padded_ids(source_tokenizer, data.source[:4])
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        model = tiny(toy)
        assert model.source_encoder.compute_dtype == "float16"
        vectors = model.embed_source(source).numpy()
        assert vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=-1), np.ones(4), rtol=1e-6)
        logits = model((source, padded_ids(target_tokenizer, data.target[:4])))
        assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


# --- loss and metric ----------------------------------------------------------------


def test_in_batch_softmax_loss_equals_numpy_symmetric_cross_entropy():
    rows = -np.diag(log_softmax(LOGITS.astype(np.float64), axis=1))  # source → target
    columns = -np.diag(log_softmax(LOGITS.astype(np.float64), axis=0))  # target → source
    per_pair = in_batch_softmax_loss(np.full(3, 7.0), LOGITS)  # y_true: ignored
    np.testing.assert_allclose(per_pair, 0.5 * (rows + columns), rtol=1e-6)


def test_in_batch_accuracy_counts_rows_whose_diagonal_wins():
    np.testing.assert_array_equal(in_batch_accuracy(None, LOGITS), [1.0, 1.0, 0.0])


def test_loss_and_metric_are_registered_for_saving():
    for fn in (in_batch_softmax_loss, in_batch_accuracy):
        name = keras.saving.get_registered_name(fn)
        assert name == f"s2s_keras>{fn.__name__}"
        assert keras.saving.get_registered_object(name) is fn


# --- the dataset --------------------------------------------------------------------


def test_retrieval_dataset_gives_full_aligned_batches_of_mixed_lengths(toy):
    data, source_tokenizer, target_tokenizer = toy
    ds = make_retrieval_dataset(data, source_tokenizer, target_tokenizer, batch_size=32, seed=1)
    assert int(ds.cardinality()) == 300 // 32  # the last 12 pairs are dropped
    source_ids = padded_ids(source_tokenizer, data.source)
    target_ids = padded_ids(target_tokenizer, data.target)
    translation = {
        tuple(s[s != 0]): tuple(t[t != 0]) for s, t in zip(source_ids, target_ids, strict=True)
    }
    batches = list(ds.as_numpy_iterator())
    assert len(batches) == 9
    for (source, target), labels in batches:
        assert source.shape[0] == target.shape[0] == 32
        np.testing.assert_array_equal(labels, np.zeros(32, "float32"))
        for s, t in zip(source, target, strict=True):
            assert translation[tuple(s[s != 0])] == tuple(t[t != 0])
    # No bucketing: a batch mixes short and long sentences.
    lengths = (batches[0][0][0] != 0).sum(axis=1)
    assert lengths.max() - lengths.min() >= 5


def test_retrieval_dataset_order_follows_the_seed(toy):
    data, source_tokenizer, target_tokenizer = toy

    def first_sources(seed):
        ds = make_retrieval_dataset(
            data, source_tokenizer, target_tokenizer, batch_size=8, seed=seed
        )
        return next(iter(ds))[0][0].numpy()

    np.testing.assert_array_equal(first_sources(3), first_sources(3))
    assert not np.array_equal(first_sources(3), first_sources(4))


def test_retrieval_dataset_rejects_fewer_pairs_than_one_batch(toy):
    data, source_tokenizer, target_tokenizer = toy
    with pytest.raises(ValueError, match="got 10 sentence pairs, fewer than one full batch of 32"):
        make_retrieval_dataset(data.take(10), source_tokenizer, target_tokenizer, batch_size=32)


# --- retrieval accuracy -------------------------------------------------------------

PAIRS = ParallelText(("Alpha.", "Bravo.", "Charlie."), ("Uno.", "Dos.", "Tres."))
X, Y, Z = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]


class StandIn:
    """A "model" that embeds each sentence as a fixed vector, looked up by its first word.

    Args:
        data: the pairs; every sentence is one word and a full stop.
        source_vectors, target_vectors: `{word: vector}` for each side.
    """

    def __init__(self, data, source_vectors, target_vectors):
        self.source_tokenizer = WordTokenizer.from_texts(data.source)
        self.target_tokenizer = WordTokenizer.from_texts(data.target)
        self.source = self._by_id(self.source_tokenizer, source_vectors)
        self.target = self._by_id(self.target_tokenizer, target_vectors)

    @staticmethod
    def _by_id(tokenizer, vectors):
        return {
            int(tokenizer.tokenize([word], add_markers=False)[0, 0]): np.asarray(v, "float32")
            for word, v in vectors.items()
        }

    @staticmethod
    def _embed(table, ids):
        return np.stack([table[int(i)] for i in np.asarray(ids)[:, 1]])  # after [START]

    def embed_source(self, ids):
        return self._embed(self.source, ids)

    def embed_target(self, ids):
        return self._embed(self.target, ids)

    def accuracy(self, data, batch_size):
        return retrieval_accuracy(
            self, data, self.source_tokenizer, self.target_tokenizer, batch_size=batch_size
        )


@pytest.mark.parametrize("batch_size", [1, 2, 256])
def test_retrieval_accuracy_is_one_when_embeddings_are_one_hot_by_sentence(batch_size):
    model = StandIn(PAIRS, {"Alpha": X, "Bravo": Y, "Charlie": Z}, {"Uno": X, "Dos": Y, "Tres": Z})
    assert model.accuracy(PAIRS, batch_size) == 1.0


@pytest.mark.parametrize("batch_size", [1, 2, 256])
def test_retrieval_accuracy_is_one_third_when_two_of_three_sources_swap(batch_size):
    model = StandIn(PAIRS, {"Alpha": X, "Bravo": Z, "Charlie": Y}, {"Uno": X, "Dos": Y, "Tres": Z})
    assert model.accuracy(PAIRS, batch_size) == 1 / 3


def test_retrieval_accuracy_accepts_a_duplicate_of_the_reference():
    pairs = ParallelText(("Alpha.", "Bravo.", "Charlie."), ("Uno.", "Dos.", "Uno."))
    model = StandIn(pairs, {"Alpha": X, "Bravo": Y, "Charlie": X}, {"Uno": X, "Dos": Y})
    # "Charlie." ties between targets 0 and 2, both "Uno.": the first wins, and counts.
    assert model.accuracy(pairs, 256) == 1.0


def test_retrieval_accuracy_of_a_model_does_not_depend_on_batch_size(toy):
    data, source_tokenizer, target_tokenizer = toy
    model, subset = tiny(toy), data.take(20)
    by_7 = retrieval_accuracy(model, subset, source_tokenizer, target_tokenizer, batch_size=7)
    assert by_7 == retrieval_accuracy(model, subset, source_tokenizer, target_tokenizer)


# --- training and saving ------------------------------------------------------------


def compiled(model, learning_rate=1e-2):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=in_batch_softmax_loss,
        metrics=[in_batch_accuracy],
    )
    return model


def test_fits_a_step_then_reloads_to_identical_embeddings(toy, tmp_path):
    data, source_tokenizer, target_tokenizer = toy
    model = compiled(tiny(toy, pooling="mean", dropout=0.1))
    ds = make_retrieval_dataset(data, source_tokenizer, target_tokenizer, batch_size=16, seed=0)
    (source, target), labels = next(iter(ds))
    # Eagerly: tracing a train step costs seconds, and the fit below traces the same graph.
    model.run_eagerly = True
    loss, accuracy = model.train_on_batch((source, target), labels)
    assert np.isfinite(loss) and 0.0 <= accuracy <= 1.0
    assert float(model.logit_scale()) != pytest.approx(10.0)  # the scale was trained
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    assert type(reloaded) is DualEncoder
    assert reloaded.get_config() == model.get_config()
    assert float(reloaded.logit_scale()) == float(model.logit_scale())
    np.testing.assert_array_equal(reloaded.embed_source(source), model.embed_source(source))
    np.testing.assert_array_equal(reloaded.embed_target(target), model.embed_target(target))
    # The compiled loss came back too; Keras averages the per-pair losses over the batch.
    logits = reloaded((source, target), training=False)
    reloaded.run_eagerly = True
    loss, _ = reloaded.test_on_batch((source, target), labels)
    assert loss == pytest.approx(float(np.mean(in_batch_softmax_loss(labels, logits))), rel=1e-5)


@pytest.mark.slow
def test_a_few_epochs_retrieve_far_better_than_chance(toy):
    data, source_tokenizer, target_tokenizer = toy
    model = compiled(tiny(toy))
    before = retrieval_accuracy(model, data, source_tokenizer, target_tokenizer)
    ds = make_retrieval_dataset(data, source_tokenizer, target_tokenizer, batch_size=30, seed=0)
    history = model.fit(ds, epochs=10, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    after = retrieval_accuracy(model, data, source_tokenizer, target_tokenizer)
    # Chance is 1/300; measured: about 0.5 after these 100 steps (training pairs).
    assert after > max(before, 0.2)
