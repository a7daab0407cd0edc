"""The attention explorer: type a sentence, pick a model and a beam, see what it attended to.

Introduced in notebook 07; any notebook can call it on the models it has:

    from s2s_keras.explorer import AttentionExplorer
    AttentionExplorer({"bahdanau": trained, "exported": load_translator("export/")})

The logic is plain Python over two kinds of model, with no widget in sight, so it is
tested without a browser:

- a `TrainedModel` in memory: beam search gives the n-best list with its scores, and
  `decoding.forced_attention` the attention of whichever hypothesis is chosen (the
  Transformer's per layer and head);
- an exported SavedModel (`s2s_keras.export`): its `translate_with_attention`
  signature gives the translation it serves (its beam width was fixed at export) and
  that translation's attention, so the n-best list has one entry.

`explore` returns an `Exploration`; `figure` draws one hypothesis, one layer, one head
(or the heads' mean); `AttentionExplorer` puts widgets (ipywidgets) around them.
Shapes: `S` source length, `T` output length, `N` heads.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from s2s_keras.text import END_ID, PAD_ID


@dataclass
class Hypothesis:
    """One translation of the n-best list.

    Args:
        text: the detokenized translation.
        score: beam search's `log P(Y | X) / lp(Y)`; `None` where the model does not say
            (an exported model).
        tokens: its output tokens, `[END]` included.
        attention: `[layers, N, T, S]` float32, its attention over the source tokens.
    """

    text: str
    score: float | None
    tokens: list[str]
    attention: np.ndarray


@dataclass
class Exploration:
    """What a model made of one sentence: source tokens and the n-best hypotheses."""

    sentence: str
    model: str
    beam_size: int
    source_tokens: list[str]
    hypotheses: list[Hypothesis] = field(default_factory=list)

    def table(self) -> str:
        """The n-best list as an HTML table (rank, score, translation)."""
        import html

        rows = "".join(
            f"<tr><td>{i + 1}</td><td>{'' if h.score is None else f'{h.score:.3f}'}</td>"
            f"<td>{html.escape(h.text)}</td></tr>"
            for i, h in enumerate(self.hypotheses)
        )
        return "<table><tr><th>#</th><th>score</th><th>translation</th></tr>" + rows + "</table>"


def _display(tokens) -> list[str]:
    """Token strings (or bytes) as people read them: NFC, so accents are composed."""
    return [
        unicodedata.normalize("NFC", t.decode("utf-8", "replace") if isinstance(t, bytes) else t)
        for t in tokens
    ]


def is_exported(model) -> bool:
    """Whether `model` is a loaded SavedModel with the attention signature."""
    return hasattr(model, "signatures") and "translate_with_attention" in model.signatures


def explore(model, sentence: str, *, beam_size: int = 4, alpha: float = 0.6, name: str = ""):
    """Translate `sentence` and collect each hypothesis with its attention.

    Args:
        model: a `TrainedModel` with attention, or a loaded SavedModel written by
            `s2s_keras.export` from one (it has `translate_with_attention`).
        sentence: raw source text.
        beam_size: the n-best list's length (beam width) for a model in memory; an
            exported model decodes as it was exported and gives one hypothesis.
        alpha: beam search's length normalisation.
        name: the model's name, for display.

    Returns:
        An `Exploration`; an empty or whitespace-only sentence gives no hypotheses.

    Raises:
        ValueError: the model has no attention, or `beam_size` is not a positive integer.
    """
    from s2s_keras import checks

    beam_size = checks.positive_int("beam_size", beam_size)
    if is_exported(model):
        return _explore_exported(model, sentence, name)
    if hasattr(model, "signatures"):
        raise ValueError(
            "this SavedModel has no translate_with_attention signature: export a model "
            "with attention again with this version of s2s_keras"
        )
    return _explore_in_memory(model, sentence, beam_size, alpha, name)


def _explore_in_memory(trained, sentence, beam_size, alpha, name):
    from s2s_keras import decoding

    max_source = trained.info.get("max_length", 64)
    ids = decoding.tokenize_sources(trained.source_tokenizer, [sentence], max_source)
    ids = ids.to_tensor(default_value=PAD_ID).numpy()  # [1, S]
    source_tokens = _display(trained.source_tokenizer.lookup(ids)[0])
    found = Exploration(sentence, name, beam_size, source_tokens)
    if not decoding.has_words(ids.shape[1]):
        return found
    limit = ids.shape[1] + 10
    tokens, scores = decoding.beam_search(
        trained.model, ids, limit, beam_size=beam_size, alpha=alpha, n_best=beam_size
    )  # [1, K, L], [1, K]
    tokens = tokens[0].numpy()  # [K, L]
    attention = decoding.forced_attention(
        trained.model, np.repeat(ids, len(tokens), axis=0), tokens
    ).numpy()  # [K, layers, N, L, S]
    texts = trained.target_tokenizer.detokenize(tokens).numpy()
    for k, row in enumerate(tokens):
        length = _length(row)
        found.hypotheses.append(
            Hypothesis(
                text=texts[k].decode("utf-8"),
                score=float(scores[0, k]),
                tokens=_display(trained.target_tokenizer.lookup([row[:length]])[0]),
                attention=attention[k, :, :, :length, :],
            )
        )
    return found


def _explore_exported(loaded, sentence, name):
    import tensorflow as tf

    out = loaded.signatures["translate_with_attention"](text=tf.constant([sentence]))
    source = [t for t in out["source_tokens"].numpy()[0] if t]
    found = Exploration(sentence, name, 1, _display(source))
    output = [t for t in out["output_tokens"].numpy()[0] if t]
    if not output:
        return found
    attention = out["attention"].numpy()[0]  # [layers, N, L, S]
    found.hypotheses.append(
        Hypothesis(
            text=out["translation"].numpy()[0].decode("utf-8"),
            score=None,
            tokens=_display(output),
            attention=attention[:, :, : len(output), : len(source)],
        )
    )
    return found


def _length(row) -> int:
    """Tokens of an output row up to and including its `[END]`."""
    row = list(row)
    return row.index(END_ID) + 1 if END_ID in row else sum(1 for t in row if t != PAD_ID)


def weights(hypothesis: Hypothesis, layer: int = -1, head: int | None = None) -> np.ndarray:
    """`[T, S]`: one layer's attention, one head or (`head=None`) the mean of its heads."""
    layers, heads = hypothesis.attention.shape[:2]
    if not -layers <= layer < layers:
        raise ValueError(f"layer must be in [{-layers}, {layers - 1}], got {layer!r}")
    chosen = hypothesis.attention[layer]  # [N, T, S]
    if head is None:
        return chosen.mean(axis=0)
    if not 0 <= head < heads:
        raise ValueError(f"head must be in [0, {heads - 1}] or None, got {head!r}")
    return chosen[head]


def figure(exploration: Exploration, hypothesis: int = 0, layer: int = -1, head=None):
    """The heatmap of one hypothesis (`plots.attention_heatmap`), titled with its choice."""
    from s2s_keras import plots

    chosen = exploration.hypotheses[hypothesis]
    layers, heads = chosen.attention.shape[:2]
    which = f", layer {layer % layers + 1} of {layers}" if layers > 1 else ""
    if heads > 1:
        which += ", mean of the heads" if head is None else f", head {head + 1} of {heads}"
    title = f"{exploration.model}: hypothesis {hypothesis + 1}{which}"
    return plots.attention_heatmap(
        weights(chosen, layer, head), exploration.source_tokens, chosen.tokens, title=title
    )


class AttentionExplorer:
    """Widgets around `explore`: a sentence box, a model, a beam, a hypothesis, layer, head.

    Args:
        models: `{name: TrainedModel or loaded SavedModel}`, models with attention.
        sentence: the sentence shown first.
        beam_size: the beam shown first.

    Display it as the last expression of a cell (or with `IPython.display.display`). On
    Colab, enable its widget manager first:
    `from google.colab import output; output.enable_custom_widget_manager()`.
    """

    def __init__(self, models: Mapping, sentence: str = "", beam_size: int = 4):
        import ipywidgets as w

        if not models:
            raise ValueError("models must name at least one model, got none")
        self.models = dict(models)
        self.sentence = w.Text(value=sentence, description="Source", continuous_update=False)
        self.model = w.Dropdown(options=list(self.models), description="Model")
        self.beam = w.IntSlider(value=beam_size, min=1, max=8, description="Beam")
        self.hypothesis = w.Dropdown(options=[], description="Hypothesis")
        self.layer = w.Dropdown(options=[], description="Layer")
        self.head = w.Dropdown(options=[], description="Head")
        self.nbest = w.HTML()
        self.plot = w.Output()
        self.exploration: Exploration | None = None
        self.figure = None  # the heatmap on show (closed: kept for its data and title)
        for control in (self.sentence, self.model, self.beam):
            control.observe(self._translate, names="value")
        for control in (self.hypothesis, self.layer, self.head):
            control.observe(self._draw, names="value")
        self.widget = w.VBox(
            [
                w.HBox([self.sentence, self.model, self.beam]),
                self.nbest,
                w.HBox([self.hypothesis, self.layer, self.head]),
                self.plot,
            ]
        )
        self._translate()

    def _translate(self, change=None):
        model = self.models[self.model.value]
        self.beam.disabled = is_exported(model)  # its beam was fixed at export
        self.exploration = explore(
            model, self.sentence.value, beam_size=self.beam.value, name=self.model.value
        )
        found = self.exploration
        self.nbest.value = found.table() if found.hypotheses else "<i>nothing to translate</i>"
        self._drawing = False  # set the choices without drawing once per choice
        self.hypothesis.options = [
            (f"{i + 1}: {h.text}", i) for i, h in enumerate(found.hypotheses)
        ]
        self.hypothesis.value = 0 if found.hypotheses else None
        layers, heads = found.hypotheses[0].attention.shape[:2] if found.hypotheses else (1, 1)
        self.layer.options = [(str(i + 1), i) for i in range(layers)]
        self.layer.value = layers - 1 if layers else None
        self.head.options = [("mean", None)] + [(str(i + 1), i) for i in range(heads)]
        self.head.value = None
        self._drawing = True
        self._draw()

    def _draw(self, change=None):
        if not getattr(self, "_drawing", True):
            return
        self.plot.clear_output(wait=True)
        self.figure = None
        found = self.exploration
        if not found or not found.hypotheses or self.hypothesis.value is None:
            return
        fig = self.figure = figure(found, self.hypothesis.value, self.layer.value, self.head.value)
        with self.plot:
            display_figure(fig)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def display_figure(fig):
    """Show a matplotlib figure in the current output (a notebook cell or widget)."""
    from IPython.display import display

    display(fig)
