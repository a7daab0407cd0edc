"""Plots with Chinese text: a CJK font is chosen where the text needs one."""

import warnings

import numpy as np
import pytest

from s2s_keras import plots


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
