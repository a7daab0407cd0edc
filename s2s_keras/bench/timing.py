"""Timing utilities of the benchmark suite: step timing, medians after a warm-up,
interleaved rounds, the matmul peak, peak memory and fresh processes.

Timings on a shared machine are noisy, so every figure of `s2s-keras bench` is a median
of repeated measurements taken after a warm-up (which traces, and with XLA compiles),
and every on/off comparison alternates its two variants in one process. Notebook 08
measures its training speeds the same way, with `training_rates` (`StepTimer` passes of
`fit`, `pass_rates` of them: median and spread) and `within_spread`;
`docs/performance.md` describes the protocol.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import resource
import statistics
import time

import keras
import numpy as np
import tensorflow as tf


class StepTimer(keras.callbacks.Callback):
    """Wall time of every `train_step` of `fit`, one list per epoch.

    Each step is timed from `on_train_batch_begin` to `on_train_batch_end`, after reading
    the step's loss (so the step has finished, not only been dispatched).

    Example:

    >>> timer = StepTimer()
    >>> model.fit(batches, epochs=2, callbacks=[timer])  # doctest: +SKIP
    >>> seconds_of_the_second_pass = sum(timer.epochs[1])  # doctest: +SKIP
    """

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


def target_tokens(batches) -> int:
    """The real (non-padding) target tokens in `((source, target_in), target_out)` batches."""
    return sum(int(np.count_nonzero(target_out)) for _, target_out in batches)


def pass_rates(timer: StepTimer, tokens: int) -> dict:
    """The training speed of every pass a `StepTimer` timed after its first one.

    The first pass traces the training step for every batch shape (and with XLA compiles
    it), so it is reported apart and left out of the speeds.

    Args:
        timer: a `StepTimer` that timed two or more passes over the same batches.
        tokens: the real target tokens of one pass (`target_tokens`).

    Returns:
        `{"tokens_per_second": the median over the timed passes, "rates": the tokens/s of
        each timed pass in order, "low", "high": the slowest and the fastest of them,
        "median_step_ms": the median step over the timed passes, "steps": steps per
        pass, "first_pass_seconds", "tokens"}`.

    Example:
        >>> timer = StepTimer()
        >>> timer.epochs = [[0.5, 0.5], [0.1, 0.1], [0.1, 0.3], [0.05, 0.05]]
        >>> rates = pass_rates(timer, 20)
        >>> rates["rates"], rates["tokens_per_second"], (rates["low"], rates["high"])
        ([100.0, 50.0, 200.0], 100.0, (50.0, 200.0))
    """
    if len(timer.epochs) < 2:
        raise ValueError(
            f"need two or more timed passes (the first one traces), got {len(timer.epochs)}"
        )
    timed = timer.epochs[1:]
    if not all(timed):
        raise ValueError("a pass has no steps: nothing was trained")
    rates = [tokens / sum(seconds) for seconds in timed]
    return {
        "tokens_per_second": statistics.median(rates),
        "rates": rates,
        "low": min(rates),
        "high": max(rates),
        "median_step_ms": 1000 * statistics.median(s for seconds in timed for s in seconds),
        "steps": len(timed[-1]),
        "first_pass_seconds": sum(timer.epochs[0]),
        "tokens": tokens,
    }


def training_rates(variants: dict, repeats: int = 3) -> dict[str, dict]:
    """Training speeds of several variants, each measured `repeats` times, in turns.

    Every variant, a `(compiled model, batches)` pair, first runs one untimed pass of
    `fit` over its batches (tracing, and with XLA compiling); then come `repeats` rounds
    in which every variant runs one timed pass in turn, so that a change in the machine's
    load falls on all of them alike. Variants may share a model (the batch sizes of one
    model, trained on: its speed does not depend on how far it has trained).

    Args:
        variants: name → `(model, batches)`, `batches` a finite dataset of
            `((source, target_in), target_out)` batches.
        repeats: timed passes per variant (>= 1). Defaults to 3.

    Returns:
        name → `pass_rates` of that variant: the median tokens/s and the spread of the
        `repeats` passes.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats!r}")
    timers = {name: StepTimer() for name in variants}
    tokens = {name: target_tokens(batches) for name, (_, batches) in variants.items()}
    for _ in range(1 + repeats):  # the first round traces
        for name, (model, batches) in variants.items():
            model.fit(batches, epochs=1, verbose=0, callbacks=[timers[name]])
    return {name: pass_rates(timers[name], tokens[name]) for name in variants}


def within_spread(a: dict, b: dict) -> bool:
    """Whether two `pass_rates` results overlap, slowest to fastest pass: then their
    difference is within the measurement's own spread, and says nothing.

    Example:
        >>> within_spread({"low": 90, "high": 110}, {"low": 105, "high": 120})
        True
        >>> within_spread({"low": 90, "high": 100}, {"low": 105, "high": 120})
        False
    """
    return a["low"] <= b["high"] and b["low"] <= a["high"]


def median_step_ms(model, batches: list) -> float:
    """Median milliseconds of `model.train_on_batch` over `batches`, after a warm-up.

    The warm-up runs every batch once, so each batch shape is traced before the timed
    round; timing from the first shape on would count tracing as training time.

    Args:
        model: a compiled Keras model.
        batches: a list of `(inputs, targets)` batches.
    """
    if not batches:
        raise ValueError("batches is empty")
    for inputs, targets in batches:  # warm-up: trace the step for each batch shape
        model.train_on_batch(inputs, targets)
    seconds = []
    for inputs, targets in batches:
        start = time.perf_counter()
        model.train_on_batch(inputs, targets)
        seconds.append(time.perf_counter() - start)
    return 1000 * statistics.median(seconds)


def median_seconds(function, repeats: int) -> float:
    """Median seconds of `function()` over `repeats` calls after one untimed warm-up call."""
    return timed_after_warmup(function, repeats)[1]


def timed_after_warmup(function, repeats: int = 1) -> tuple[object, float]:
    """`(result, seconds)` of `function()`, timed only after one untimed warm-up call.

    The warm-up traces every `tf.function` (and batch shape) the call meets, so no
    measurement carries tracing, whichever configuration comes first: notebook 03 times
    each decoding setting of its beam sweep this way.

    Args:
        function: a zero-argument function, deterministic if its result is to be used.
        repeats: timed calls after the warm-up (>= 1); the median is reported. Defaults
            to 1.

    Returns:
        The result of the last timed call and the median seconds of the timed calls.
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be an integer >= 1, got {repeats!r}")
    function()  # warm-up: tracing, thread pools, allocation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def interleaved(variants: dict, rounds: int) -> dict[str, list[float]]:
    """Run `variants` in turn for `rounds` rounds: the rate of every call.

    Args:
        variants: name → a zero-argument function returning a rate (e.g. tokens/s).
        rounds: how many times each function is called; the calls alternate between
            the variants, so a change in the machine's load affects them alike.

    Returns:
        name → the `rounds` rates, in order (the first one is the warm-up).
    """
    rates = {name: [] for name in variants}
    for _ in range(rounds):
        for name, function in variants.items():
            rates[name].append(function())
    return rates


def matmul_rate(a, b) -> float:
    """GFLOP/s of one `tf.linalg.matmul(a, b)` of square matrices, synchronised by reading
    one element of the product."""
    size = int(a.shape[0])
    start = time.perf_counter()
    float(tf.linalg.matmul(a, b)[0, 0])
    return 2 * size**3 / (time.perf_counter() - start) / 1e9


def matmul_peak_gflops(size: int = 2048, repeats: int = 10) -> tuple[float, list[float]]:
    """The fp32 matmul rate of this machine, `(median GFLOP/s, all samples)`.

    Times `repeats` calls of `tf.linalg.matmul` on two `size x size` matrices, after one
    untimed call (thread pools, allocation).
    """
    a = tf.random.normal([size, size], seed=1)
    b = tf.random.normal([size, size], seed=2)
    float(tf.linalg.matmul(a, b)[0, 0])
    rates = [matmul_rate(a, b) for _ in range(repeats)]
    return statistics.median(rates), rates


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (`ru_maxrss`, KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def in_fresh_process(function, *args):
    """`function(*args)` in a new interpreter, so that its peak memory is its own.

    The process is spawned (TensorFlow does not survive a fork); `function` must be
    importable by name and `args` picklable.
    """
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(function, *args).result()
