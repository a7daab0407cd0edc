"""The attention explorer's logic, on the baseline models, without a browser."""

from pathlib import Path

import numpy as np
import pytest

from s2s_keras import explorer
from s2s_keras.bundle import TrainedModel
from s2s_keras.export import export_saved_model, load_translator

BASELINE = Path(__file__).parent / "fixtures" / "baseline"
SENTENCE = "a big dog sees the small bird"


@pytest.fixture(scope="module")
def models():
    return {
        name: TrainedModel.load(BASELINE / f"{name}_model") for name in ("bahdanau", "transformer")
    }


@pytest.fixture(scope="module")
def exported(models, tmp_path_factory):
    """Each baseline model exported with beam 2, loaded."""
    return {
        name: load_translator(
            export_saved_model(trained, tmp_path_factory.mktemp(name) / "export", beam_size=2)
        )
        for name, trained in models.items()
    }


def test_the_n_best_list_is_beam_search_best_first(models):
    trained = models["transformer"]
    found = explorer.explore(trained, SENTENCE, beam_size=3, name="transformer")
    assert len(found.hypotheses) == 3
    scores = [h.score for h in found.hypotheses]
    assert scores == sorted(scores, reverse=True)
    best = trained.translate([SENTENCE], method="beam", beam_size=3)[0]
    assert found.hypotheses[0].text == best
    assert found.source_tokens[0] == "[START]" and found.source_tokens[-1] == "[END]"


def test_each_hypothesis_has_every_layer_and_head_summing_to_one(models):
    found = explorer.explore(models["transformer"], SENTENCE, beam_size=2)
    for hypothesis in found.hypotheses:
        assert hypothesis.tokens[-1] == "[END]"
        # [layers, N, T, S]: 1 layer, 2 heads in the baseline Transformer.
        assert hypothesis.attention.shape == (
            1,
            2,
            len(hypothesis.tokens),
            len(found.source_tokens),
        )
        np.testing.assert_allclose(hypothesis.attention.sum(axis=-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("name", ["bahdanau", "transformer"])
def test_beam_one_shows_the_greedy_translation_and_its_attention(models, name):
    from s2s_keras.decoding import attention_map

    trained = models[name]
    [hypothesis] = explorer.explore(trained, SENTENCE, beam_size=1).hypotheses
    assert hypothesis.text == trained.translate([SENTENCE])[0]
    _, tokens, weights = attention_map(
        trained.model, trained.source_tokenizer, trained.target_tokenizer, SENTENCE
    )
    assert hypothesis.tokens == tokens
    # The greedy map is the last layer's mean over heads.
    np.testing.assert_allclose(explorer.weights(hypothesis), weights, atol=1e-6)


@pytest.mark.parametrize("name", ["bahdanau", "transformer"])
def test_an_exported_model_gives_the_attention_of_the_model_in_memory(models, exported, name):
    in_memory = explorer.explore(models[name], SENTENCE, beam_size=2).hypotheses[0]
    found = explorer.explore(exported[name], SENTENCE)
    [from_export] = found.hypotheses
    assert from_export.score is None
    assert from_export.text == in_memory.text
    assert from_export.tokens == in_memory.tokens
    assert found.source_tokens == explorer.explore(models[name], SENTENCE).source_tokens
    np.testing.assert_allclose(from_export.attention, in_memory.attention, atol=1e-5)


def test_an_empty_sentence_has_nothing_to_show(models, exported):
    assert explorer.explore(models["bahdanau"], "   ").hypotheses == []
    assert explorer.explore(exported["bahdanau"], "").hypotheses == []


def test_a_model_without_attention_is_refused(models):
    from s2s_keras.models import build_model, model_config

    base = models["bahdanau"]
    config = model_config("seq2seq", embedding_dim=4, units=4)
    network = build_model(
        config, base.source_tokenizer.vocab_size, base.target_tokenizer.vocab_size
    )
    trained = TrainedModel(network, base.source_tokenizer, base.target_tokenizer, {})
    with pytest.raises(ValueError, match="Seq2Seq has no attention to show"):
        explorer.explore(trained, SENTENCE)


def test_choosing_a_layer_or_head_out_of_range_says_what_exists(models):
    [hypothesis] = explorer.explore(models["transformer"], SENTENCE, beam_size=1).hypotheses
    np.testing.assert_allclose(
        explorer.weights(hypothesis, head=None), hypothesis.attention[-1].mean(axis=0)
    )
    np.testing.assert_array_equal(explorer.weights(hypothesis, head=1), hypothesis.attention[0, 1])
    with pytest.raises(ValueError, match=r"head must be in \[0, 1\] or None, got 2"):
        explorer.weights(hypothesis, head=2)
    with pytest.raises(ValueError, match=r"layer must be in \[-1, 0\], got 1"):
        explorer.weights(hypothesis, layer=1)
    with pytest.raises(ValueError, match="beam_size must be a positive integer, got 0"):
        explorer.explore(models["transformer"], SENTENCE, beam_size=0)


def test_the_widget_follows_its_controls(models, exported):
    view = explorer.AttentionExplorer(
        {"transformer": models["transformer"], "exported": exported["bahdanau"]},
        sentence=SENTENCE,
        beam_size=3,
    )
    assert len(view.hypothesis.options) == 3
    assert view.nbest.value.count("<tr>") == 4  # a header and three hypotheses
    assert view.head.options == (("mean", None), ("1", 0), ("2", 1))
    assert view.figure.axes[0].get_title() == "transformer: hypothesis 1, mean of the heads"
    view.head.value = 1
    assert view.figure.axes[0].get_title() == "transformer: hypothesis 1, head 2 of 2"
    view.hypothesis.value = 2
    assert view.figure.axes[0].get_title() == "transformer: hypothesis 3, head 2 of 2"
    view.model.value = "exported"
    assert view.beam.disabled and len(view.hypothesis.options) == 1
    assert view.figure.axes[0].get_title() == "exported: hypothesis 1"
    view.sentence.value = " "
    assert view.nbest.value == "<i>nothing to translate</i>" and view.figure is None


def test_recomputed_greedy_decoding_takes_a_batch_of_one_first(models):
    """Its loop keeps the batch dimension unknown, even when the first batch has one row."""
    from s2s_keras.decoding import greedy_decode, greedy_decode_recomputed

    trained = models["transformer"]
    ids = trained.source_tokenizer.tokenize([SENTENCE]).to_tensor()  # [1, S]
    np.testing.assert_array_equal(
        greedy_decode_recomputed(trained.model, ids, 8), greedy_decode(trained.model, ids, 8)[0]
    )
