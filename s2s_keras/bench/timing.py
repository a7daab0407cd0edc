"""Timing utilities of the benchmark suite: step timing, medians after a warm-up,
interleaved rounds, the matmul peak, peak memory and fresh processes.

Timings on a shared machine are noisy, so every figure of `s2s-keras bench` is a median
of repeated measurements taken after a warm-up (which traces, and with XLA compiles),
and every on/off comparison alternates its two variants in one process. Notebook 08
times its training steps with `StepTimer`; `docs/performance.md` describes the protocol.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import resource
import statistics
import time

import keras
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


def median_seconds(function, repeats: int) -> float:
    """Median seconds of `function()` over `repeats` calls after one untimed warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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
