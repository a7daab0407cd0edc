"""Plots: what each figure draws, and a CJK font where the text needs one."""

import warnings

import numpy as np
import pytest
from matplotlib.collections import LineCollection

from s2s_keras import plots
from s2s_keras.plots import (
    attention_heatmap,
    bar_chart,
    decoding_sweep,
    grouped_bar_chart,
    learning_curves,
    length_histograms,
    sentence_vectors,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tom游泳。", True),
        ("。", True),
        ("汤姆", True),
        ("東京", True),
        ("café", False),
        ("", False),
    ],
)
def test_cjk_text_is_recognised(text, expected):
    assert plots.needs_cjk_font(text) is expected


@pytest.mark.skipif(
    plots.cjk_font() is None, reason="no CJK font installed (`make test` installs one as root)"
)
def test_a_heatmap_over_characters_draws_without_missing_glyphs(tmp_path):
    source = ["[START]", "汤", "姆", "游", "泳", "。", "[END]"]
    target = ["tom", "swims", ".", "[END]"]
    weights = np.full((len(target), len(source)), 1 / len(source))
    fig = plots.attention_heatmap(weights, source, target, title="汤姆游泳。")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph is a UserWarning
        fig.savefig(tmp_path / "zh.png")
    font = plots.cjk_font()
    assert font in plots.CJK_FONTS
    labels = {t.get_text(): t for t in fig.axes[0].get_xticklabels()}
    assert font in labels["汤"].get_fontfamily()
    assert labels["[START]"].get_fontfamily()[0] == "DejaVu Sans"  # Latin glyphs first
    assert font in fig.axes[0].title.get_fontfamily()


def test_a_plot_without_chinese_keeps_the_default_font():
    fig = plots.attention_heatmap(np.eye(2), ["a", "b"], ["c", "d"], title="plain")
    assert fig.axes[0].title.get_fontfamily() == ["sans-serif"]


def test_attention_heatmap_labels_rows_with_output_and_columns_with_source():
    weights = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0]])
    fig = attention_heatmap(weights, ["a", "b", "[END]"], ["x", "y"], title="t")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "[END]"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x", "y"]
    np.testing.assert_array_equal(ax.images[0].get_array(), weights)


def test_learning_curves_draw_train_and_validation_per_metric():
    history = {"loss": [2.0, 1.0], "val_loss": [2.5, 1.5], "masked_accuracy": [0.1, 0.5]}
    fig = learning_curves(history)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "masked_accuracy"]
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 1


def test_length_histograms_draw_one_outline_per_name_with_one_bin_per_length():
    fig = length_histograms({"source": [1, 2, 2, 5], "target": [3, 3, 4]})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["source", "target"]
    assert len(ax.patches) == 2
    # A step outline of one-wide bins rises to the highest count: 2 (for length 2 or 3).
    assert max(y for patch in ax.patches for _, y in patch.get_xy()) == 2


def test_bar_chart_writes_each_value_on_its_bar():
    fig = bar_chart({"plain": 0.5, "bucketed": 0.875}, ylabel="efficiency")
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.containers[0]] == [0.5, 0.875]
    assert [t.get_text() for t in ax.texts] == ["0.50", "0.88"]


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


def test_sentence_vectors_project_pairs_on_shared_axes_and_join_them():
    rng = np.random.default_rng(0)
    # Variance along the first two of 6 dimensions only: PCA must recover those two.
    sources = np.zeros((10, 6))
    sources[:, :2] = rng.normal(size=(10, 2)) * [5.0, 2.0]
    targets = sources + 0.01
    fig = sentence_vectors(sources, targets, labels=("es", "en"))
    ax = fig.axes[0]
    lines = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(lines) == 1 and len(lines[0].get_segments()) == 10
    points = [c for c in ax.collections if not isinstance(c, LineCollection)]
    assert [len(c.get_offsets()) for c in points] == [10, 10]
    # Nearly identical pairs: each line is short next to the spread of the points.
    segments = np.asarray(lines[0].get_segments())  # [N, 2, 2]
    spread = np.ptp(points[0].get_offsets(), axis=0).max()
    assert np.linalg.norm(segments[:, 0] - segments[:, 1], axis=-1).max() < 0.01 * spread
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["es", "en"]
    # All the variance lies in the two dimensions shown: the axis labels add up to 100 %.
    shares = [
        int(label.split("(")[1].split("%")[0]) for label in (ax.get_xlabel(), ax.get_ylabel())
    ]
    assert shares[0] >= shares[1] and sum(shares) == 100


def test_sentence_vectors_reject_mismatched_shapes():
    with pytest.raises(ValueError, match=r"got \(3, 4\) and \(2, 4\)"):
        sentence_vectors(np.zeros((3, 4)), np.zeros((2, 4)))


ROWS = [
    {"beam_size": k, "alpha": a, "bleu": 20 + k + a, "sentences_per_second": 100 / k}
    for a in (0.0, 0.6)
    for k in (1, 2, 4, 8)
]


def test_decoding_sweep_draws_one_line_per_alpha_in_both_panels():
    fig = decoding_sweep(ROWS)
    assert len(fig.axes) == 2
    bleu, speed = fig.axes
    assert [line.get_label() for line in bleu.get_lines()] == ["α = 0", "α = 0.6"]
    np.testing.assert_array_equal(bleu.get_lines()[1].get_xdata(), [1, 2, 4, 8])
    np.testing.assert_allclose(bleu.get_lines()[1].get_ydata(), [21.6, 22.6, 24.6, 28.6])
    np.testing.assert_allclose(speed.get_lines()[0].get_ydata(), [100, 50, 25, 12.5])
    assert [t.get_text() for t in bleu.get_xticklabels()] == ["1", "2", "4", "8"]
    assert speed.get_ylabel() == "sentences / s"


def test_decoding_sweep_rejects_no_rows():
    with pytest.raises(ValueError, match="at least one row"):
        decoding_sweep([])


def test_learning_curves_use_the_step_log_when_there_is_one():
    history = {
        "loss": [2.0, 1.0],
        "val_loss": [2.5, 1.5],
        "step": [100, 200, 250, 350, 450, 500],
        "step_loss": [3.0, 2.0, 1.8, 1.2, 1.0, 0.9],
        "val_step": [250, 500],
    }
    ax = learning_curves(history, metrics=("loss",)).axes[0]
    train_line, validation_line = ax.lines
    assert list(train_line.get_xdata()) == history["step"] and ax.get_xlabel() == "training step"
    assert list(validation_line.get_xdata()) == [250, 500]
    assert list(validation_line.get_ydata()) == [2.5, 1.5]
