"""The benchmark suite behind `s2s-keras bench` (DESIGN §10, issue 5).

Introduced in notebook 08 (performance and scale); `docs/performance.md` holds the
measured tables. For each model the suite measures, in one run:

- **training throughput**: non-padding target tokens per second of `Model.fit`, the
  median over the measured steps of `tokens in the batch / step time`. The measured
  batches are `steps` batches of the real pipeline (`make_dataset`: shuffled, bucketed,
  padded), cached in memory; `fit` runs over them twice and only the second pass is
  timed, so tracing (and XLA compilation, where on) is excluded. A callback times each
  `train_step` (`on_train_batch_begin` → `on_train_batch_end`).
- **padding efficiency**: `pipeline.padding_efficiency` over one pass of the training split.
- **analytic FLOPs per target token** and **FLOP utilisation** (below), against a fp32
  matmul peak that the suite measures itself in the same run.
- **decoding**: sentences per second of `decoding.translate` (what `s2s-keras translate`
  runs: tokenize, sort by length, decode, detokenize) for greedy decoding and beam 4
  (α 0.6) at batch 64, after a warm-up call that traces the decoders; and the
  single-sentence latency, the median over sentences of one `translate([sentence])`.
- **peak RSS**: `ru_maxrss` of a fresh process per model (so one model's memory does
  not hide another's), taken after the throughput and decoding measurements.
- optionally **BLEU/chrF after a wall-clock training budget** (`train_minutes`, the
  DESIGN §5 protocol: `training.train` with `max_minutes`, then greedy decoding of the
  test split scored by `evaluation.corpus_scores`).

FLOPs. Only matrix multiplications are counted, at 2 FLOPs per multiply-add; gathers
(embedding lookups), biases and element-wise work (gates, tanh, softmax, layer
normalisation) are left out. For one sentence pair with `S` real source tokens and `T`
real target tokens (markers included, padding not), the forward pass costs:

- bidirectional GRU encoder (embedding `E`, `U` units per direction, a GRU step is
  `x W` with `W` `[in, 3U]` plus `h R` with `R` `[U, 3U]`):
  `S * 2 * 6U(E + U)`, plus the bridge to the decoder's first state `2 D H` once
  (`D = H = 2U`);
- `seq2seq` decoder (`ContextDecoder`, GRU input `[e; c]`, readout `[s; c; e]`):
  `T * (6H(E + D + H) + 2(H + D + E) V)`;
- attention decoder (`AttentionDecoder`): per target token the GRU `6H(E + H)` (input
  feeding: `6H(E + 2H)`), the context `2 S D`, the combine layer `2(D + H) H` and the
  logits `2 H V`; plus the score: Bahdanau / Luong concat `2 H A + 2 A S` per target
  token and `2 D A` per source token for the keys (`A = H`); Luong general `2 H S` per
  target token and `2 D H` per source token; Luong dot `2 H S` per target token;
- Transformer (`L` layers, width `d`, feed-forward `f`, tied output of `V`): per encoder
  layer `S * (8d² + 4 S d + 4 d f)` (Q, K, V, O projections; scores and context; FFN);
  per decoder layer `T * (8d² + 4 T d)` (self-attention over the whole target, as
  computed), `4 d² S` (cross-attention keys and values), `T * (4d² + 4 S d + 4 d f)`
  (cross-attention queries, output, scores and context; FFN); plus `2 d V T` for the
  logits.

Training costs 3x the forward pass (the backward pass computes two matmuls for each
forward one). `flops_per_target_token = 3 * sum(forward(S_i, T_i)) / sum(T_i)` over the
measured batches, so padding is not counted as useful work; `flop_utilisation =
flops_per_target_token * train_tokens_per_s / (matmul_peak_gflops * 1e9)`.

`run_levers` measures the levers of DESIGN §10 on/off in one process, interleaved
(rounds alternate between the variants; the first round of each is a warm-up), and
reports medians and ratios.
"""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import os
import resource
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from s2s_keras import decoding
from s2s_keras.models import (
    AttentionSeq2SeqConfig,
    Seq2SeqConfig,
    TransformerConfig,
    build_model,
    model_config,
)
from s2s_keras.pipeline import make_dataset, padding_efficiency
from s2s_keras.training import RECIPES, compile_model, fit_tokenizers, hardware_description
from s2s_keras.types import ParallelText

BENCH_MODELS = ("seq2seq", "bahdanau", "luong-general", "transformer")


@dataclass(frozen=True)
class BenchSettings:
    """What one bench run measures, and on what. `QUICK` and `FULL` are the two presets."""

    mode: str  # "quick" or "full": a label written into bench.json
    corpus: str  # "toy" or a corpus of `s2s_keras.corpora.CORPORA`
    toy_pairs: int = 3000  # only for the toy corpus
    batch_size: int = 64  # sentences per training and decoding batch
    max_length: int = 64  # the pipeline's cut-off, as `training.train`
    rnn_vocab_size: int | None = None  # word vocabulary per side; None keeps every word
    transformer_vocab_size: int = 8000  # WordPiece vocabulary per side
    rnn_config: dict = field(default_factory=dict)  # overrides of the RNN configs
    transformer_config: dict = field(default_factory=dict)  # overrides of TransformerConfig
    steps: int = 60  # measured training steps (after a warm-up pass over the same batches)
    decode_sentences: int = 512  # sentences per decoding measurement
    decode_repeats: int = 3  # timed decoding runs (after one warm-up run); the median counts
    latency_sentences: int = 20  # single-sentence calls; the median counts
    matmul_size: int = 2048  # n of the n x n fp32 matmul that measures the peak
    matmul_repeats: int = 10
    train_minutes: float = 0.0  # training budget for bleu/chrf; 0: not measured
    rnn_learning_rate: float | None = None  # Adam for the RNNs' budgeted training; None: recipe
    lever_rounds: int = 4  # interleaved rounds per lever, the first a warm-up
    lever_steps: int = 30  # training steps per lever round
    lever_sentences: int = 64  # sentences per decoding lever round
    seed: int = 0
    data_dir: str | None = None

    def config(self, name: str):
        """The model config this run uses for the architecture `name`."""
        overrides = self.transformer_config if name == "transformer" else self.rnn_config
        return model_config(name, **overrides)

    def vocab_size(self, name: str) -> int | None:
        return self.transformer_vocab_size if name == "transformer" else self.rnn_vocab_size


QUICK = BenchSettings(
    mode="quick",
    corpus="toy",
    toy_pairs=3000,
    transformer_vocab_size=400,
    rnn_config={"embedding_dim": 32, "units": 32},
    transformer_config={"num_layers": 1, "d_model": 32, "num_heads": 2, "ff_dim": 64},
    steps=8,
    decode_sentences=64,
    decode_repeats=1,
    latency_sentences=3,
    matmul_repeats=3,
    lever_rounds=3,
    lever_steps=5,
    lever_sentences=16,
)

# The references of issue 5, sized as they are: the TensorFlow Text tutorial "NMT with
# attention" (bi-GRU of 256 units per direction, 5,000-word vocabularies, batch 64) and
# the keras-io Transformer example (1 + 1 layers, d_model 256, feed-forward 2048,
# 8 heads, 15,000-word vocabularies, batch 64). Our decoder is 2 x 256 wide (it reads
# both encoder directions concatenated, the tutorial sums them), so ours does more work
# per token than the tutorial; the Transformer uses WordPiece (its recipe).
FULL = BenchSettings(
    mode="full",
    corpus="spa-eng",
    rnn_vocab_size=5000,
    transformer_vocab_size=15000,
    rnn_config={"embedding_dim": 256, "units": 256},
    transformer_config={"num_layers": 1, "d_model": 256, "num_heads": 8, "ff_dim": 2048},
    train_minutes=20.0,
    # The RNN recipe's 3e-3 suits the toy corpus; on spa-eng the course and the README's
    # results train the RNNs at 1e-3 (`course.RNN_LEARNING_RATE`).
    rnn_learning_rate=1e-3,
)


# --- FLOPs ---------------------------------------------------------------------------


def forward_flops(config, target_vocab_size, source_length, target_length):
    """Matmul FLOPs of one forward pass over one sentence pair (see the module docstring).

    Args:
        config: a `Seq2SeqConfig`, `AttentionSeq2SeqConfig` or `TransformerConfig`.
        target_vocab_size: `V`.
        source_length, target_length: `S` and `T`, real tokens (ints or NumPy int arrays,
            one entry per sentence).

    Returns:
        FLOPs (2 per multiply-add), of the type of the lengths.
    """
    S, T, V = source_length, target_length, target_vocab_size  # noqa: N806 (paper names)
    if isinstance(config, TransformerConfig):
        d, f, layers = config.d_model, config.ff_dim, config.num_layers
        encoder = S * (8 * d * d + 4 * S * d + 4 * d * f)
        decoder = (
            T * (8 * d * d + 4 * T * d) + 4 * d * d * S + T * (4 * d * d + 4 * S * d + 4 * d * f)
        )
        return layers * (encoder + decoder) + 2 * d * V * T
    if not isinstance(config, (Seq2SeqConfig, AttentionSeq2SeqConfig)):
        raise TypeError(f"expected a model config dataclass, got {config!r}")
    E, U = config.embedding_dim, config.units  # noqa: N806
    D = H = 2 * U  # noqa: N806
    flops = S * 2 * 6 * U * (E + U) + 2 * D * H  # bi-GRU encoder, bridge
    if isinstance(config, Seq2SeqConfig):
        return flops + T * (6 * H * (E + D + H) + 2 * (H + D + E) * V)
    gru_input = E + H if config.input_feeding else E
    per_target = 6 * H * (gru_input + H) + 2 * S * D + 2 * (D + H) * H + 2 * H * V
    if config.attention in ("bahdanau", "concat"):
        A = H  # noqa: N806 (AttentionDecoder's attention_units default)
        flops = flops + 2 * D * A * S
        per_target = per_target + 2 * H * A + 2 * A * S
    elif config.attention == "general":
        flops = flops + 2 * D * H * S
        per_target = per_target + 2 * H * S
    else:  # "dot"
        per_target = per_target + 2 * H * S
    return flops + T * per_target


def training_flops_per_token(config, target_vocab_size, source_lengths, target_lengths) -> float:
    """`3 * sum(forward_flops) / sum(target_lengths)` over sentences (real lengths)."""
    source_lengths = np.asarray(source_lengths, np.int64)
    target_lengths = np.asarray(target_lengths, np.int64)
    total = forward_flops(config, target_vocab_size, source_lengths, target_lengths).sum()
    return 3.0 * float(total) / float(target_lengths.sum())


def matmul_peak_gflops(size: int = 2048, repeats: int = 10) -> tuple[float, list[float]]:
    """fp32 `tf.linalg.matmul` of two `size x size` matrices: `(median GFLOP/s, all)`.

    One untimed call first (thread pools, allocation); each timed call is synchronised
    by reading one element of the product.
    """
    a = tf.random.normal([size, size], seed=1)
    b = tf.random.normal([size, size], seed=2)
    float(tf.linalg.matmul(a, b)[0, 0])
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        float(tf.linalg.matmul(a, b)[0, 0])
        rates.append(2 * size**3 / (time.perf_counter() - start) / 1e9)
    return statistics.median(rates), rates


# --- measuring one model -------------------------------------------------------------


class StepTimer(keras.callbacks.Callback):
    """Wall time of every `train_step` of `fit`, one list per epoch."""

    def __init__(self):
        super().__init__()
        self.epochs: list[list[float]] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append([])

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if logs and "loss" in logs:
            float(logs["loss"])  # the step's result exists: the step is over
        self.epochs[-1].append(time.perf_counter() - self._start)


def _load(settings: BenchSettings):
    from s2s_keras.corpora import load_corpus
    from s2s_keras.toy import make_toy_corpus

    if settings.corpus == "toy":
        return make_toy_corpus(settings.toy_pairs, seed=settings.seed)
    return load_corpus(settings.corpus, data_dir=settings.data_dir)


def _sample(texts, n: int, seed: int) -> list[str]:
    """`n` of `texts` drawn at random (the Anki files are sorted by length), cycled if
    there are fewer."""
    order = np.random.default_rng(seed).permutation(len(texts))
    return [texts[order[i % len(texts)]] for i in range(n)]


def _shuffled(data: ParallelText, seed: int) -> ParallelText:
    """`data` in a random order. The Anki files are sorted by length, and the levers
    measure the first few hundred pairs of the training split, which must be a random
    sample of it, not its shortest sentences."""
    order = np.random.default_rng(seed).permutation(len(data))
    return ParallelText(tuple(data.source[i] for i in order), tuple(data.target[i] for i in order))


def _cached_batches(dataset, steps: int):
    """The first `steps` batches of `dataset`, cached, with their real token counts.

    Returns `(dataset, source_lengths, target_lengths, tokens_per_batch)`; iterating
    the returned dataset again gives the same batches in the same order.
    """
    cached = dataset.take(steps).cache()
    source_lengths, target_lengths, tokens = [], [], []
    for (source, _), target_out in cached:
        s = np.count_nonzero(source.numpy(), axis=1)
        t = np.count_nonzero(target_out.numpy(), axis=1)
        source_lengths.append(s)
        target_lengths.append(t)
        tokens.append(int(t.sum()))
    return cached, np.concatenate(source_lengths), np.concatenate(target_lengths), tokens


def _fit_quietly(model, dataset, **kwargs):
    import warnings

    with warnings.catch_warnings():
        # The cached batches have no known length: Keras notes that it "ran out of data".
        warnings.filterwarnings("ignore", message=".*ran out of data.*")
        return model.fit(dataset, verbose=0, **kwargs)


def _new_model(name, settings, source_tokenizer, target_tokenizer, sample, jit_compile="auto"):
    config = settings.config(name)
    model = build_model(config, source_tokenizer.vocab_size, target_tokenizer.vocab_size)
    (source, target_in), _ = sample
    model((source[:1], target_in[:1]))
    recipe = RECIPES["transformer" if name == "transformer" else "rnn"]
    compile_model(
        model,
        learning_rate=recipe.learning_rate,
        clipnorm=recipe.clipnorm,
        label_smoothing=recipe.label_smoothing,
    )
    if jit_compile != "auto":
        model.jit_compile = jit_compile
    return model


def _median_seconds(function, repeats: int) -> float:
    """Median seconds of `function()` over `repeats` calls after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _time_translate(model, tokenizers, sentences, repeats, **kwargs) -> float:
    """Median seconds of `decoding.translate(sentences)` over `repeats` runs after a warm-up."""
    return _median_seconds(
        lambda: decoding.translate(model, *tokenizers, sentences, **kwargs), repeats
    )


def _latency_ms(model, tokenizers, sentences, **kwargs) -> float:
    for sentence in sentences:  # traces the batch-1 decoder for these source lengths
        decoding.translate(model, *tokenizers, [sentence], **kwargs)
    times = []
    for sentence in sentences:
        start = time.perf_counter()
        decoding.translate(model, *tokenizers, [sentence], **kwargs)
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def _say(message: str) -> None:
    """One progress line on stderr (stdout carries the table), with the wall-clock time."""
    print(f"bench {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def _prepare(name: str, settings: BenchSettings):
    """Corpus, tokenizers, the training split in a random order and its shuffled,
    bucketed dataset, for the model `name`."""
    keras.utils.set_random_seed(settings.seed)
    corpus = _load(settings)
    recipe = RECIPES["transformer" if name == "transformer" else "rnn"]
    tokenizers = fit_tokenizers(
        corpus.train, kind=recipe.tokenizer, vocab_size=settings.vocab_size(name)
    )
    train = _shuffled(corpus.train, settings.seed)
    dataset = make_dataset(
        train,
        *tokenizers,
        batch_size=settings.batch_size,
        max_length=settings.max_length,
        seed=settings.seed,
    )
    return corpus, train, tokenizers, dataset


def measure_model(name: str, settings: BenchSettings) -> dict:
    """Everything the bench reports for one model, except the utilisation (which needs
    the matmul peak): run in a fresh process by `run`."""
    _say(f"{name}: tokenizers, then {settings.steps} timed training steps and decoding")
    corpus, _, tokenizers, dataset = _prepare(name, settings)
    efficiency = padding_efficiency(dataset)
    batches, source_lengths, target_lengths, tokens = _cached_batches(dataset, settings.steps)
    model = _new_model(name, settings, *tokenizers, next(iter(batches)))
    timer = StepTimer()
    _fit_quietly(model, batches, epochs=2, callbacks=[timer])
    step_times = timer.epochs[1]  # the second pass: no tracing
    rates = [n / t for n, t in zip(tokens, step_times, strict=True)]

    sentences = _sample(corpus.test.source, settings.decode_sentences, settings.seed)
    common = {"batch_size": settings.batch_size, "max_source_length": settings.max_length}
    greedy = _time_translate(model, tokenizers, sentences, settings.decode_repeats, **common)
    beam = _time_translate(
        model, tokenizers, sentences, settings.decode_repeats, method="beam", **common
    )
    latency_sentences = sentences[: settings.latency_sentences]
    result = {
        "config": asdict(settings.config(name)),
        "tokenizer": RECIPES["transformer" if name == "transformer" else "rnn"].tokenizer,
        "source_vocab_size": tokenizers[0].vocab_size,
        "target_vocab_size": tokenizers[1].vocab_size,
        "params": int(model.count_params()),
        "measured_steps": len(step_times),
        "train_tokens_per_s": statistics.median(rates),
        "train_tokens_per_s_overall": sum(tokens) / sum(step_times),
        "step_ms": 1000.0 * statistics.median(step_times),
        "padding_efficiency": efficiency,
        "flops_per_target_token": training_flops_per_token(
            settings.config(name), tokenizers[1].vocab_size, source_lengths, target_lengths
        ),
        "greedy_sentences_per_s": len(sentences) / greedy,
        "beam4_sentences_per_s": len(sentences) / beam,
        "latency_ms": _latency_ms(model, tokenizers, latency_sentences, **common),
        "latency_beam4_ms": _latency_ms(
            model, tokenizers, latency_sentences, method="beam", **common
        ),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "bleu_20min": None,
        "chrf_20min": None,
    }
    if settings.train_minutes > 0:
        _say(
            f"{name}: training for {settings.train_minutes:g} min, then BLEU/chrF on the test split"
        )
        result.update(_train_and_score(name, settings, corpus))
    return result


def _train_and_score(name: str, settings: BenchSettings, corpus) -> dict:
    """DESIGN §5: train for `train_minutes` of wall time, greedy-decode the test split."""
    from s2s_keras.evaluation import corpus_scores
    from s2s_keras.training import train

    trained, _ = train(
        corpus,
        model=name,
        config=settings.config(name),
        epochs=10_000,  # the time budget stops it
        batch_size=settings.batch_size,
        max_length=settings.max_length,
        vocab_size=settings.vocab_size(name),
        learning_rate=None if name == "transformer" else settings.rnn_learning_rate,
        max_minutes=settings.train_minutes,
        seed=settings.seed,
        verbose=0,
    )
    hypotheses = trained.translate(corpus.test.source, batch_size=settings.batch_size)
    scores = corpus_scores(hypotheses, corpus.test.target)
    # Decoding speed depends on how soon the outputs end: measured again, trained.
    sentences = _sample(corpus.test.source, settings.decode_sentences, settings.seed)
    speed = {
        f"{key}_sentences_per_s_trained": len(sentences)
        / _median_seconds(
            lambda method=method: trained.translate(
                sentences, method=method, batch_size=settings.batch_size
            ),
            settings.decode_repeats,
        )
        for key, method in (("greedy", "greedy"), ("beam4", "beam"))
    }
    return {
        "bleu_20min": scores["bleu"],
        "chrf_20min": scores["chrf"],
        **speed,
        "train_minutes": settings.train_minutes,
        "epochs_run": trained.info["epochs_run"],
        "bleu_signature": scores["bleu_signature"],
        "chrf_signature": scores["chrf_signature"],
        "peak_rss_train_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }


def _in_fresh_process(function, *args):
    """`function(*args)` in a new interpreter (spawned: TensorFlow does not survive fork)."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


# --- the whole suite -----------------------------------------------------------------

_COLUMNS = (
    ("model", "model", "{}"),
    ("params", "params", "{:,}"),
    ("train_tokens_per_s", "train tok/s", "{:,.0f}"),
    ("step_ms", "step ms", "{:.1f}"),
    ("padding_efficiency", "padding eff.", "{:.2f}"),
    ("flops_per_target_token", "MFLOP/tok", "{:.1f}"),
    ("flop_utilisation", "FLOP util.", "{:.1%}"),
    ("greedy_sentences_per_s", "greedy sent/s", "{:.1f}"),
    ("beam4_sentences_per_s", "beam-4 sent/s", "{:.1f}"),
    ("latency_ms", "latency ms", "{:.1f}"),
    ("peak_rss_mb", "peak RSS MB", "{:,.0f}"),
    ("bleu_20min", "BLEU", "{:.1f}"),
    ("chrf_20min", "chrF", "{:.1f}"),
)


def markdown_table(report: dict) -> str:
    """The Markdown table of a `bench.json` report (one row per model)."""
    lines = [
        "| " + " | ".join(title for _, title, _ in _COLUMNS) + " |",
        "|" + "|".join(" --- " if key == "model" else " ---: " for key, _, _ in _COLUMNS) + "|",
    ]
    for name, row in report["models"].items():
        cells = []
        for key, _, fmt in _COLUMNS:
            value = name if key == "model" else row.get(key)
            if key == "flops_per_target_token" and value is not None:
                value = value / 1e6
            cells.append("n/a" if value is None else fmt.format(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _summary(report: dict) -> str:
    settings = report["settings"]
    return (
        f"`s2s-keras bench` ({report['mode']} mode, corpus {settings['corpus']}, batch "
        f"{settings['batch_size']}, {settings['steps']} measured training steps), "
        f"{report['hardware']}; fp32 matmul peak {report['matmul_peak_gflops']:.1f} GFLOP/s "
        f"({settings['matmul_size']}² matmul, median)."
    )


def run(settings: BenchSettings, out: str | os.PathLike, models=BENCH_MODELS) -> dict:
    """Measure every model of `models`, each in a fresh process, and write the report.

    Writes `out/NAME.json` as each model finishes, then `out/bench.json` and
    `out/bench.md`.

    Returns:
        The report (the content of `bench.json`).
    """
    _load(settings)  # a missing corpus fails here, with one clear error
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start, load_before = time.monotonic(), os.getloadavg()
    _, before = matmul_peak_gflops(settings.matmul_size, settings.matmul_repeats)
    results = {}
    for i, name in enumerate(models, 1):
        _say(f"[{i}/{len(models)}] {name}")
        results[name] = _in_fresh_process(measure_model, name, settings)
        row = results[name]
        _say(
            f"[{i}/{len(models)}] {name}: {row['train_tokens_per_s']:,.0f} tok/s"
            + (f", BLEU {row['bleu_20min']:.2f}" if row["bleu_20min"] is not None else "")
        )
        # Kept as it comes: a long full run that fails later loses no finished model.
        (out / f"{name}.json").write_text(json.dumps(results[name], indent=2) + "\n")
    # Measured again at the end: the machine is shared, so the peak is the median of both.
    _, after = matmul_peak_gflops(settings.matmul_size, settings.matmul_repeats)
    peak = statistics.median(before + after)
    for row in results.values():
        achieved = row["flops_per_target_token"] * row["train_tokens_per_s"]
        row["achieved_gflops"] = achieved / 1e9
        row["flop_utilisation"] = achieved / (peak * 1e9)
    report = {
        "mode": settings.mode,
        "hardware": hardware_description(),
        "matmul_peak_gflops": peak,
        "matmul_gflops_samples": before + after,
        "settings": asdict(settings),
        "notes": [
            f"training: median over {settings.steps} steps of the second pass over the same "
            "cached batches (the first pass traces the train function)"
            + ("; quick mode measures fewer than 50 steps" if settings.steps < 50 else ""),
            "decoding: decoding.translate, batch 64, after one warm-up call; beam 4, alpha 0.6",
            "latency: greedy, one sentence per call, median",
            "bleu_20min/chrf_20min: null unless --train-minutes > 0",
        ],
        "seconds": time.monotonic() - start,
        # The 1-minute load average at the start and the end: others' work on a shared
        # machine shows up here (2 cores: above 2, processes were waiting for a core).
        "load_average_1min": [load_before[0], os.getloadavg()[0]],
        "models": results,
    }
    (out / "bench.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / "bench.md").write_text(
        _summary(report) + "\n\n" + markdown_table(report) + "\n", encoding="utf-8"
    )
    return report


# --- levers --------------------------------------------------------------------------


def _interleaved(variants: dict, rounds: int) -> dict:
    """Run `variants` (name → zero-argument function returning a rate) in turn for
    `rounds` rounds; the first round is a warm-up. Returns `{name: {"median", "rates",
    "warmup"}}`."""
    rates = {name: [] for name in variants}
    for _ in range(rounds):
        for name, function in variants.items():
            rates[name].append(function())
    return {
        name: {"median": statistics.median(r[1:]), "rates": r[1:], "warmup": r[0]}
        for name, r in rates.items()
    }


def _training_round(model, batches, tokens):
    """One epoch of `fit` over the cached `batches`: target tokens per second."""

    def one_round():
        timer = StepTimer()
        _fit_quietly(model, batches, epochs=1, callbacks=[timer])
        return sum(tokens) / sum(timer.epochs[0])

    return one_round


def _decoding_round(model, tokenizers, sentences, **kwargs):
    def one_round():
        start = time.perf_counter()
        decoding.translate(model, *tokenizers, sentences, **kwargs)
        return len(sentences) / (time.perf_counter() - start)

    return one_round


def _ratio(results: dict, on: str, off: str) -> float:
    return results[on]["median"] / results[off]["median"]


def _lever_bucketing(name, settings, train, tokenizers):
    """Bucketed vs plain padded batches of the same sentences, one model."""
    sentences = train.take(settings.lever_steps * settings.batch_size)
    variants, efficiency = {}, {}
    model = None
    for bucket in (True, False):
        dataset = make_dataset(
            sentences,
            *tokenizers,
            batch_size=settings.batch_size,
            max_length=settings.max_length,
            bucket=bucket,
            seed=settings.seed,
        )
        batches, _, _, tokens = _cached_batches(dataset, 10**9)
        efficiency["bucketed" if bucket else "plain"] = padding_efficiency(batches)
        model = model or _new_model(name, settings, *tokenizers, next(iter(batches)))
        variants["bucketed" if bucket else "plain"] = _training_round(model, batches, tokens)
    results = _interleaved(variants, settings.lever_rounds)
    return {
        "train_tokens_per_s": results,
        "padding_efficiency": efficiency,
        "ratio": _ratio(results, "bucketed", "plain"),
    }


def _lever_jit(name, settings, batches, tokens, tokenizers):
    """`jit_compile=True` vs False: two copies of the model on the same batches."""
    variants = {}
    for jit in (True, False):
        model = _new_model(name, settings, *tokenizers, next(iter(batches)), jit_compile=jit)
        variants["jit" if jit else "no_jit"] = _training_round(model, batches, tokens)
    try:
        results = _interleaved(variants, settings.lever_rounds)
    except tf.errors.OpError as e:  # e.g. a loop XLA cannot compile
        lines = str(e).strip().splitlines()
        message = next((line for line in lines if "XLA" in line), lines[0]).strip()
        return {"ratio": None, "error": f"{type(e).__name__}: {message}"}
    return {
        "train_tokens_per_s": results,
        "ratio": _ratio(results, "jit", "no_jit"),
        "note": "warmup: tokens/s of the first pass, which traces (and with XLA compiles "
        "once per batch shape)",
    }


def _lever_bfloat16(name, settings, batches, tokens, tokenizers):
    """`mixed_bfloat16` vs float32: two copies of the model on the same batches.

    bf16 is usually thought of as a GPU/TPU lever, but CPUs with AVX512_BF16 (or AMX)
    run bf16 matmuls through oneDNN too; this measures whether training gains from it.
    """
    variants = {}
    previous = keras.mixed_precision.dtype_policy()
    try:
        for policy in ("float32", "mixed_bfloat16"):
            keras.mixed_precision.set_dtype_policy(policy)
            model = _new_model(name, settings, *tokenizers, next(iter(batches)))
            variants[policy] = _training_round(model, batches, tokens)
    finally:
        keras.mixed_precision.set_dtype_policy(previous)
    results = _interleaved(variants, settings.lever_rounds)
    return {
        "train_tokens_per_s": results,
        "ratio": _ratio(results, "mixed_bfloat16", "float32"),
    }


def _bfloat16_matmul(settings) -> dict:
    """bf16 vs fp32 `matmul` of the peak's size, interleaved: GFLOP/s."""
    size = settings.matmul_size
    variants = {}
    for dtype in (tf.float32, tf.bfloat16):
        a = tf.cast(tf.random.normal([size, size], seed=1), dtype)
        b = tf.cast(tf.random.normal([size, size], seed=2), dtype)

        def one_round(a=a, b=b):
            start = time.perf_counter()
            float(tf.linalg.matmul(a, b)[0, 0])
            return 2 * size**3 / (time.perf_counter() - start) / 1e9

        variants[dtype.name] = one_round
    results = _interleaved(variants, settings.matmul_repeats)
    return {"gflops": results, "ratio": _ratio(results, "bfloat16", "float32")}


def _lever_gru(settings):
    """`keras.layers.GRU` vs `keras.layers.RNN(GRUCell)`: forward and backward of one
    masked layer at the reference encoder size; output in sequences per second."""
    units = settings.rnn_config.get("units", 128)
    width = settings.rnn_config.get("embedding_dim", 64)
    batch, length = settings.batch_size, 16
    x = tf.random.normal([batch, length, width], seed=3)
    mask = tf.sequence_mask(tf.random.uniform([batch], 4, length + 1, tf.int32, seed=4), length)
    layers = {
        "gru_layer": keras.layers.GRU(units, return_sequences=True),
        "rnn_of_gru_cell": keras.layers.RNN(keras.layers.GRUCell(units), return_sequences=True),
    }
    variants = {}
    for name, layer in layers.items():

        @tf.function
        def step(layer=layer):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(layer(x, mask=mask))
            return tape.gradient(loss, layer.trainable_weights)

        def one_round(step=step, repeats=10):
            step()
            start = time.perf_counter()
            for _ in range(repeats):
                tf.nest.map_structure(lambda g: float(tf.reduce_sum(g)), step())
            return repeats * batch / (time.perf_counter() - start)

        variants[name] = one_round
    results = _interleaved(variants, settings.lever_rounds)
    return {
        "sequences_per_s": results,
        "ratio": _ratio(results, "gru_layer", "rnn_of_gru_cell"),
        "shape": [batch, length, width],
        "units": units,
    }


def _lever_kv_cache(model, tokenizers, sentences, settings):
    """Greedy decoding with the Transformer's key/value cache (`greedy_decode`) vs
    running the whole model on the prefix at every step (`greedy_decode_recomputed`),
    batched and one sentence at a time (same sentences, same maximum length)."""
    ids = tokenizers[0].tokenize(sentences)[:, : settings.max_length]
    batch_ids = ids.to_tensor()
    max_length = int(batch_ids.shape[1]) + 10
    cached, _ = decoding.greedy_decode(model, batch_ids, max_length)
    recomputed = decoding.greedy_decode_recomputed(model, batch_ids, max_length)
    agree = tf.reduce_all(cached == recomputed, axis=1)
    singles = [ids[i : i + 1].to_tensor() for i in range(min(len(sentences), 8))]

    def timed(function, inputs):
        def one_round():
            start = time.perf_counter()
            for x in inputs:
                int(tf.reduce_sum(function(model, x, max_length)))
            return sum(int(x.shape[0]) for x in inputs) / (time.perf_counter() - start)

        return one_round

    def with_cache(model, x, length):
        return decoding.greedy_decode(model, x, length)[0]

    results = {}
    for label, inputs in (("batch", [batch_ids]), ("single", singles)):
        results[label] = _interleaved(
            {
                "kv_cache": timed(with_cache, inputs),
                "recompute": timed(decoding.greedy_decode_recomputed, inputs),
            },
            settings.lever_rounds,
        )
    return {
        "sentences_per_s": results,
        "ratio_batch": _ratio(results["batch"], "kv_cache", "recompute"),
        "ratio_single": _ratio(results["single"], "kv_cache", "recompute"),
        "max_length": max_length,
        "same_tokens_share": float(tf.reduce_mean(tf.cast(agree, tf.float32))),
    }


def _lever_models(name: str, settings: BenchSettings) -> dict:
    """The levers of one model (run in a fresh process by `run_levers`)."""
    corpus, train, tokenizers, dataset = _prepare(name, settings)
    batches, _, _, tokens = _cached_batches(dataset, settings.lever_steps)
    result = {"jit_compile": _lever_jit(name, settings, batches, tokens, tokenizers)}
    if name in ("bahdanau", "transformer"):
        result["bucketing"] = _lever_bucketing(name, settings, train, tokenizers)
        result["mixed_bfloat16"] = _lever_bfloat16(name, settings, batches, tokens, tokenizers)
    # A model trained by the jit lever's rounds decodes more like a real one than a
    # fresh one (whose outputs rarely end): train one for the decoding levers.
    model = _new_model(name, settings, *tokenizers, next(iter(batches)))
    _fit_quietly(model, batches, epochs=max(1, settings.lever_rounds))
    sentences = _sample(corpus.test.source, settings.lever_sentences, settings.seed)
    common = {"max_source_length": settings.max_length, "method": "beam"}
    rounds = _interleaved(
        {
            "batch_64": _decoding_round(model, tokenizers, sentences, batch_size=64, **common),
            "one_at_a_time": _decoding_round(model, tokenizers, sentences, batch_size=1, **common),
        },
        settings.lever_rounds,
    )
    result["batched_beam_search"] = {
        "sentences_per_s": rounds,
        "ratio": _ratio(rounds, "batch_64", "one_at_a_time"),
    }
    if name == "transformer":
        result["kv_cache"] = _lever_kv_cache(model, tokenizers, sentences, settings)
    return result


def run_levers(settings: BenchSettings, out: str | os.PathLike, models=BENCH_MODELS) -> dict:
    """Measure each lever on/off, interleaved, and write `out/levers.json`.

    Levers: `jit_compile` per model; length bucketing vs plain padding (`bahdanau`,
    `transformer`); batched vs one-sentence-at-a-time beam search per model; the
    Transformer's key/value cache vs recomputing the prefix; the Keras GRU layer vs
    `RNN(GRUCell)`. Each ratio is `on / off` of medians over the rounds after the first.
    """
    _load(settings)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start, load_before = time.monotonic(), os.getloadavg()
    _say("levers: keras.layers.GRU vs RNN(GRUCell)")
    gru = _in_fresh_process(_lever_gru, settings)
    levers = {}
    for i, name in enumerate(models, 1):
        _say(f"levers: [{i}/{len(models)}] {name}")
        levers[name] = _in_fresh_process(_lever_models, name, settings)
    _say("levers: bf16 vs fp32 matmul")
    report = {
        "mode": settings.mode,
        "hardware": hardware_description(),
        "settings": asdict(settings),
        "gru_vs_rnn_cell": gru,
        "models": levers,
        "bfloat16_matmul": _in_fresh_process(_bfloat16_matmul, settings),
        "notes": [
            "ratios are on/off of medians over the rounds after the first (a warm-up); "
            "rounds alternate between the variants",
            "mixed_float16 is a GPU lever: not measured (no GPU on this machine); "
            "mixed_bfloat16 is measured on the CPU",
        ],
    }
    report["seconds"] = time.monotonic() - start
    report["load_average_1min"] = [load_before[0], os.getloadavg()[0]]
    (out / "levers.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def lever_lines(report: dict) -> list[str]:
    """One human-readable line per measured ratio of a `levers.json` report."""
    lines = []
    gru = report["gru_vs_rnn_cell"]
    lines.append(f"GRU layer vs RNN(GRUCell), forward+backward: x{gru['ratio']:.2f}")
    lines.append(f"bf16 vs fp32 matmul: x{report['bfloat16_matmul']['ratio']:.2f}")
    for name, levers in report["models"].items():
        for lever, result in levers.items():
            if lever == "kv_cache":
                lines.append(
                    f"{name} KV cache vs recomputation: x{result['ratio_batch']:.2f} batched, "
                    f"x{result['ratio_single']:.2f} one sentence at a time"
                )
            elif result["ratio"] is None:
                lines.append(f"{name} {lever.replace('_', ' ')}: failed ({result['error']})")
            else:
                lines.append(f"{name} {lever.replace('_', ' ')}: x{result['ratio']:.2f}")
    return lines


def with_overrides(settings: BenchSettings, **overrides) -> BenchSettings:
    """`settings` with the non-`None` `overrides` applied (the command line's options)."""
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})
