"""The lever experiments of `s2s-keras bench --levers`: each lever on and off, measured
in one process with interleaved rounds, every result in one shape.

Notebook 08 measures some of the same levers on the course's Transformer;
`docs/performance.md` (Levers) holds the measured table. Every experiment gives one or
more *lever entries* of the same shape:

```
{"lever": "jit_compile",            # what is switched
 "model": "bahdanau",               # or None for a lever measured without a model
 "variant":  {"label": "jit_compile=True",  "unit": "train tokens/s",
              "value": 3267.0, "samples": [...], "warmup": 700.2},
 "baseline": {"label": "jit_compile=False", "unit": "train tokens/s", ...},
 "ratio": 1.20,                     # variant value / baseline value; None if it failed
 "settings": {"rounds": 4, ...},    # what it was measured on
 "observations": {...},             # other measured facts, e.g. padding efficiencies
 "error": None}                     # or one line saying why it could not be measured
```

`value` is the median of `samples`, the rates of the rounds after the first;
`warmup` is the rate of the first round, which traces the functions (and with XLA
compiles them once per batch shape). The rounds alternate between the variant and the
baseline, so a change in the machine's load affects both alike.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import asdict
from pathlib import Path

import keras
import tensorflow as tf

from s2s_keras import decoding
from s2s_keras.bench import timing
from s2s_keras.bench.suite import (
    BENCH_MODELS,
    BenchSettings,
    cached_batches,
    fit_quietly,
    load_bench_corpus,
    new_model,
    prepare,
    sample,
    say,
)
from s2s_keras.pipeline import make_dataset, padding_efficiency
from s2s_keras.training import hardware_description

TRAIN_UNIT = "train tokens/s"
DECODE_UNIT = "sentences/s"


def compare(
    lever: str,
    *,
    model: str | None,
    unit: str,
    variant: tuple,
    baseline: tuple,
    rounds: int,
    settings: dict,
    observations: dict | None = None,
) -> dict:
    """One lever entry (the module docstring's shape): `variant` against `baseline`.

    Args:
        lever: the lever's name.
        model: the model it is measured on, or `None`.
        unit: the unit of the rates, e.g. `"train tokens/s"`.
        variant, baseline: `(label, function)`, each function taking no argument and
            returning one rate; the variant is the lever on, the baseline off.
        rounds: rounds of each, the first a warm-up (see `timing.interleaved`).
        settings: what the lever is measured on; `rounds` is added.
        observations: other measured facts to keep with the entry.

    Returns:
        The entry. A TensorFlow error during the rounds (e.g. a loop XLA cannot compile)
        gives `ratio`, `value`s and `warmup`s of `None` and the error's first relevant
        line in `error`.
    """
    (variant_label, variant_function), (baseline_label, baseline_function) = variant, baseline
    try:
        rates = timing.interleaved(
            {"variant": variant_function, "baseline": baseline_function}, rounds
        )
        error = None
    except tf.errors.OpError as e:
        lines = str(e).strip().splitlines() or [""]
        message = next((line for line in lines if "XLA" in line), lines[0]).strip()
        rates, error = {"variant": [], "baseline": []}, f"{type(e).__name__}: {message}"

    def measurement(label, key):
        samples = rates[key][1:]
        return {
            "label": label,
            "unit": unit,
            "value": statistics.median(samples) if samples else None,
            "samples": samples,
            "warmup": rates[key][0] if rates[key] else None,
        }

    entry = {
        "lever": lever,
        "model": model,
        "variant": measurement(variant_label, "variant"),
        "baseline": measurement(baseline_label, "baseline"),
        "ratio": None,
        "settings": {**settings, "rounds": rounds},
        "observations": observations or {},
        "error": error,
    }
    if error is None:
        entry["ratio"] = entry["variant"]["value"] / entry["baseline"]["value"]
    return entry


def training_round(model, batches, tokens):
    """A function running one epoch of `fit` over the cached `batches` and returning the
    target tokens per second (`tokens`: the real target tokens of each batch)."""

    def one_round():
        timer = timing.StepTimer()
        fit_quietly(model, batches, epochs=1, callbacks=[timer])
        return sum(tokens) / sum(timer.epochs[0])

    return one_round


def _decoding_round(model, tokenizers, sentences, **kwargs):
    def one_round():
        start = time.perf_counter()
        decoding.translate(model, *tokenizers, sentences, **kwargs)
        return len(sentences) / (time.perf_counter() - start)

    return one_round


# --- the levers ----------------------------------------------------------------------


def lever_bucketing(name, settings, train, tokenizers) -> dict:
    """Length-bucketed vs plain padded batches of the same sentences, one model."""
    sentences = train.take(settings.lever_steps * settings.batch_size)
    rounds, efficiency, model = {}, {}, None
    for bucket in (True, False):
        dataset = make_dataset(
            sentences,
            *tokenizers,
            batch_size=settings.batch_size,
            max_length=settings.max_length,
            bucket=bucket,
            seed=settings.seed,
        )
        batches, _, _, tokens = cached_batches(dataset, 10**9)
        efficiency[bucket] = padding_efficiency(batches)
        model = model or new_model(name, settings, *tokenizers, next(iter(batches)))
        rounds[bucket] = training_round(model, batches, tokens)
    return compare(
        "bucketing",
        model=name,
        unit=TRAIN_UNIT,
        variant=("length-bucketed batches", rounds[True]),
        baseline=("plain padded batches", rounds[False]),
        rounds=settings.lever_rounds,
        settings={"sentences": len(sentences), "batch_size": settings.batch_size},
        observations={
            "variant_padding_efficiency": efficiency[True],
            "baseline_padding_efficiency": efficiency[False],
        },
    )


def lever_jit(name, settings, batches, tokens, tokenizers) -> dict:
    """`jit_compile=True` vs False: two copies of the model on the same batches."""
    rounds = {
        jit: training_round(
            new_model(name, settings, *tokenizers, next(iter(batches)), jit_compile=jit),
            batches,
            tokens,
        )
        for jit in (True, False)
    }
    return compare(
        "jit_compile",
        model=name,
        unit=TRAIN_UNIT,
        variant=("jit_compile=True", rounds[True]),
        baseline=("jit_compile=False", rounds[False]),
        rounds=settings.lever_rounds,
        settings={"steps": len(tokens), "batch_size": settings.batch_size},
    )


def lever_bfloat16(name, settings, batches, tokens, tokenizers) -> dict:
    """The `mixed_bfloat16` policy vs float32: two copies of the model on the same batches.

    bf16 is usually thought of as a GPU/TPU lever, but CPUs with AVX512_BF16 (or AMX)
    run bf16 matmuls through oneDNN too; this measures whether training gains from it.
    """
    rounds = {}
    previous = keras.mixed_precision.dtype_policy()
    try:
        for policy in ("float32", "mixed_bfloat16"):
            keras.mixed_precision.set_dtype_policy(policy)
            model = new_model(name, settings, *tokenizers, next(iter(batches)))
            rounds[policy] = training_round(model, batches, tokens)
    finally:
        keras.mixed_precision.set_dtype_policy(previous)
    return compare(
        "mixed_bfloat16",
        model=name,
        unit=TRAIN_UNIT,
        variant=("mixed_bfloat16 policy", rounds["mixed_bfloat16"]),
        baseline=("float32 policy", rounds["float32"]),
        rounds=settings.lever_rounds,
        settings={"steps": len(tokens), "batch_size": settings.batch_size},
    )


def lever_bfloat16_matmul(settings) -> dict:
    """bf16 vs fp32 `matmul` of the matmul peak's size: GFLOP/s."""
    size = settings.matmul_size
    rounds = {}
    for dtype in (tf.bfloat16, tf.float32):
        a = tf.cast(tf.random.normal([size, size], seed=1), dtype)
        b = tf.cast(tf.random.normal([size, size], seed=2), dtype)
        rounds[dtype.name] = lambda a=a, b=b: timing.matmul_rate(a, b)
    return compare(
        "bfloat16_matmul",
        model=None,
        unit="GFLOP/s",
        variant=(f"bfloat16 matmul {size}x{size}", rounds["bfloat16"]),
        baseline=(f"float32 matmul {size}x{size}", rounds["float32"]),
        rounds=settings.matmul_repeats,
        settings={"size": size},
    )


def lever_gru(settings) -> dict:
    """`keras.layers.GRU` vs `keras.layers.RNN(GRUCell)`: forward and backward of one
    masked layer at the reference encoder size, in sequences per second."""
    units = settings.rnn_config.get("units", 128)
    width = settings.rnn_config.get("embedding_dim", 64)
    batch, length, repeats = settings.batch_size, 16, 10
    x = tf.random.normal([batch, length, width], seed=3)
    mask = tf.sequence_mask(tf.random.uniform([batch], 4, length + 1, tf.int32, seed=4), length)

    def rate_of(layer):
        @tf.function
        def step():
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(layer(x, mask=mask))
            return tape.gradient(loss, layer.trainable_weights)

        def one_round():
            step()
            start = time.perf_counter()
            for _ in range(repeats):
                tf.nest.map_structure(lambda g: float(tf.reduce_sum(g)), step())
            return repeats * batch / (time.perf_counter() - start)

        return one_round

    return compare(
        "fused_gru",
        model=None,
        unit="sequences/s",
        variant=("keras.layers.GRU", rate_of(keras.layers.GRU(units, return_sequences=True))),
        baseline=(
            "keras.layers.RNN(GRUCell)",
            rate_of(keras.layers.RNN(keras.layers.GRUCell(units), return_sequences=True)),
        ),
        rounds=settings.lever_rounds,
        settings={"shape": [batch, length, width], "units": units, "masked": True},
    )


def lever_batched_beam_search(name, model, tokenizers, sentences, settings) -> dict:
    """Beam 4 over `sentences` at batch 64 vs one sentence at a time, same model."""
    common = {"max_source_length": settings.max_length, "method": "beam"}
    return compare(
        "batched_beam_search",
        model=name,
        unit=DECODE_UNIT,
        variant=(
            "beam 4, batches of 64",
            _decoding_round(model, tokenizers, sentences, batch_size=64, **common),
        ),
        baseline=(
            "beam 4, one sentence at a time",
            _decoding_round(model, tokenizers, sentences, batch_size=1, **common),
        ),
        rounds=settings.lever_rounds,
        settings={"sentences": len(sentences), "max_source_length": settings.max_length},
    )


def lever_kv_cache(name, model, tokenizers, sentences, settings) -> list[dict]:
    """Greedy decoding with the Transformer's key/value cache (`greedy_decode`) vs running
    the whole model on the prefix at every step (`greedy_decode_recomputed`).

    Returns:
        Two entries: `kv_cache_batched` (all `sentences` in one batch) and
        `kv_cache_one_at_a_time` (the first 8, one per call); same maximum length.
        Both observe `same_tokens_share`, the share of the batch's sentences for which
        the two decoders gave the same tokens.
    """
    ids = tokenizers[0].tokenize(sentences)[:, : settings.max_length]
    batch_ids = ids.to_tensor()
    max_length = int(batch_ids.shape[1]) + 10
    cached, _ = decoding.greedy_decode(model, batch_ids, max_length)
    recomputed = decoding.greedy_decode_recomputed(model, batch_ids, max_length)
    agree = float(tf.reduce_mean(tf.cast(tf.reduce_all(cached == recomputed, axis=1), tf.float32)))
    singles = [ids[i : i + 1].to_tensor() for i in range(min(len(sentences), 8))]

    def with_cache(model, x, length):
        return decoding.greedy_decode(model, x, length)[0]

    def timed(function, inputs):
        def one_round():
            start = time.perf_counter()
            for x in inputs:
                int(tf.reduce_sum(function(model, x, max_length)))
            return sum(int(x.shape[0]) for x in inputs) / (time.perf_counter() - start)

        return one_round

    entries = []
    for lever, inputs, how in (
        ("kv_cache_batched", [batch_ids], f"a batch of {len(sentences)}"),
        ("kv_cache_one_at_a_time", singles, "one sentence at a time"),
    ):
        entries.append(
            compare(
                lever,
                model=name,
                unit=DECODE_UNIT,
                variant=(f"greedy with the key/value cache, {how}", timed(with_cache, inputs)),
                baseline=(
                    f"greedy recomputing the prefix, {how}",
                    timed(decoding.greedy_decode_recomputed, inputs),
                ),
                rounds=settings.lever_rounds,
                settings={
                    "sentences": sum(int(x.shape[0]) for x in inputs),
                    "max_length": max_length,
                },
                observations={"same_tokens_share": agree},
            )
        )
    return entries


def _levers_of_model(name: str, settings: BenchSettings) -> list[dict]:
    """The lever entries of one model (run in a fresh process by `run_levers`)."""
    corpus, train, tokenizers, dataset = prepare(name, settings)
    batches, _, _, tokens = cached_batches(dataset, settings.lever_steps)
    entries = [lever_jit(name, settings, batches, tokens, tokenizers)]
    if name in ("bahdanau", "transformer"):
        entries.append(lever_bucketing(name, settings, train, tokenizers))
        entries.append(lever_bfloat16(name, settings, batches, tokens, tokenizers))
    # A trained model decodes more like a real one than a fresh one (whose outputs
    # rarely end): train one for the decoding levers.
    model = new_model(name, settings, *tokenizers, next(iter(batches)))
    fit_quietly(model, batches, epochs=max(1, settings.lever_rounds))
    sentences = sample(corpus.test.source, settings.lever_sentences, settings.seed)
    entries.append(lever_batched_beam_search(name, model, tokenizers, sentences, settings))
    if name == "transformer":
        entries.extend(lever_kv_cache(name, model, tokenizers, sentences, settings))
    return entries


def run_levers(settings: BenchSettings, out: str | os.PathLike, models=BENCH_MODELS) -> dict:
    """Measure each lever on/off, interleaved, and write `out/levers.json`.

    Levers: the Keras GRU layer vs `RNN(GRUCell)`; per model, `jit_compile` and batched
    vs one-sentence-at-a-time beam search; length bucketing vs plain padding and the
    `mixed_bfloat16` policy vs float32 (`bahdanau`, `transformer`); the Transformer's
    key/value cache vs recomputing the prefix; bf16 vs fp32 matmul. Each model's levers
    run in a fresh process.

    Returns:
        The report (the content of `levers.json`); its `levers` is the list of lever
        entries, in the order they were measured.
    """
    load_bench_corpus(settings)  # a missing corpus fails here, with one clear error
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start, load_before = time.monotonic(), os.getloadavg()
    say("levers: keras.layers.GRU vs RNN(GRUCell)")
    entries = [timing.in_fresh_process(lever_gru, settings)]
    for i, name in enumerate(models, 1):
        say(f"levers: [{i}/{len(models)}] {name}")
        entries.extend(timing.in_fresh_process(_levers_of_model, name, settings))
    say("levers: bf16 vs fp32 matmul")
    entries.append(timing.in_fresh_process(lever_bfloat16_matmul, settings))
    report = {
        "mode": settings.mode,
        "hardware": hardware_description(),
        "settings": asdict(settings),
        "levers": entries,
        "notes": [
            "ratio: variant value / baseline value; value: the median of the rounds after "
            "the first (a warm-up, its rate in 'warmup'); rounds alternate between the two",
            "mixed_float16 is a GPU lever: not measured (no GPU on this machine); "
            "mixed_bfloat16 is measured on the CPU",
        ],
        "seconds": time.monotonic() - start,
        "load_average_1min": [load_before[0], os.getloadavg()[0]],
    }
    (out / "levers.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def lever_lines(report: dict) -> list[str]:
    """One human-readable line per lever entry of a `levers.json` report."""
    lines = []
    for entry in report["levers"]:
        variant, baseline = entry["variant"], entry["baseline"]
        line = f"{variant['label']} vs {baseline['label']} ({variant['unit']})"
        if entry["model"] is not None:
            line = f"{entry['model']}: {line}"
        if entry["error"] is not None:
            lines.append(f"{line}: failed ({entry['error']})")
        else:
            lines.append(f"{line}: x{entry['ratio']:.2f}")
    return lines
