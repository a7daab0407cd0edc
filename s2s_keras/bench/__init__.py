"""The benchmark suite behind `s2s-keras bench`: speed, memory, FLOPs and the levers.

Introduced in notebook 08 (performance and scale, which measures its training speeds
with `training_rates`); notebooks 03 and 05 use its timing helpers before that
(`timed_after_warmup`, `median_step_ms`). `docs/performance.md` holds the definitions and
the measured tables.

- `s2s_keras.bench.flops`: the analytic FLOP model (`forward_flops`,
  `training_flops_per_token`);
- `s2s_keras.bench.timing`: step timing, medians after a warm-up (`timed_after_warmup`
  for any call, notebook 03), interleaved rounds, the matmul peak, peak memory, fresh
  processes;
- `s2s_keras.bench.suite`: the settings (`BenchSettings`, `QUICK`, `FULL`), the
  per-model measurements, `run` and its `markdown_table`;
- `s2s_keras.bench.levers`: the lever experiments, `run_levers` and `lever_lines`.

The command line uses `QUICK`, `FULL`, `with_overrides`, `run`, `markdown_table`,
`run_levers` and `lever_lines`, all importable from here.
"""

from s2s_keras.bench import flops, levers, suite, timing
from s2s_keras.bench.flops import forward_flops, training_flops_per_token
from s2s_keras.bench.levers import lever_lines, run_levers
from s2s_keras.bench.suite import (
    BENCH_MODELS,
    FULL,
    QUICK,
    BenchSettings,
    markdown_table,
    measure_model,
    quality_keys,
    run,
    with_overrides,
)
from s2s_keras.bench.timing import (
    StepTimer,
    matmul_peak_gflops,
    median_step_ms,
    pass_rates,
    target_tokens,
    timed_after_warmup,
    training_rates,
    within_spread,
)

__all__ = [
    "BENCH_MODELS",
    "FULL",
    "QUICK",
    "BenchSettings",
    "StepTimer",
    "flops",
    "forward_flops",
    "lever_lines",
    "levers",
    "markdown_table",
    "matmul_peak_gflops",
    "measure_model",
    "median_step_ms",
    "pass_rates",
    "quality_keys",
    "run",
    "run_levers",
    "suite",
    "target_tokens",
    "timed_after_warmup",
    "timing",
    "training_flops_per_token",
    "training_rates",
    "with_overrides",
    "within_spread",
]
