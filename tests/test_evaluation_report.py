"""Error analysis and result charts of notebook 07."""

import pytest

from s2s_keras.evaluation import corpus_scores, sentence_chrf
from s2s_keras.plots import grouped_bar_chart


def test_sentence_chrf_is_100_for_an_exact_match_and_0_with_nothing_shared():
    scores = sentence_chrf(["the cat sat", "xyz", "the cat"], ["the cat sat", "abc", "the cat sat"])
    assert scores[0] == pytest.approx(100.0)
    assert scores[1] == 0.0
    assert 0.0 < scores[2] < 100.0


def test_sentence_chrf_of_one_sentence_equals_corpus_chrf_of_that_sentence():
    hyp, ref = "a dog runs in the park", "the dog is running in the park"
    assert sentence_chrf([hyp], [ref])[0] == pytest.approx(corpus_scores([hyp], [ref])["chrf"])


def test_sentence_chrf_rejects_misaligned_inputs():
    with pytest.raises(ValueError, match="2 hypotheses for 1 references"):
        sentence_chrf(["a", "b"], ["a"])


def test_grouped_bar_chart_draws_one_labelled_bar_per_group_and_series():
    fig = grouped_bar_chart(
        {
            "seq2seq": {"greedy": 20.0, "beam 4": 21.5},
            "bahdanau": {"greedy": 30.0, "beam 4": 31.25},
        },
        ylabel="BLEU",
        title="test",
    )
    ax = fig.axes[0]
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights == [20.0, 21.5, 30.0, 31.25]
    labels = sorted(t.get_text() for t in ax.texts)
    assert labels == ["20.0", "21.5", "30.0", "31.2"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["seq2seq", "bahdanau"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["greedy", "beam 4"]


def test_grouped_bar_chart_rejects_groups_with_different_series():
    with pytest.raises(ValueError, match="every group needs the series"):
        grouped_bar_chart({"a": {"greedy": 1.0}, "b": {"beam 4": 2.0}}, ylabel="BLEU")
