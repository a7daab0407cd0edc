"""The per-model benchmark suite of `s2s-keras bench`: its settings, its measurements and
its Markdown table.

Notebook 08 (performance and scale) introduces it; `docs/performance.md` holds the
measured tables and the definitions. For each model `run` measures, in a fresh process:

- **training throughput**: non-padding target tokens per second of `Model.fit`, the
  median over the measured steps of `tokens in the batch / step time`. The measured
  batches are `steps` batches of the real pipeline (`make_dataset`: shuffled, bucketed,
  padded), cached in memory; `fit` runs over them twice and only the second pass is
  timed (`timing.StepTimer`), so tracing (and XLA compilation, where on) is excluded.
- **padding efficiency**: `pipeline.padding_efficiency` over one pass of the training split.
- **analytic FLOPs per target token** (`flops.training_flops_per_token`) and **FLOP
  utilisation**: `flops_per_target_token * train_tokens_per_s / matmul peak`, against an
  fp32 matmul peak measured in the same run, at its start and its end.
- **decoding**: sentences per second of `decoding.translate` (what `s2s-keras translate`
  runs: tokenize, sort by length, decode, detokenize) for greedy decoding and beam 4
  (α 0.6) at batch 64, after a warm-up call that traces the decoders; and the
  single-sentence latency, the median over sentences of one `translate([sentence])`.
- **peak RSS**: `ru_maxrss` of the model's process, after the measurements above.
- optionally **BLEU/chrF after a wall-clock training budget** of `train_minutes`
  (`bleu_after_{M}_min`, `chrf_after_{M}_min`, see `quality_keys`): `training.train`
  with `max_minutes`, then greedy decoding of the test split scored by
  `evaluation.corpus_scores`.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import keras
import numpy as np

from s2s_keras import decoding
from s2s_keras.bench import timing
from s2s_keras.bench.flops import training_flops_per_token
from s2s_keras.models import build_model, model_config
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
    train_minutes: float = 0.0  # training budget for BLEU/chrF; 0: not measured
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
        """The vocabulary size per side asked of the tokenizers of the architecture `name`."""
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

# The reference models, sized as they are: the TensorFlow Text tutorial "NMT with
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


def with_overrides(settings: BenchSettings, **overrides) -> BenchSettings:
    """`settings` with the non-`None` `overrides` applied (the command line's options)."""
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})


def quality_keys(train_minutes: float) -> tuple[str, str]:
    """The keys of the BLEU and chrF reached after `train_minutes` of training.

    `quality_keys(20.0)` is `("bleu_after_20_min", "chrf_after_20_min")`,
    `quality_keys(0.5)` is `("bleu_after_0.5_min", "chrf_after_0.5_min")`.
    """
    return f"bleu_after_{train_minutes:g}_min", f"chrf_after_{train_minutes:g}_min"


# --- data and models, shared with the levers -----------------------------------------


def load_bench_corpus(settings: BenchSettings):
    """The corpus of `settings`: the toy corpus, or a corpus of `corpora.CORPORA`."""
    from s2s_keras.corpora import load_corpus
    from s2s_keras.toy import make_toy_corpus

    if settings.corpus == "toy":
        return make_toy_corpus(settings.toy_pairs, seed=settings.seed)
    return load_corpus(settings.corpus, data_dir=settings.data_dir)


def sample(texts, n: int, seed: int) -> list[str]:
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


def cached_batches(dataset, steps: int):
    """The first `steps` batches of `dataset`, cached, with their real token counts.

    Returns:
        `(dataset, source_lengths, target_lengths, tokens_per_batch)`; iterating the
        returned dataset again gives the same batches in the same order.
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


def fit_quietly(model, dataset, **kwargs):
    """`model.fit(dataset, verbose=0, **kwargs)` without Keras' note that the cached
    batches (of unknown length) "ran out of data"."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*ran out of data.*")
        return model.fit(dataset, verbose=0, **kwargs)


def _recipe(name: str):
    return RECIPES["transformer" if name == "transformer" else "rnn"]


def new_model(name, settings, source_tokenizer, target_tokenizer, batch, jit_compile="auto"):
    """A fresh model `name` of `settings`, built on one `batch` and compiled with its recipe.

    Args:
        jit_compile: `"auto"` keeps Keras' default; `True` or `False` forces it.
    """
    model = build_model(
        settings.config(name), source_tokenizer.vocab_size, target_tokenizer.vocab_size
    )
    (source, target_in), _ = batch
    model((source[:1], target_in[:1]))
    recipe = _recipe(name)
    compile_model(
        model,
        learning_rate=recipe.learning_rate,
        clipnorm=recipe.clipnorm,
        label_smoothing=recipe.label_smoothing,
    )
    if jit_compile != "auto":
        model.jit_compile = jit_compile
    return model


def prepare(name: str, settings: BenchSettings):
    """Corpus, tokenizers, the training split in a random order and its shuffled,
    bucketed dataset, for the model `name`.

    Returns:
        `(corpus, train, tokenizers, dataset)`, `tokenizers` a `(source, target)` pair.
    """
    keras.utils.set_random_seed(settings.seed)
    corpus = load_bench_corpus(settings)
    tokenizers = fit_tokenizers(
        corpus.train,
        kind=_recipe(name).tokenizer,
        vocab_size=settings.vocab_size(name),
        source_lang=corpus.source_lang,
        target_lang=corpus.target_lang,
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


def say(message: str) -> None:
    """One progress line on stderr (stdout carries the table), with the wall-clock time."""
    print(f"bench {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


# --- measuring one model -------------------------------------------------------------


def translate_seconds(model, tokenizers, sentences, repeats, **kwargs) -> float:
    """Median seconds of `decoding.translate(sentences)` over `repeats` runs after a warm-up."""
    return timing.median_seconds(
        lambda: decoding.translate(model, *tokenizers, sentences, **kwargs), repeats
    )


def latency_ms(model, tokenizers, sentences, **kwargs) -> float:
    """Median milliseconds of `decoding.translate([sentence])` over `sentences`, after a
    warm-up pass over the same sentences (which traces the batch-1 decoder)."""
    for sentence in sentences:
        decoding.translate(model, *tokenizers, [sentence], **kwargs)
    times = []
    for sentence in sentences:
        start = time.perf_counter()
        decoding.translate(model, *tokenizers, [sentence], **kwargs)
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def measure_model(name: str, settings: BenchSettings) -> dict:
    """Everything the bench reports for one model, except the utilisation (which needs
    the matmul peak): run in a fresh process by `run`."""
    say(f"{name}: tokenizers, then {settings.steps} timed training steps and decoding")
    corpus, _, tokenizers, dataset = prepare(name, settings)
    efficiency = padding_efficiency(dataset)
    batches, source_lengths, target_lengths, tokens = cached_batches(dataset, settings.steps)
    model = new_model(name, settings, *tokenizers, next(iter(batches)))
    timer = timing.StepTimer()
    fit_quietly(model, batches, epochs=2, callbacks=[timer])
    step_times = timer.epochs[1]  # the second pass: no tracing
    rates = [n / t for n, t in zip(tokens, step_times, strict=True)]

    sentences = sample(corpus.test.source, settings.decode_sentences, settings.seed)
    common = {"batch_size": settings.batch_size, "max_source_length": settings.max_length}
    greedy = translate_seconds(model, tokenizers, sentences, settings.decode_repeats, **common)
    beam = translate_seconds(
        model, tokenizers, sentences, settings.decode_repeats, method="beam", **common
    )
    latency_sentences = sentences[: settings.latency_sentences]
    result = {
        "config": asdict(settings.config(name)),
        "tokenizer": _recipe(name).tokenizer,
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
        "latency_ms": latency_ms(model, tokenizers, latency_sentences, **common),
        "latency_beam4_ms": latency_ms(
            model, tokenizers, latency_sentences, method="beam", **common
        ),
        "peak_rss_mb": timing.peak_rss_mb(),
    }
    if settings.train_minutes > 0:
        say(
            f"{name}: training for {settings.train_minutes:g} min, then BLEU/chrF on the test split"
        )
        result.update(train_and_score(name, settings, corpus))
    return result


def _train_for_budget(name: str, settings: BenchSettings, corpus):
    """The trained model of `name` after `settings.train_minutes` of wall time (validation
    included): the suite's one call of `training.train`."""
    from s2s_keras.training import TrainSettings, train

    run = TrainSettings(
        model=name,
        config=settings.config(name),
        epochs=10_000,  # the time budget stops it
        batch_size=settings.batch_size,
        max_length=settings.max_length,
        vocab_size=settings.vocab_size(name),
        learning_rate=None if name == "transformer" else settings.rnn_learning_rate,
        max_minutes=settings.train_minutes,
        seed=settings.seed,
    )
    trained, _ = train(corpus, run, verbose=0)
    return trained


def train_and_score(name: str, settings: BenchSettings, corpus) -> dict:
    """Train `name` for `settings.train_minutes`, then greedy-decode the test split.

    Returns:
        BLEU and chrF under the keys of `quality_keys(settings.train_minutes)`, their
        sacrebleu signatures, the epochs begun, the trained model's decoding speed
        (`greedy_sentences_per_s_trained`, `beam4_sentences_per_s_trained`) and the
        process's peak RSS after training (`peak_rss_train_mb`).
    """
    from s2s_keras.evaluation import corpus_scores

    trained = _train_for_budget(name, settings, corpus)
    hypotheses = trained.translate(corpus.test.source, batch_size=settings.batch_size)
    scores = corpus_scores(hypotheses, corpus.test.target, target_lang=corpus.target_lang)
    # Decoding speed depends on how soon the outputs end: measured again, trained.
    sentences = sample(corpus.test.source, settings.decode_sentences, settings.seed)
    speed = {
        f"{key}_sentences_per_s_trained": len(sentences)
        / timing.median_seconds(
            lambda method=method: trained.translate(
                sentences, method=method, batch_size=settings.batch_size
            ),
            settings.decode_repeats,
        )
        for key, method in (("greedy", "greedy"), ("beam4", "beam"))
    }
    bleu_key, chrf_key = quality_keys(settings.train_minutes)
    return {
        bleu_key: scores["bleu"],
        chrf_key: scores["chrf"],
        **speed,
        "train_minutes": settings.train_minutes,
        "epochs_run": trained.info["epochs_run"],
        "bleu_signature": scores["bleu_signature"],
        "chrf_signature": scores["chrf_signature"],
        "peak_rss_train_mb": timing.peak_rss_mb(),
    }


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
)


def _columns(train_minutes: float):
    """`(key, title, format)` of the table's columns: BLEU and chrF only if measured."""
    if train_minutes <= 0:
        return _COLUMNS
    bleu_key, chrf_key = quality_keys(train_minutes)
    return (
        *_COLUMNS,
        (bleu_key, f"BLEU after {train_minutes:g} min", "{:.1f}"),
        (chrf_key, f"chrF after {train_minutes:g} min", "{:.1f}"),
    )


def markdown_table(report: dict) -> str:
    """The Markdown table of a `bench.json` report (one row per model).

    The BLEU and chrF columns, named for the training budget, appear when the report's
    `train_minutes` is above 0.
    """
    columns = _columns(report["settings"]["train_minutes"])
    lines = [
        "| " + " | ".join(title for _, title, _ in columns) + " |",
        "|" + "|".join(" --- " if key == "model" else " ---: " for key, _, _ in columns) + "|",
    ]
    for name, row in report["models"].items():
        cells = []
        for key, _, fmt in columns:
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


def _notes(settings: BenchSettings) -> list[str]:
    if settings.train_minutes > 0:
        bleu_key, chrf_key = quality_keys(settings.train_minutes)
        quality = (
            f"{bleu_key}/{chrf_key}: greedy decoding of the test split after "
            f"{settings.train_minutes:g} min of training (validation included)"
        )
    else:
        quality = "BLEU/chrF: not measured (--train-minutes 0)"
    return [
        f"training: median over {settings.steps} steps of the second pass over the same "
        "cached batches (the first pass traces the train function)"
        + ("; quick mode measures fewer than 50 steps" if settings.steps < 50 else ""),
        "decoding: decoding.translate, batch 64, after one warm-up call; beam 4, alpha 0.6",
        "latency: greedy, one sentence per call, median",
        quality,
    ]


def run(settings: BenchSettings, out: str | os.PathLike, models=BENCH_MODELS) -> dict:
    """Measure every model of `models`, each in a fresh process, and write the report.

    Writes `out/NAME.json` as each model finishes, then `out/bench.json` and
    `out/bench.md`.

    Returns:
        The report (the content of `bench.json`).
    """
    load_bench_corpus(settings)  # a missing corpus fails here, with one clear error
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start, load_before = time.monotonic(), os.getloadavg()
    _, before = timing.matmul_peak_gflops(settings.matmul_size, settings.matmul_repeats)
    bleu_key, _ = quality_keys(settings.train_minutes)
    results = {}
    for i, name in enumerate(models, 1):
        say(f"[{i}/{len(models)}] {name}")
        results[name] = timing.in_fresh_process(measure_model, name, settings)
        row = results[name]
        say(
            f"[{i}/{len(models)}] {name}: {row['train_tokens_per_s']:,.0f} tok/s"
            + (f", BLEU {row[bleu_key]:.2f}" if bleu_key in row else "")
        )
        # Kept as it comes: a long full run that fails later loses no finished model.
        (out / f"{name}.json").write_text(json.dumps(results[name], indent=2) + "\n")
    # Measured again at the end: the machine is shared, so the peak is the median of both.
    _, after = timing.matmul_peak_gflops(settings.matmul_size, settings.matmul_repeats)
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
        "notes": _notes(settings),
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
