"""The plots of notebooks 01 (sentence vectors) and 03 (the beam-search sweep)."""

import numpy as np
import pytest
from matplotlib.collections import LineCollection

from s2s_keras.plots import decoding_sweep, sentence_vectors


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
