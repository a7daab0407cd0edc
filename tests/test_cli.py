"""The `s2s-keras` command, exercised as a user would: in a subprocess, reading its output."""

import json
import os
import subprocess
import sys

import pytest


def run_cli(*args, stdin=None, env=None, timeout=300):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "s2s_keras.cli", *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(("s2s-keras: error:", "s2s-keras ")), result.stderr
    message = lines[-1]
    for fragment in fragments:
        assert fragment in message, message
    return message


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """One small demo run shared by the tests below: 600 pairs, 2 epochs."""
    out = tmp_path_factory.mktemp("demo") / "model"
    result = run_cli("demo", "--pairs", 600, "--epochs", 2, "--out", out)
    return result, out


@pytest.mark.slow
def test_demo_prints_scores_samples_and_writes_a_model_and_heatmap(demo_run):
    result, out = demo_run
    assert result.returncode == 0, result.stderr
    assert "Test BLEU" in result.stdout and "chrF" in result.stdout
    assert "nrefs:1|case:lc|eff:no|tok:13a|smooth:exp" in result.stdout
    assert result.stdout.count("  source:    ") == 5
    assert (out / "attention.png").stat().st_size > 10_000
    info = json.loads((out / "run.json").read_text())
    assert info["corpus"] == "toy" and info["epochs_run"] == 2
    # 600 pairs and 2 epochs do not reach the target: the demo says so, and keeps the best.
    assert info["reached_target_at_epoch"] is None and info["target_accuracy"] == 0.998
    assert "did not reach 99.8% in 2 epochs (kept the best)" in result.stdout
    assert f"Test BLEU {info['test']['bleu']:.1f}  chrF {info['test']['chrf']:.1f}" in result.stdout
    for name in ("model.keras", "source_tokenizer/vocab.txt", "target_tokenizer/vocab.txt"):
        assert (out / name).exists()


@pytest.mark.slow
def test_translate_reads_arguments_or_stdin_line_by_line(demo_run):
    _, out = demo_run
    by_args = run_cli("translate", "--model", out, "The cat.", "", "A red house.")
    assert by_args.returncode == 0, by_args.stderr
    lines = by_args.stdout.split("\n")
    assert len(lines) == 4 and lines[1] == "" and lines[3] == ""

    by_stdin = run_cli("translate", "--model", out, stdin="The cat.\n\nA red house.\n")
    assert by_stdin.returncode == 0, by_stdin.stderr
    assert by_stdin.stdout == by_args.stdout


@pytest.mark.slow
def test_evaluate_prints_json_scores_with_signature(demo_run):
    _, out = demo_run
    result = run_cli("evaluate", "--model", out, "--corpus", "toy", "--split", "test", "--json")
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)
    assert scores["corpus"] == "toy" and scores["split"] == "test"
    assert scores["sentences"] == 236  # the default toy corpus's test split
    assert scores["bleu_signature"].startswith("nrefs:1|case:lc")
    assert sum(row["sentences"] for row in scores["by_source_length"]) == 236
    # The scores of the model's greedy translations of that split, computed here.
    from s2s_keras.bundle import TrainedModel
    from s2s_keras.evaluation import corpus_scores
    from s2s_keras.toy import make_toy_corpus

    test = make_toy_corpus().test
    expected = corpus_scores(TrainedModel.load(out).translate(test.source), test.target)
    assert scores["bleu"] == pytest.approx(expected["bleu"], abs=1e-9)
    assert scores["chrf"] == pytest.approx(expected["chrf"], abs=1e-9)
    assert scores["model"] == "bahdanau" and scores["decoding"] == "greedy"


@pytest.mark.slow
def test_evaluate_refuses_a_corpus_in_the_other_direction(demo_run):
    _, out = demo_run
    result = run_cli("evaluate", "--model", out, "--corpus", "spa-eng")
    assert_one_line_error(result, "en→es", "es→en")


def test_unknown_corpus_is_a_one_line_error():
    result = run_cli("train", "--corpus", "klingon-eng", "--out", "unused")
    message = assert_one_line_error(result, "klingon-eng")
    assert "spa-eng" in message  # the valid names are listed


@pytest.mark.parametrize("value", ["zero", "0", "-3"])
def test_bad_number_is_a_one_line_error(value):
    result = run_cli("demo", "--epochs", value)
    assert_one_line_error(result, value)


def test_missing_corpus_offline_names_url_path_and_data_dir(tmp_path):
    env = {"S2S_OFFLINE": "1", "S2S_DATA_DIR": str(tmp_path), "S2S_CACHE_DIR": str(tmp_path)}
    result = run_cli("train", "--corpus", "spa-eng", "--out", tmp_path / "m", env=env)
    assert_one_line_error(result, "spa-eng.zip", str(tmp_path / "anki-spa-eng"), "S2S_DATA_DIR")
    assert not (tmp_path / "m").exists()


def test_missing_model_directory_is_a_one_line_error(tmp_path):
    result = run_cli("translate", "--model", tmp_path / "nope", "hello")
    assert_one_line_error(result, "does not exist")


@pytest.mark.slow
def test_corrupt_model_file_is_a_one_line_error(demo_run, tmp_path):
    _, out = demo_run
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("source_tokenizer", "target_tokenizer"):
        (broken / name).mkdir()
        for f in ("vocab.txt", "tokenizer.json"):
            (broken / name / f).write_bytes((out / name / f).read_bytes())
    (broken / "run.json").write_bytes((out / "run.json").read_bytes())
    (broken / "model.keras").write_bytes((out / "model.keras").read_bytes()[:1000])
    result = run_cli("translate", "--model", broken, "hello")
    assert_one_line_error(result, "cannot load the model", "broken")


@pytest.mark.slow
def test_translate_with_beam_search_gives_one_line_per_input(demo_run):
    _, out = demo_run
    result = run_cli("translate", "--model", out, "--beam", 3, "--alpha", 0, "The cat.", "")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 2 and result.stdout.endswith("\n\n")


@pytest.mark.slow
def test_export_writes_a_savedmodel_that_a_bare_tensorflow_process_can_use(demo_run, tmp_path):
    _, out = demo_run
    result = run_cli("export", "--model", out, "--out", tmp_path / "saved", "--beam", 2)
    assert result.returncode == 0, result.stderr
    assert "SavedModel written to" in result.stdout
    script = (
        "import sys, tensorflow as tf, tensorflow_text\n"
        "m = tf.saved_model.load(sys.argv[1])\n"
        "out = m.translate(tf.constant(['The cat.', '', 'A red house.']))\n"
        "print([s.decode() for s in out.numpy()])\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "saved")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr
    translations = eval(loaded.stdout.strip().splitlines()[-1])  # a printed list of str
    in_memory = run_cli("translate", "--model", out, "--beam", 2, "The cat.", "", "A red house.")
    assert translations == in_memory.stdout.split("\n")[:3]


@pytest.mark.slow
def test_export_refuses_to_overwrite_the_model_directory(demo_run):
    _, out = demo_run
    result = run_cli("export", "--model", out, "--out", out)
    assert_one_line_error(result)
    assert (out / "model.keras").exists()


@pytest.mark.slow
def test_negative_alpha_is_a_one_line_error(demo_run):
    _, out = demo_run
    result = run_cli("translate", "--model", out, "--alpha", "-1", "hi")
    assert_one_line_error(result, "-1")


@pytest.mark.parametrize("value", ["units", "=3", "9x=1"])
def test_a_malformed_config_override_is_a_one_line_error(value):
    result = run_cli("train", "--corpus", "toy", "--out", "unused", "--set", value)
    assert_one_line_error(result, value)


@pytest.mark.slow
@pytest.mark.parametrize("alias", ["same path", "symlink", "hard link", "stdin"])
def test_translate_refuses_an_output_that_is_its_input_and_leaves_it_untouched(
    demo_run, tmp_path, alias
):
    _, out = demo_run
    source = tmp_path / "text.txt"
    source.write_text("The cat.\nA red house.\n")
    output = source
    if alias == "symlink":
        output = tmp_path / "link.txt"
        output.symlink_to(source)
    elif alias == "hard link":
        output = tmp_path / "hard.txt"
        os.link(source, output)
    if alias == "stdin":
        with open(source) as stdin:
            result = subprocess.run(
                [sys.executable, "-m", "s2s_keras.cli", "translate", "--model", str(out)]
                + ["--output", str(output)],
                stdin=stdin,
                capture_output=True,
                text=True,
                timeout=300,
            )
    else:
        result = run_cli("translate", "--model", out, "--input", source, "--output", output)
    assert_one_line_error(result, f"--output {str(output)!r} is the input file")
    assert source.read_text() == "The cat.\nA red house.\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({source.name, output.name})


@pytest.mark.slow
def test_evaluate_with_a_repeat_limit_scores_the_guarded_translations(demo_run):
    _, out = demo_run
    result = run_cli("evaluate", "--model", out, "--corpus", "toy", "--max-repeats", 1, "--json")
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)
    assert scores["decoding"] == "greedy, max 1 repeats"
    from s2s_keras.bundle import TrainedModel
    from s2s_keras.evaluation import corpus_scores
    from s2s_keras.toy import make_toy_corpus

    test = make_toy_corpus().test
    guarded = TrainedModel.load(out).translate(test.source, max_repeats=1)
    assert scores["bleu"] == pytest.approx(corpus_scores(guarded, test.target)["bleu"], abs=1e-9)
    assert_one_line_error(run_cli("translate", "--model", out, "--max-repeats", 0, "x"), "0")
