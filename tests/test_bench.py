"""`s2s-keras bench`: the quick run's report, and the analytic FLOP counts by hand."""

import json
import math
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from s2s_keras import bench
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
    "bleu_20min",
    "chrf_20min",
)


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
    """One `s2s-keras bench --quick` run shared by the tests below."""
    out = tmp_path_factory.mktemp("bench")
    result = run_cli("bench", "--quick", "--out", out)
    assert result.returncode == 0, result.stderr[-3000:]
    return result, out, json.loads((out / "bench.json").read_text())


def test_quick_bench_reports_every_key_for_the_four_models(quick_run):
    _, _, report = quick_run
    assert report["mode"] == "quick"
    assert "TensorFlow" in report["hardware"]
    assert math.isfinite(report["matmul_peak_gflops"]) and report["matmul_peak_gflops"] > 0
    assert list(report["models"]) == ["seq2seq", "bahdanau", "luong-general", "transformer"]
    for name, row in report["models"].items():
        for key in KEYS[:-2]:
            value = row[key]
            assert isinstance(value, (int, float)) and math.isfinite(value), (name, key, value)
            assert value > 0, (name, key, value)
        assert row["bleu_20min"] is None and row["chrf_20min"] is None  # not trained
        assert 0 < row["padding_efficiency"] <= 1
        assert row["measured_steps"] == bench.QUICK.steps
        assert any("fewer than 50 steps" in note for note in report["notes"])


def test_utilisation_is_the_achieved_flop_rate_over_the_measured_peak(quick_run):
    _, _, report = quick_run
    for row in report["models"].values():
        achieved = row["flops_per_target_token"] * row["train_tokens_per_s"]
        expected = achieved / (report["matmul_peak_gflops"] * 1e9)
        assert row["flop_utilisation"] == pytest.approx(expected, rel=1e-9)


def test_quick_bench_prints_and_writes_one_table_row_per_model(quick_run):
    result, out, report = quick_run
    for i, name in enumerate(report["models"], 1):  # progress on stderr: start, then result
        assert f" [{i}/4] {name}\n" in result.stderr
        assert f" [{i}/4] {name}: " in result.stderr
    table = bench.markdown_table(report)
    assert table in result.stdout
    assert table in (out / "bench.md").read_text()
    for name, row in report["models"].items():  # each model's row, kept as it finished
        assert json.loads((out / f"{name}.json").read_text()) == {
            k: v for k, v in row.items() if k not in ("achieved_gflops", "flop_utilisation")
        }
    lines = table.splitlines()
    assert lines[0].startswith("| model | params | train tok/s |")
    assert len(lines) == 2 + 4
    for line, name in zip(lines[2:], report["models"], strict=True):
        assert line.startswith(f"| {name} | ")
        assert line.rstrip().endswith("| n/a | n/a |")  # BLEU and chrF: not trained


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


def test_training_flops_per_token_is_three_forward_passes_over_real_tokens():
    config = Seq2SeqConfig(embedding_dim=2, units=3)
    sources, targets = np.array([4, 6]), np.array([3, 5])
    forward = bench.forward_flops(config, 5, 4, 3) + bench.forward_flops(config, 5, 6, 5)
    per_token = bench.training_flops_per_token(config, 5, sources, targets)
    assert per_token == pytest.approx(3 * forward / 8)


def test_matmul_peak_is_a_positive_rate():
    median, samples = bench.matmul_peak_gflops(size=128, repeats=3)
    assert len(samples) == 3 and median == sorted(samples)[1] and median > 0


def test_training_to_a_time_budget_reports_bleu_and_chrf():
    settings = replace(bench.QUICK, toy_pairs=600, train_minutes=0.02)
    corpus = bench._load(settings)
    scores = bench._train_and_score("seq2seq", settings, corpus)
    assert 0.0 <= scores["bleu_20min"] <= 100.0 and 0.0 <= scores["chrf_20min"] <= 100.0
    assert scores["epochs_run"] >= 1
    assert "tok:13a" in scores["bleu_signature"]
    # and the decoding speed of the trained model
    assert scores["greedy_sentences_per_s_trained"] > 0
    assert scores["beam4_sentences_per_s_trained"] > 0


def test_budgeted_training_uses_the_rnn_learning_rate_only_for_the_rnns(monkeypatch):
    import s2s_keras.training

    calls = {}

    class Trained:
        info = {"epochs_run": 1}

        def translate(self, sources, batch_size, method="greedy"):
            return list(sources)  # scored against the references below

    def fake_train(corpus, **kwargs):
        calls[kwargs["model"]] = kwargs
        return Trained(), {}

    monkeypatch.setattr(s2s_keras.training, "train", fake_train)
    corpus = bench._load(replace(bench.QUICK, toy_pairs=600))
    settings = replace(bench.QUICK, toy_pairs=600, train_minutes=0.5, rnn_learning_rate=2e-3)
    for name in ("bahdanau", "transformer"):
        bench._train_and_score(name, settings, corpus)
    assert calls["bahdanau"]["learning_rate"] == 2e-3
    assert calls["transformer"]["learning_rate"] is None  # its recipe's
    assert calls["bahdanau"]["max_minutes"] == 0.5
    assert bench.FULL.rnn_learning_rate == 1e-3
