"""Plots: attention heatmaps and learning curves.

Introduced in notebook 04 (attention heatmaps). Functions return the matplotlib
`Figure` so notebooks display it and the command line saves it; colours and fonts are
chosen to read on a light background (JupyterLab's default theme and GitHub).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def attention_heatmap(
    weights, source_tokens: Sequence[str], target_tokens: Sequence[str], title: str | None = None
):
    """Heatmap of one sentence's attention: rows are output tokens, columns source tokens.

    Args:
        weights: `[T, S]` attention weights (rows sum to 1 over real source tokens).
        source_tokens: the `S` source tokens, as the model saw them.
        target_tokens: the `T` generated tokens.
        title: optional figure title.

    Returns:
        A `matplotlib.figure.Figure`.
    """
    from matplotlib.figure import Figure

    weights = np.asarray(weights, dtype=float)[: len(target_tokens), : len(source_tokens)]
    fig = Figure(figsize=(0.45 * len(source_tokens) + 2.5, 0.4 * len(target_tokens) + 1.8))
    ax = fig.add_subplot()
    image = ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(source_tokens)), source_tokens, rotation=60, ha="right")
    ax.set_yticks(range(len(target_tokens)), target_tokens)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    if title:
        ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.04, label="attention weight")
    fig.tight_layout()
    return fig


def learning_curves(history: dict, metrics: Sequence[str] = ("loss", "masked_accuracy")):
    """Training and validation curves from a Keras `History.history` dict, one panel each."""
    from matplotlib.figure import Figure

    metrics = [m for m in metrics if m in history]
    fig = Figure(figsize=(4.5 * max(len(metrics), 1), 3.4))
    for i, name in enumerate(metrics, start=1):
        ax = fig.add_subplot(1, len(metrics), i)
        epochs = np.arange(1, len(history[name]) + 1)
        ax.plot(epochs, history[name], marker="o", label="train")
        if f"val_{name}" in history:
            ax.plot(epochs, history[f"val_{name}"], marker="o", label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def length_histograms(lengths: dict, title: str = "Sentence lengths"):
    """Overlaid outline histograms of token counts, one per named sequence of lengths.

    One bin per length; the x axis stops at the 99.9th percentile so a few very long
    sentences do not squash the picture.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.4))
    ax = fig.add_subplot()
    everything = np.concatenate([np.asarray(v) for v in lengths.values()])
    edges = np.arange(-0.5, everything.max() + 1.5)
    for name, values in lengths.items():
        ax.hist(values, bins=edges, histtype="step", linewidth=1.8, label=name)
    ax.set_xlim(0, np.quantile(everything, 0.999) + 2)
    ax.set_xlabel("tokens per sentence")
    ax.set_ylabel("sentences")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def bar_chart(values: dict, ylabel: str, title: str = "", fmt: str = "{:.2f}"):
    """One labelled bar per entry of `values` (name → number), the value written on top."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1.4 * len(values) + 2.5, 3.4))
    ax = fig.add_subplot()
    bars = ax.bar(list(values), list(values.values()), color="#4C72B0")
    ax.bar_label(bars, labels=[fmt.format(v) for v in values.values()])
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.margins(y=0.15)
    fig.tight_layout()
    return fig


def bleu_by_length(results: dict, title: str = "BLEU by source length"):
    """One line per model: BLEU of each source-length bucket.

    Args:
        results: model name → the rows of `s2s_keras.evaluation.bleu_by_length`.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.6))
    ax = fig.add_subplot()
    for name, rows in results.items():
        ax.plot([r["bucket"] for r in rows], [r["bleu"] for r in rows], marker="o", label=name)
    ax.set_xlabel("source length (words)")
    ax.set_ylabel("BLEU")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def grouped_bar_chart(values: dict, ylabel: str, title: str = "", fmt: str = "{:.1f}"):
    """Bars in groups: `values` maps a group (e.g. a model) to `{series: number}`.

    Every group must have the same series (e.g. `{"greedy": 30.1, "beam 4": 31.0}`);
    each series gets one colour and a legend entry, each bar its value on top.
    """
    from matplotlib.figure import Figure

    groups = list(values)
    series = list(values[groups[0]]) if groups else []
    if any(list(values[g]) != series for g in groups):
        raise ValueError(f"every group needs the series {series}, got {values!r}")
    colours = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3"]
    width = 0.8 / max(len(series), 1)
    fig = Figure(figsize=(1.1 * len(groups) * max(len(series), 1) + 2.5, 3.6))
    ax = fig.add_subplot()
    for i, name in enumerate(series):
        positions = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        heights = [values[group][name] for group in groups]
        bars = ax.bar(positions, heights, width, label=name, color=colours[i % len(colours)])
        ax.bar_label(bars, labels=[fmt.format(h) for h in heights], fontsize=8)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.margins(y=0.15)
    ax.legend()
    fig.tight_layout()
    return fig
