"""The command line on a multilingual model: train on toy-multi, translate and evaluate
per target language, zero-shot evaluation; commands run in this process through
`s2s_keras.cli.main`, one tiny model shared by every test."""

from __future__ import annotations

import json

import pytest

from s2s_keras.cli import main

TINY = (
    "--set",
    "num_layers=1",
    "--set",
    "d_model=16",
    "--set",
    "num_heads=2",
    "--set",
    "ff_dim=32",
)


def run(capsys, *args, status=0):
    code = main(list(map(str, args)))
    captured = capsys.readouterr()
    assert code == status, captured.err
    return captured.out if status == 0 else captured.err


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny Transformer trained on toy-multi for 4 steps (epochs of 2), in two goes: a
    run that crashes after its first epoch, then `s2s-keras train`, which resumes it."""
    import keras

    from s2s_keras import training
    from s2s_keras.corpora import load_corpus
    from s2s_keras.models import model_config

    class CrashAfterSecondEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):  # before the backup of that epoch
            if epoch == 1:
                raise RuntimeError("simulated crash")

    out = tmp_path_factory.mktemp("multi") / "model"
    config = model_config("transformer", num_layers=1, d_model=16, num_heads=2, ff_dim=32)
    settings = training.TrainSettings(
        model="transformer", config=config, vocab_size=300, batch_size=16, steps=4, temperature=2.0
    )
    args = ["train", "--corpus", "toy-multi", "--model", "transformer", *TINY]
    args += ["--vocab-size", "300", "--steps", "4", "--batch-size", "16", "--temperature", "2"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training, "STEPS_PER_EPOCH", 2)
        with pytest.raises(RuntimeError, match="simulated crash"):
            training.train(
                load_corpus("toy-multi"),
                settings,
                backup_dir=out.with_name("model.backup"),
                callbacks=[CrashAfterSecondEpoch()],
                verbose=0,
            )
        assert main([*args, "--out", str(out)]) == 0
    return out


def test_train_resumes_a_step_budget_and_records_the_mixture(model):
    info = json.loads((model / "run.json").read_text())
    assert (info["corpus"], info["steps"], info["temperature"]) == ("toy-multi", 4, 2.0)
    # The first epoch was backed up before the crash: only the second ran again.
    assert (info["steps_run"], info["epochs_run"], info["resumed_from"]["epoch"]) == (4, 2, 1)
    assert info["directions"] == ["es-en", "en-es", "fr-en", "en-fr"]
    assert info["sampling_probabilities"] == pytest.approx(dict.fromkeys(info["directions"], 0.25))
    vocab = (model / "source_tokenizer" / "vocab.txt").read_text()
    assert vocab == (model / "target_tokenizer" / "vocab.txt").read_text()
    assert vocab.split("\n")[4:8] == ["<2en>", "<2es>", "<2fr>", "<2zh>"]


def test_translate_needs_a_target_language_the_model_knows(model, capsys):
    [line] = run(
        capsys, "translate", "--model", model, "--target-lang", "fr", "The cat."
    ).splitlines()
    assert "<2" not in line
    for extra, message in (((), "no target language"), (("--target-lang", "de"), "'de'")):
        err = run(capsys, "translate", "--model", model, *extra, "The cat.", status=2)
        assert len(err.strip().splitlines()) == 1
        assert message in err and "translates into en, es, fr" in err


def test_evaluate_scores_one_direction(model, capsys):
    scores = json.loads(
        run(
            capsys,
            "evaluate",
            "--model",
            model,
            "--corpus",
            "toy-multi",
            "--target-lang",
            "fr",
            "--json",
        )
    )
    assert scores["direction"] == "en-fr" and scores["sentences"] == 73
    assert "tok:13a" in scores["bleu_signature"] and scores["steps_run"] == 4
    err = run(
        capsys,
        "evaluate",
        "--model",
        model,
        "--corpus",
        "toy-multi",
        "--target-lang",
        "en",
        status=2,
    )
    assert "--target-lang en needs --source-lang, one of: es, fr" in err


def test_evaluate_zero_shot_reports_direct_and_pivot_scores(model, capsys):
    args = ["evaluate", "--model", model, "--corpus", "toy-multi", "--zero-shot", "--json"]
    out = json.loads(run(capsys, *args, "--source-lang", "es", "--target-lang", "fr"))
    [row] = out["zero_shot"]
    assert (row["direction"], row["sentences"]) == ("es-fr", 73)
    assert {"bleu", "chrf", "bleu_signature"} <= set(row["direct"]) & set(row["pivot"])
    assert row["direct_vs_pivot"]["chrf"]["system"] == row["direct"]["chrf"]
    text = run(capsys, *args[:-1], "--source-lang", "es", "--target-lang", "fr")
    assert "paired bootstrap: bleu p = " in text


# A fresh interpreter with only TensorFlow and tensorflow-text, as tests/test_export.py.
SERVE_SCRIPT = """
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401

translator = tf.saved_model.load(sys.argv[1])
texts = tf.constant(json.loads(sys.argv[2]))
out = {
    "serving_default": translator.signatures["serving_default"](text=texts)["translation"],
    "translate": translator.translate(texts),
    "fr": translator.signatures["translate_to"](text=texts, target_lang=tf.constant("fr"))[
        "translation"
    ],
}
out = {k: [t.decode() for t in v.numpy()] for k, v in out.items()}
try:
    translator.translate_to(texts, tf.constant("de"))
except tf.errors.InvalidArgumentError as e:
    out["de"] = e.message
out["s2s_keras_imported"] = any(m.startswith("s2s_keras") for m in sys.modules)
print(json.dumps(out))
"""


def test_export_serves_english_by_default_and_any_language_by_signature(model, capsys, tmp_path):
    import os
    import subprocess
    import sys

    from s2s_keras.bundle import TrainedModel

    run(capsys, "export", "--model", model, "--out", tmp_path / "saved", "--beam", 1)
    texts = ["The red cat sleeps.", "", "Does the dog see the bird?"]
    result = subprocess.run(
        [sys.executable, "-c", SERVE_SCRIPT, str(tmp_path / "saved"), json.dumps(texts)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    trained = TrainedModel.load(model)
    english = trained.translate(texts, target_lang="en", method="greedy")
    assert served["serving_default"] == served["translate"] == english and english[1] == ""
    assert served["fr"] == trained.translate(texts, target_lang="fr", method="greedy")
    assert "unknown target language" in served["de"] and "en, es, fr" in served["de"]
    assert not served["s2s_keras_imported"]
