"""`s2s-keras bench`: the quick run's report, the one shape of a lever entry, the keys
named for the training budget, and the analytic FLOP counts by hand."""

import json
import math
import os
import subprocess
import sys
from dataclasses import replace

import keras
import numpy as np
import pytest
import tensorflow as tf

from s2s_keras import bench
from s2s_keras.bench import levers, suite
from s2s_keras.models import (
    AttentionSeq2SeqConfig,
    Seq2SeqConfig,
    TransformerConfig,
    build_model,
)

KEYS = (
    "train_tokens_per_s",
    "step_ms",
    "flop_utilisation",
    "padding_efficiency",
    "peak_rss_mb",
    "params",
    "flops_per_target_token",
    "greedy_sentences_per_s",
    "beam4_sentences_per_s",
    "latency_ms",
)
QUICK_STEPS = 6  # fewer than QUICK's 8: the command line's --steps is what counts
QUICK_MODELS = ("bahdanau", "transformer")
ENTRY_KEYS = {"lever", "model", "variant", "baseline", "ratio", "settings", "observations", "error"}
MEASUREMENT_KEYS = {"label", "unit", "value", "samples", "warmup"}


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "s2s_keras.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        timeout=600,
    )


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One `s2s-keras bench --quick --steps 6` run shared by the tests below, on one RNN with
    attention and the Transformer (all four took CI a few minutes; each architecture's FLOP
    model has its own unit test below)."""
    out = tmp_path_factory.mktemp("bench")
    result = run_cli(
        "bench", "--quick", "--steps", QUICK_STEPS, "--out", out, "--models", *QUICK_MODELS
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result, out, json.loads((out / "bench.json").read_text())


@pytest.mark.slow
def test_quick_bench_reports_every_key_for_every_model(quick_run):
    _, _, report = quick_run
    assert report["mode"] == "quick"
    assert report["settings"]["steps"] == QUICK_STEPS
    assert report["settings"]["train_minutes"] == 0
    assert "TensorFlow" in report["hardware"]
    assert math.isfinite(report["matmul_peak_gflops"]) and report["matmul_peak_gflops"] > 0
    assert len(report["matmul_gflops_samples"]) == 2 * bench.QUICK.matmul_repeats
    assert list(report["models"]) == list(QUICK_MODELS)
    for name, row in report["models"].items():
        for key in KEYS:
            value = row[key]
            assert isinstance(value, (int, float)) and math.isfinite(value), (name, key, value)
            assert value > 0, (name, key, value)
        assert not any(key.startswith(("bleu", "chrf")) for key in row)  # not trained
        assert 0 < row["padding_efficiency"] <= 1
        assert row["measured_steps"] == QUICK_STEPS
    assert any("fewer than 50 steps" in note for note in report["notes"])
    assert "BLEU/chrF: not measured (--train-minutes 0)" in report["notes"]


@pytest.mark.slow
def test_utilisation_is_the_achieved_flop_rate_over_the_measured_peak(quick_run):
    _, _, report = quick_run
    for row in report["models"].values():
        achieved = row["flops_per_target_token"] * row["train_tokens_per_s"]
        assert row["achieved_gflops"] == pytest.approx(achieved / 1e9, rel=1e-9)
        expected = achieved / (report["matmul_peak_gflops"] * 1e9)
        assert row["flop_utilisation"] == pytest.approx(expected, rel=1e-9)


@pytest.mark.slow
def test_quick_bench_prints_and_writes_one_table_row_per_model(quick_run):
    result, out, report = quick_run
    for i, name in enumerate(report["models"], 1):  # progress on stderr: start, then result
        assert f" [{i}/2] {name}\n" in result.stderr
        assert f" [{i}/2] {name}: " in result.stderr
    table = bench.markdown_table(report)
    assert table in result.stdout
    assert table in (out / "bench.md").read_text()
    for name, row in report["models"].items():  # each model's row, kept as it finished
        assert json.loads((out / f"{name}.json").read_text()) == {
            k: v for k, v in row.items() if k not in ("achieved_gflops", "flop_utilisation")
        }
    lines = table.splitlines()
    assert lines[0] == (
        "| model | params | train tok/s | step ms | padding eff. | MFLOP/tok | FLOP util. "
        "| greedy sent/s | beam-4 sent/s | latency ms | peak RSS MB |"
    )  # no BLEU/chrF columns: not trained
    assert len(lines) == 2 + len(QUICK_MODELS)
    for line, (name, row) in zip(lines[2:], report["models"].items(), strict=True):
        assert line.startswith(f"| {name} | {row['params']:,} | ")
        assert line.count("|") == 12


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--models", "nope"], "invalid choice: 'nope'"),
        (["--steps", "0"], "expected a number > 0, got '0'"),
        (["--train-minutes", "x"], "expected a float, got 'x'"),
    ],
)
def test_bad_arguments_give_a_one_line_error(args, fragment):
    result = run_cli("bench", *args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert fragment in result.stderr.strip().splitlines()[-1]


def test_command_line_options_override_the_preset_and_none_keeps_it():
    settings = bench.with_overrides(bench.QUICK, steps=3, train_minutes=None, data_dir="d")
    assert settings == replace(bench.QUICK, steps=3, data_dir="d")


# --- keys named for the training budget ----------------------------------------------


@pytest.mark.parametrize(
    "minutes, keys",
    [
        (20.0, ("bleu_after_20_min", "chrf_after_20_min")),
        (5, ("bleu_after_5_min", "chrf_after_5_min")),
        (0.5, ("bleu_after_0.5_min", "chrf_after_0.5_min")),
    ],
)
def test_quality_keys_carry_the_training_minutes(minutes, keys):
    assert bench.quality_keys(minutes) == keys


def _report(train_minutes, row):
    return {"settings": {"train_minutes": train_minutes}, "models": {"bahdanau": row}}


ROW = {
    "params": 1234567,
    "train_tokens_per_s": 2910.6,
    "step_ms": 179.54,
    "padding_efficiency": 0.8111,
    "flops_per_target_token": 33.94e6,
    "flop_utilisation": 0.4701,
    "greedy_sentences_per_s": 568.71,
    "beam4_sentences_per_s": 206.84,
    "latency_ms": 33.84,
    "peak_rss_mb": 1580.6,
}
ROW_CELLS = (
    "| bahdanau | 1,234,567 | 2,911 | 179.5 | 0.81 | 33.9 | 47.0% | 568.7 | 206.8 | 33.8 | 1,581"
)


def test_markdown_table_names_the_budget_in_its_bleu_and_chrf_columns():
    row = {**ROW, "bleu_after_5_min": 36.54, "chrf_after_5_min": 54.72}
    header, rule, line = bench.markdown_table(_report(5.0, row)).splitlines()
    assert header.endswith("| peak RSS MB | BLEU after 5 min | chrF after 5 min |")
    assert rule == "| --- |" + " ---: |" * 12
    assert line == ROW_CELLS + " | 36.5 | 54.7 |"


def test_markdown_table_has_no_bleu_columns_without_a_budget_and_n_a_for_missing_values():
    header, _, line = bench.markdown_table(_report(0.0, {**ROW, "latency_ms": None})).splitlines()
    assert header.endswith("| latency ms | peak RSS MB |")
    assert line == ROW_CELLS.replace("| 33.8 |", "| n/a |") + " |"


@pytest.fixture(scope="module")
def toy_corpus():
    return suite.load_bench_corpus(replace(bench.QUICK, toy_pairs=600))


def test_budgeted_training_scores_under_keys_named_for_its_minutes(monkeypatch, toy_corpus):
    import s2s_keras.training

    calls = {}

    class Trained:
        info = {"epochs_run": 3}

        def translate(self, sources, batch_size, method="greedy"):
            # The test split gets its references (BLEU and chrF 100), the rest itself.
            if list(sources) == list(toy_corpus.test.source):
                return list(toy_corpus.test.target)
            return list(sources)

    def fake_train(corpus, settings, **options):
        calls[settings.model] = settings
        return Trained(), {}

    monkeypatch.setattr(s2s_keras.training, "train", fake_train)
    settings = replace(
        bench.QUICK, toy_pairs=600, train_minutes=5, rnn_learning_rate=2e-3, decode_sentences=4
    )
    for name in ("bahdanau", "transformer"):
        scores = suite.train_and_score(name, settings, toy_corpus)
    assert scores["bleu_after_5_min"] == pytest.approx(100.0)
    assert scores["chrf_after_5_min"] == pytest.approx(100.0)
    assert scores["train_minutes"] == 5 and scores["epochs_run"] == 3
    assert calls["bahdanau"].learning_rate == 2e-3
    assert calls["transformer"].learning_rate is None  # its recipe's
    assert calls["bahdanau"].max_minutes == 5
    assert bench.FULL.rnn_learning_rate == 1e-3
    assert bench.FULL.train_minutes == 20.0


@pytest.mark.slow
def test_training_to_a_time_budget_reports_bleu_and_chrf(toy_corpus):
    settings = replace(bench.QUICK, toy_pairs=600, train_minutes=0.02, decode_sentences=8)
    scores = suite.train_and_score("seq2seq", settings, toy_corpus)
    assert set(scores) == {
        "bleu_after_0.02_min",
        "chrf_after_0.02_min",
        "greedy_sentences_per_s_trained",
        "beam4_sentences_per_s_trained",
        "train_minutes",
        "epochs_run",
        "bleu_signature",
        "chrf_signature",
        "peak_rss_train_mb",
    }
    assert 0.0 <= scores["bleu_after_0.02_min"] <= 100.0
    assert 0.0 <= scores["chrf_after_0.02_min"] <= 100.0
    assert scores["train_minutes"] == 0.02 and scores["epochs_run"] >= 1
    assert "tok:13a" in scores["bleu_signature"] and "nc:6" in scores["chrf_signature"]
    assert scores["greedy_sentences_per_s_trained"] > 0
    assert scores["beam4_sentences_per_s_trained"] > 0


# --- FLOPs, counted by hand -----------------------------------------------------------


def test_seq2seq_flops_by_hand():
    config = Seq2SeqConfig(embedding_dim=2, units=3)  # D = H = 6
    # encoder: 4 source tokens x 2 directions x 6*3*(2+3) = 720; bridge: 2*6*6 = 72
    # decoder per target token: GRU 6*6*(2+6+6) = 504, logits 2*(6+6+2)*5 = 140
    assert bench.forward_flops(config, 5, 4, 3) == 720 + 72 + 3 * (504 + 140)


def test_bahdanau_flops_by_hand():
    config = AttentionSeq2SeqConfig(embedding_dim=2, units=3)  # D = H = A = 6
    # encoder 720, bridge 72, keys 2*6*6 per source token = 288
    # per target token: GRU 6*6*(2+6) = 288, context 2*4*6 = 48, combine 2*12*6 = 144,
    # logits 2*6*5 = 60, query 2*6*6 = 72, scores 2*6*4 = 48
    assert bench.forward_flops(config, 5, 4, 3) == 720 + 72 + 288 + 3 * (
        288 + 48 + 144 + 60 + 72 + 48
    )


def test_luong_general_with_input_feeding_flops_by_hand():
    config = AttentionSeq2SeqConfig(
        embedding_dim=2, units=3, attention="general", input_feeding=True
    )
    # encoder 720, bridge 72, keys W_a h_s: 2*6*6 per source token = 288
    # per target token: GRU over [e; h~] 6*6*(2+6+6) = 504, scores 2*6*4 = 48,
    # context 48, combine 144, logits 60
    assert bench.forward_flops(config, 5, 4, 3) == 720 + 72 + 288 + 3 * (504 + 48 + 48 + 144 + 60)


def test_transformer_flops_by_hand():
    config = TransformerConfig(num_layers=1, d_model=4, num_heads=2, ff_dim=8)
    # encoder, 3 source tokens: projections 8*16 = 128, attention 4*3*4 = 48, FFN 4*4*8 = 128
    encoder = 3 * (128 + 48 + 128)
    # decoder, 2 target tokens: self-attention 128 + 4*2*4 = 160 each; cross keys and
    # values 4*16 per source token = 192; cross queries/output 64, attention 4*3*4 = 48
    # and FFN 128 per target token
    decoder = 2 * 160 + 192 + 2 * (64 + 48 + 128)
    logits = 2 * 4 * 5 * 2
    assert bench.forward_flops(config, 5, 3, 2) == encoder + decoder + logits
    two_layers = replace(config, num_layers=2)
    assert bench.forward_flops(two_layers, 5, 3, 2) == 2 * (encoder + decoder) + logits


def _matmul_weights(model, exclude=()):
    """Entries of the model's matmul weights: its 2-D weights but GRU biases (`[2, 3H]`
    with `reset_after`) and the `exclude`d ones, e.g. embeddings that are only gathered."""
    return sum(
        int(np.prod(w.shape))
        for w in model.weights
        if len(w.shape) == 2 and not any(part in w.path for part in (*exclude, "bias"))
    )


def test_rnn_flops_are_two_per_kernel_weight_per_token():
    # One more source and target token costs 2 FLOPs per weight used per token: every
    # 2-D weight except the embeddings (gathered) and the bridge (once per sentence).
    config = Seq2SeqConfig(embedding_dim=8, units=4)
    model = build_model(config, 11, 13)
    model.build(((None, None), (None, None)))
    weights = _matmul_weights(model, exclude=("embedding", "bridge"))
    extra = bench.forward_flops(config, 13, 6, 6) - bench.forward_flops(config, 13, 5, 5)
    assert extra == 2 * weights


def test_transformer_flops_are_two_per_kernel_weight_per_token_plus_attention():
    config = TransformerConfig(num_layers=2, d_model=8, num_heads=2, ff_dim=16)
    model = build_model(config, 11, 13)
    model.build(((None, None), (None, None)))
    # The target table is the (tied) output layer; the source table is only gathered.
    weights = _matmul_weights(model, exclude=("source_embedding", "position"))
    n, d = 5, 8
    # Attention scores and context: 4 n d per query, n queries, 3 attentions per layer.
    attention = 2 * 3 * 4 * n * n * d
    assert bench.forward_flops(config, 13, n, n) == 2 * n * weights + attention


def test_luong_dot_with_input_feeding_flops_by_hand():
    config = AttentionSeq2SeqConfig(embedding_dim=2, units=3, attention="dot", input_feeding=True)
    # encoder 720, bridge 72, no keys (h_t . h_s)
    # per target token: GRU over [e; h~] 504, scores 2*6*4 = 48, context 48, combine 144,
    # logits 60
    assert bench.forward_flops(config, 5, 4, 3) == 720 + 72 + 3 * (504 + 48 + 48 + 144 + 60)


def test_forward_flops_counts_each_sentence_of_an_array_of_lengths():
    config = TransformerConfig(num_layers=1, d_model=4, num_heads=2, ff_dim=8)
    each = bench.forward_flops(config, 5, np.array([3, 1]), np.array([2, 4]))
    assert each.tolist() == [
        bench.forward_flops(config, 5, 3, 2),
        bench.forward_flops(config, 5, 1, 4),
    ]


def test_forward_flops_of_something_else_than_a_config_is_a_clear_error():
    with pytest.raises(TypeError, match="got 'transformer'; build one with `models.model_config"):
        bench.forward_flops("transformer", 5, 4, 3)


def test_training_flops_per_token_is_three_forward_passes_over_real_tokens():
    config = Seq2SeqConfig(embedding_dim=2, units=3)
    sources, targets = np.array([4, 6]), np.array([3, 5])
    forward = bench.forward_flops(config, 5, 4, 3) + bench.forward_flops(config, 5, 6, 5)
    per_token = bench.training_flops_per_token(config, 5, sources, targets)
    assert per_token == pytest.approx(3 * forward / 8)


def test_matmul_peak_is_the_median_of_its_positive_samples():
    median, samples = bench.matmul_peak_gflops(size=128, repeats=3)
    assert len(samples) == 3 and median == sorted(samples)[1] and min(samples) > 0


# --- levers: one shape for every lever -----------------------------------------------


def _rates(*values, calls=None, name=None):
    """A round function returning `values` in turn (and noting its calls in `calls`)."""
    values = iter(values)

    def one_round():
        if calls is not None:
            calls.append(name)
        return next(values)

    return one_round


def assert_lever_entry(entry, lever, model, unit, rounds):
    assert set(entry) == ENTRY_KEYS
    assert (entry["lever"], entry["model"], entry["error"]) == (lever, model, None)
    assert entry["settings"]["rounds"] == rounds
    for side in ("variant", "baseline"):
        measurement = entry[side]
        assert set(measurement) == MEASUREMENT_KEYS
        assert measurement["unit"] == unit and measurement["label"]
        assert len(measurement["samples"]) == rounds - 1
        assert measurement["value"] == float(np.median(measurement["samples"]))
        assert measurement["warmup"] > 0
    assert entry["ratio"] == entry["variant"]["value"] / entry["baseline"]["value"]
    json.dumps(entry)  # what levers.json holds


def test_compare_interleaves_the_rounds_and_divides_the_medians_after_the_warm_up():
    calls = []
    entry = levers.compare(
        "a_lever",
        model="bahdanau",
        unit="train tokens/s",
        variant=("on", _rates(1.0, 4.0, 6.0, calls=calls, name="on")),
        baseline=("off", _rates(9.0, 2.0, 3.0, calls=calls, name="off")),
        rounds=3,
        settings={"steps": 5},
        observations={"padding": 0.8},
    )
    assert calls == ["on", "off"] * 3
    assert entry == {
        "lever": "a_lever",
        "model": "bahdanau",
        "variant": {"label": "on", "unit": "train tokens/s", "value": 5.0, "samples": [4.0, 6.0],
                    "warmup": 1.0},
        "baseline": {"label": "off", "unit": "train tokens/s", "value": 2.5,
                     "samples": [2.0, 3.0], "warmup": 9.0},
        "ratio": 2.0,
        "settings": {"steps": 5, "rounds": 3},
        "observations": {"padding": 0.8},
        "error": None,
    }  # fmt: skip


def test_a_lever_that_fails_keeps_the_shape_and_says_why_in_one_line():
    def fails():
        raise tf.errors.InvalidArgumentError(
            None, None, "while compiling\nXLA compilation requires a fixed tensor list size\n"
        )

    entry = levers.compare(
        "jit_compile",
        model="luong-general",
        unit="train tokens/s",
        variant=("jit_compile=True", fails),
        baseline=("jit_compile=False", _rates(1.0, 2.0)),
        rounds=2,
        settings={},
    )
    assert set(entry) == ENTRY_KEYS and entry["ratio"] is None
    assert entry["error"] == (
        "InvalidArgumentError: XLA compilation requires a fixed tensor list size"
    )
    for side in ("variant", "baseline"):
        assert set(entry[side]) == MEASUREMENT_KEYS
        assert entry[side]["value"] is None and entry[side]["samples"] == []
    assert levers.lever_lines({"levers": [entry]}) == [
        "luong-general: jit_compile=True vs jit_compile=False (train tokens/s): failed "
        "(InvalidArgumentError: XLA compilation requires a fixed tensor list size)"
    ]


def test_lever_lines_give_one_line_per_entry_with_its_labels_unit_and_ratio():
    def entry(lever, model, variant, baseline, unit, ratio):
        return levers.compare(
            lever,
            model=model,
            unit=unit,
            variant=(variant, _rates(1.0, ratio)),
            baseline=(baseline, _rates(1.0, 1.0)),
            rounds=2,
            settings={},
        )

    report = {
        "levers": [
            entry("fused_gru", None, "keras.layers.GRU", "RNN(GRUCell)", "sequences/s", 0.96),
            entry("kv_cache_batched", "transformer", "cache", "recompute", "sentences/s", 12.97),
            entry("kv_cache_one_at_a_time", "transformer", "cache, 1", "recompute, 1",
                  "sentences/s", 2.971),
        ]
    }  # fmt: skip
    assert levers.lever_lines(report) == [
        "keras.layers.GRU vs RNN(GRUCell) (sequences/s): x0.96",
        "transformer: cache vs recompute (sentences/s): x12.97",
        "transformer: cache, 1 vs recompute, 1 (sentences/s): x2.97",
    ]


TINY = replace(
    bench.QUICK,
    batch_size=4,
    max_length=16,
    rnn_config={"embedding_dim": 4, "units": 4},
    matmul_size=32,
    matmul_repeats=3,
    lever_rounds=2,
)


def test_matmul_lever_measured_has_the_one_shape():
    entry = levers.lever_bfloat16_matmul(TINY)
    assert_lever_entry(entry, "bfloat16_matmul", None, "GFLOP/s", rounds=3)
    assert entry["settings"] == {"size": 32, "rounds": 3}


def test_gru_lever_measured_has_the_one_shape():
    entry = levers.lever_gru(TINY)
    assert_lever_entry(entry, "fused_gru", None, "sequences/s", rounds=2)
    assert entry["settings"] == {"shape": [4, 16, 4], "units": 4, "masked": True, "rounds": 2}


def test_kv_cache_lever_gives_two_entries_of_the_one_shape(toy_corpus):
    from s2s_keras.training import fit_tokenizers

    tokenizers = fit_tokenizers(toy_corpus.train.take(100), kind="word")  # fast to fit
    keras.utils.set_random_seed(0)
    config = TransformerConfig(num_layers=1, d_model=8, num_heads=2, ff_dim=16)
    model = build_model(config, tokenizers[0].vocab_size, tokenizers[1].vocab_size)
    sentences = list(toy_corpus.test.source[:2])
    batched, single = levers.lever_kv_cache("transformer", model, tokenizers, sentences, TINY)
    assert_lever_entry(batched, "kv_cache_batched", "transformer", "sentences/s", rounds=2)
    assert_lever_entry(single, "kv_cache_one_at_a_time", "transformer", "sentences/s", rounds=2)
    assert batched["settings"]["sentences"] == single["settings"]["sentences"] == 2
    # the two decoders agree (same model, same greedy search)
    assert batched["observations"] == single["observations"] == {"same_tokens_share": 1.0}


def test_the_command_benches_the_four_bench_models_by_default():
    from s2s_keras.cli import build_parser

    args = build_parser().parse_args(["bench", "--quick"])
    assert tuple(args.models) == bench.BENCH_MODELS
