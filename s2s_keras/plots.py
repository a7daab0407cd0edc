"""Plots of the course, each a function that returns a matplotlib `Figure`.

Notebooks display the figure and the command line saves it; colours read on a light
background (JupyterLab's default theme and GitHub). Text with Chinese characters gets
a CJK font (`cjk_font`) automatically, glyph by glyph.

- attention: `attention_heatmap` (one sentence, notebooks 04–07, the demo, the
  explorer), `attention_heads` (every head of a Transformer layer, 06);
- training: `learning_curves` (02–06);
- data: `length_histograms` (00), `matrix_image` (masks and positional encodings, 01, 06);
- results: `bar_chart`, `grouped_bar_chart`, `line_chart`, `bleu_by_length` (02–08),
  `decoding_sweep` (beam sizes against BLEU and speed, 03);
- representations: `sentence_vectors` (a PCA of sentence vectors, 01).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# Fonts with Han characters, most common first (Debian/Ubuntu: `fonts-wqy-microhei`,
# `fonts-noto-cjk`; macOS and Windows ship the last ones). matplotlib's default font,
# DejaVu Sans, has none: Chinese text would be drawn as boxes, with a warning.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Source Han Sans SC",
    "Droid Sans Fallback",
    "PingFang SC",
    "Heiti SC",
    "Microsoft YaHei",
    "SimHei",
    "Arial Unicode MS",
)
_CJK_FILE_HINTS = ("wqy", "noto", "cjk", "droid", "han", "pingfang", "heiti", "yahei", "simhei")


def needs_cjk_font(text: str) -> bool:
    """Whether `text` has CJK characters (Han, kana, Hangul, CJK punctuation)."""
    return any(
        0x2E80 <= ord(c) <= 0x9FFF or 0xAC00 <= ord(c) <= 0xD7AF or 0xF900 <= ord(c) <= 0xFFEF
        for c in text
    )


@functools.cache
def cjk_font() -> str | None:
    """The name of an installed font with Han characters, or `None`.

    matplotlib caches its font list when first imported, so a font installed later is
    looked for on disk once and added.
    """
    from matplotlib import font_manager

    def installed():
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((name for name in CJK_FONTS if name in names), None)

    if found := installed():
        return found
    for path in font_manager.findSystemFonts():
        if any(hint in Path(path).name.lower() for hint in _CJK_FILE_HINTS):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue  # not a font matplotlib can read
    return installed()


def _strings(value):
    """Every string inside the arguments of a plot (nested lists, tuples, dicts)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _cjk_aware(plot):
    """Draw the figure with a CJK fallback font when any text given to it needs one."""

    @functools.wraps(plot)
    def wrapper(*args, **kwargs):
        if not any(needs_cjk_font(t) for t in _strings([args, kwargs])):
            return plot(*args, **kwargs)
        font = cjk_font()
        if font is None:
            raise RuntimeError(
                "no font with Chinese characters is installed for matplotlib; install one "
                "(Debian/Ubuntu: apt-get install fonts-wqy-microhei) and retry"
            )
        from matplotlib import rc_context

        # A list of families: matplotlib falls back glyph by glyph, so Latin text keeps
        # the default font. Texts take their font when created: the figure keeps it.
        with rc_context({"font.family": [_default_family(), font]}):
            return plot(*args, **kwargs)

    return wrapper


def _default_family() -> str:
    """matplotlib's default sans-serif font (DejaVu Sans unless configured otherwise)."""
    from matplotlib import rcParams

    return rcParams["font.sans-serif"][0]


@_cjk_aware
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


@_cjk_aware
def learning_curves(history: dict, metrics: Sequence[str] = ("loss", "masked_accuracy")):
    """Training and validation curves from a training history, one panel each.

    With the per-step log of `training.train` (`step`, `step_<metric>`, `val_step`) the x
    axis is the training step: the training metric every `training.LOG_EVERY` steps, the
    validation metric at each epoch end. Otherwise (Keras' `History.history` alone) one
    point per epoch.
    """
    from matplotlib.figure import Figure

    metrics = [m for m in metrics if m in history]
    by_step = bool(history.get("step")) and len(history.get("val_step", [])) == len(
        history.get("loss", [])
    )
    fig = Figure(figsize=(4.5 * max(len(metrics), 1), 3.4))
    for i, name in enumerate(metrics, start=1):
        ax = fig.add_subplot(1, len(metrics), i)
        epochs = np.arange(1, len(history[name]) + 1)
        if by_step and f"step_{name}" in history:
            ax.plot(history["step"], history[f"step_{name}"], label="train")
            x_validation = history["val_step"]
            ax.set_xlabel("training step")
        else:
            ax.plot(epochs, history[name], marker="o", label="train")
            x_validation = epochs
            ax.set_xlabel("epoch")
        if f"val_{name}" in history:
            ax.plot(x_validation, history[f"val_{name}"], marker="o", label="validation")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


@_cjk_aware
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


@_cjk_aware
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


@_cjk_aware
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


@_cjk_aware
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


@_cjk_aware
def sentence_vectors(
    source_vectors,
    target_vectors,
    labels: Sequence[str] = ("source", "target"),
    title: str = "Sentence vectors (PCA)",
):
    """Paired sentence vectors on their first two principal components, pairs joined.

    Both sets are projected on the same axes (PCA of all `2N` vectors), so a short grey
    line means a sentence and its translation got nearby vectors. Notebook 01 draws the
    dual encoder's vectors with it.

    Args:
        source_vectors, target_vectors: `[N, E]` arrays; row `i` of both is a pair.
        labels: legend names of the two sets.
        title: figure title.

    Returns:
        A `matplotlib.figure.Figure`.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    sources = np.asarray(source_vectors, dtype=float)
    targets = np.asarray(target_vectors, dtype=float)
    if sources.ndim != 2 or sources.shape != targets.shape or len(sources) < 2:
        raise ValueError(
            "source_vectors and target_vectors must be [N, E] arrays of one shape with N >= 2, "
            f"got {sources.shape} and {targets.shape}"
        )
    both = np.concatenate([sources, targets])  # [2N, E]
    centred = both - both.mean(axis=0)
    # The right singular vectors are the principal axes.
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)
    points = centred @ axes[:2].T  # [2N, 2]
    explained = singular[:2] ** 2 / max(float(np.sum(singular**2)), 1e-12)
    src, tgt = points[: len(sources)], points[len(sources) :]
    fig = Figure(figsize=(6.4, 5.2))
    ax = fig.add_subplot()
    ax.add_collection(
        LineCollection(np.stack([src, tgt], axis=1), colors="0.6", linewidths=0.6, alpha=0.6)
    )
    ax.scatter(src[:, 0], src[:, 1], s=12, color="#4C72B0", label=labels[0])
    ax.scatter(tgt[:, 0], tgt[:, 1], s=12, color="#DD8452", label=labels[1])
    ax.set_xlabel(f"PC 1 ({explained[0]:.0%} of variance)")
    ax.set_ylabel(f"PC 2 ({explained[1]:.0%} of variance)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


@_cjk_aware
def decoding_sweep(rows: Sequence[dict], title: str = "Beam search: quality and speed"):
    """BLEU and speed against beam size, one line per length-normalisation strength α.

    Args:
        rows: dicts with `"beam_size"`, `"alpha"`, `"bleu"` and `"sentences_per_second"`
            (notebook 03's table).
        title: figure title.

    Returns:
        A `matplotlib.figure.Figure` with two panels.
    """
    from matplotlib.figure import Figure

    if not rows:
        raise ValueError("decoding_sweep needs at least one row")
    fig = Figure(figsize=(10, 3.6))
    panels = (("bleu", "BLEU"), ("sentences_per_second", "sentences / s"))
    beams = sorted({r["beam_size"] for r in rows})
    for i, (key, label) in enumerate(panels, start=1):
        ax = fig.add_subplot(1, 2, i)
        for alpha in sorted({r["alpha"] for r in rows}):
            line = sorted((r for r in rows if r["alpha"] == alpha), key=lambda r: r["beam_size"])
            ax.plot(
                [r["beam_size"] for r in line],
                [r[key] for r in line],
                marker="o",
                label=f"α = {alpha:g}",
            )
        ax.set_xscale("log", base=2)
        ax.set_xticks(beams, [str(b) for b in beams])
        ax.set_xlabel("beam size")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


@_cjk_aware
def line_chart(
    series: dict,
    xlabel: str,
    ylabel: str,
    title: str = "",
    logx: bool = False,
    logy: bool = False,
):
    """One line with markers per entry of `series` (name → `(xs, ys)`), on one axis."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.6))
    ax = fig.add_subplot()
    for name, (xs, ys) in series.items():
        ax.plot(xs, ys, marker="o" if len(xs) <= 30 else None, label=name)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend()
    fig.tight_layout()
    return fig


@_cjk_aware
def matrix_image(
    values,
    xlabel: str,
    ylabel: str,
    title: str = "",
    cmap: str = "RdBu_r",
    colorbar_label: str | None = None,
):
    """A `[rows, columns]` matrix as an image: row 0 on top, one colour bar.

    Notebook 06 shows the sinusoidal position encodings (`[positions, D]`) and the
    causal mask (`[T, T]`) with it.
    """
    from matplotlib.figure import Figure

    values = np.asarray(values, dtype=float)
    fig = Figure(figsize=(7, 3.8))
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap=cmap, aspect="auto", interpolation="nearest")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.04, label=colorbar_label)
    fig.tight_layout()
    return fig


@_cjk_aware
def attention_heads(weights, source_tokens: Sequence[str], target_tokens: Sequence[str], title=""):
    """One attention heatmap per head, side by side, on one colour scale.

    Args:
        weights: `[N, T, S]`, one `[T, S]` map per head (`decoding.attention_heads`
            gives them per layer).
        source_tokens, target_tokens: the `S` columns and `T` rows.
        title: optional figure title.
    """
    from matplotlib.figure import Figure

    weights = np.asarray(weights, dtype=float)[:, : len(target_tokens), : len(source_tokens)]
    heads = weights.shape[0]
    columns = min(heads, 4)
    rows = -(-heads // columns)
    width = 0.32 * len(source_tokens) + 1.2
    height = 0.3 * len(target_tokens) + 1.4
    fig = Figure(figsize=(columns * width + 1.2, rows * height + 0.6), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= heads:
            ax.axis("off")
            continue
        image = ax.imshow(weights[i], cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_title(f"head {i + 1}")
        ax.set_xticks(range(len(source_tokens)), source_tokens, rotation=70, ha="right", fontsize=8)
        if i % columns == 0:
            ax.set_yticks(range(len(target_tokens)), target_tokens, fontsize=8)
        else:
            ax.set_yticks([])
    if title:
        fig.suptitle(title)
    fig.colorbar(image, ax=axes.ravel().tolist(), fraction=0.02, label="attention weight")
    return fig
