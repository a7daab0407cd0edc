"""The course settings the notebooks share (s2s_keras.course)."""

from pathlib import Path

import pytest

from s2s_keras import course
from s2s_keras.models import MODEL_NAMES


@pytest.mark.parametrize("smoke", [False, True])
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_settings_are_train_settings_of_that_model_for_every_model(name, smoke):
    from s2s_keras.models import model_config
    from s2s_keras.training import TrainSettings

    settings = course.settings(name, smoke)
    assert isinstance(settings, TrainSettings)
    assert settings.model == name and type(settings.config) is type(model_config(name))
    # An epoch budget, never a clock: a busy machine changes the wall time, not the model.
    assert settings.epochs == (1 if smoke else 4) and settings.max_minutes is None
    full_rate = (
        course.TRANSFORMER_LEARNING_RATE if name == "transformer" else course.RNN_LEARNING_RATE
    )
    assert settings.learning_rate == (None if smoke else full_rate)
    assert settings.config.dropout == 0.0 or (smoke and name == "transformer")


def test_the_chinese_transformer_keeps_its_recipes_learning_rate():
    # Notebooks 09 and 10 were measured at the recipe's rate; only spa-eng's is raised.
    assert course.settings("transformer", corpus="cmn-eng").learning_rate is None
    assert course.settings("transformer", corpus="cmn-eng").config.dropout == 0.1
    assert course.settings("transformer", corpus="spa-eng").learning_rate == 2e-3


def test_full_runs_read_spa_eng_and_smoke_runs_the_toy_corpus():
    assert course.corpus_name(False) == "spa-eng"
    assert course.corpus_name(True) == "toy"


@pytest.mark.slow
def test_a_second_notebook_loads_the_model_the_first_one_trained(tmp_path, monkeypatch):
    from s2s_keras.toy import make_toy_corpus

    monkeypatch.setenv("S2S_RUNS_DIR", str(tmp_path))
    corpus = make_toy_corpus(150, seed=1)
    first, _ = course.train("seq2seq", corpus, smoke=True, verbose=0)
    second, _ = course.train("seq2seq", corpus, smoke=True, verbose=0)
    assert (first.info["reused"], second.info["reused"]) == (False, True)
    assert (tmp_path / "course" / corpus.name / "seq2seq" / "run.json").is_file()


@pytest.mark.parametrize("name", ["transformer", "bahdanau"])
@pytest.mark.parametrize("corpus", course.CHINESE_CORPORA)
def test_the_chinese_models_train_until_the_validation_loss_stops_improving(name, corpus):
    settings = course.settings(name, corpus=corpus)
    assert (settings.epochs, settings.patience, settings.max_minutes) == (40, 3, None)
    assert settings.vocab_size == (8000 if name == "transformer" else None)
    assert course.settings(name, corpus="spa-eng") == course.settings(name)


def test_the_chinese_smoke_corpus_is_the_head_of_each_real_split(monkeypatch):
    from s2s_keras import corpora
    from s2s_keras.types import Corpus, ParallelText

    pairs = ParallelText(tuple(f"句子{i}。" for i in range(2000)), tuple(map(str, range(2000))))
    full = Corpus("cmn-eng", "zh", "en", train=pairs, validation=pairs, test=pairs)
    monkeypatch.setattr(corpora, "load_corpus", lambda name: full)
    smoke = course.chinese_corpus("cmn-eng", smoke=True)
    assert smoke.sizes() == course.CHINESE_SMOKE_PAIRS
    assert smoke.train.source[:2] == ("句子0。", "句子1。")
    # named apart, so that its runs never replace the full corpus's under runs/course
    assert (smoke.source_lang, smoke.target_lang, smoke.name) == ("zh", "en", "cmn-eng-smoke")
    assert course.chinese_corpus("cmn-eng") is full
    with pytest.raises(ValueError, match="spa-eng"):
        course.chinese_corpus("spa-eng")


def test_the_run_id_is_the_version_and_a_hash_of_every_course_setting(monkeypatch):
    import s2s_keras

    full, smoke = course.run_id(), course.run_id(smoke=True)
    assert full.startswith(f"{s2s_keras.__version__}-") and len(full.split("-")[-1]) == 10
    assert smoke.startswith(f"{s2s_keras.__version__}-smoke-") and full != smoke
    assert course.run_id() == full  # deterministic
    monkeypatch.setattr(course, "RNN_LEARNING_RATE", 2e-3)
    assert course.run_id() != full  # a changed setting is a new run
    monkeypatch.setattr(s2s_keras, "__version__", "9.9.9")
    assert course.run_id().startswith("9.9.9-")


def test_the_dual_encoder_trains_for_a_step_budget_that_is_part_of_the_run_id(monkeypatch):
    # notebook 01: a budget of steps, never of minutes, so a busy machine changes the wall
    # time only; 900 steps of 128 pairs are about one pass over spa-eng's training pairs
    assert (course.DUAL_ENCODER_STEPS, course.DUAL_ENCODER_SMOKE_STEPS) == (900, 20)
    full, smoke = course.run_id(), course.run_id(smoke=True)
    monkeypatch.setattr(course, "DUAL_ENCODER_STEPS", 901)
    assert course.run_id() != full and course.run_id(smoke=True) == smoke
    monkeypatch.setattr(course, "DUAL_ENCODER_SMOKE_STEPS", 21)
    assert course.run_id(smoke=True) != smoke


def test_notebook_10s_multilingual_settings_are_part_of_the_run_id(monkeypatch):
    full, smoke = course.run_id(), course.run_id(smoke=True)
    monkeypatch.setitem(course.MULTILINGUAL, "steps", 5_001)
    assert course.run_id() != full and course.run_id(smoke=True) == smoke
    monkeypatch.setattr(course, "MULTILINGUAL_SMOKE_COMPARE_AT", 11)
    assert course.run_id(smoke=True) != smoke


INFO = {
    "params": 1234,
    "epochs_run": 3,
    "steps_run": 5400,
    "train_seconds": 61.6,
    "hardware": "CPU x2",
    "reused": False,
    "finished_at": "2026-12-02T16:00:00Z",
}


def test_model_facts_say_where_and_when_the_model_was_trained():
    assert course.model_facts("bahdanau", INFO) == (
        "bahdanau: 1,234 parameters, 3 epochs, 5,400 steps, 62 s on CPU x2; "
        "trained in this notebook (2026-12-02T16:00:00Z)"
    )
    reused = course.model_facts("bahdanau", {**INFO, "reused": True})
    assert reused.endswith("; reused (trained 2026-12-02T16:00:00Z)")


def test_results_json_holds_the_run_id_and_each_model_and_smoke_runs_stay_under_runs(
    tmp_path, monkeypatch
):
    import json

    scores = {"greedy_bleu": 25.123, "greedy_chrf": 45.0, "beam4_bleu": 26.0, "beam4_chrf": 46.0}
    monkeypatch.setenv("S2S_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.chdir(tmp_path)
    written = course.write_results({"seq2seq": {"info": INFO, **scores}}, smoke=True)
    assert written == tmp_path / "runs" / "course" / "results.json"
    document = json.loads(written.read_text())
    assert document == {
        "run_id": course.run_id(smoke=True),
        "models": {
            "seq2seq": {
                "params": 1234,
                "epochs": 3,
                "steps": 5400,
                "train_seconds": 61.6,
                "hardware": "CPU x2",
                "reused": False,
                **{**scores, "greedy_bleu": 25.12},
            }
        },
    }
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    full = course.write_results({"seq2seq": {"info": INFO, **scores}})
    assert full == tmp_path / "notebooks" / "results.json"
    with pytest.raises(ValueError, match="lack beam4_chrf"):
        course.write_results({"x": {"info": INFO, **{k: 1 for k in list(scores)[:3]}}}, path=full)


def test_the_results_table_shows_each_models_run_and_scores_from_results_json(tmp_path):
    import json

    scores = {"greedy_bleu": 25.123, "greedy_chrf": 45.0, "beam4_bleu": 26.5, "beam4_chrf": 46.04}
    untimed = {**INFO, "params": 98765, "train_seconds": None, "reused": True}
    written = course.write_results(
        {"seq2seq": {"info": INFO, **scores}, "transformer": {"info": untimed, **scores}},
        path=tmp_path / "results.json",
    )
    table = course.results_table(json.loads(written.read_text()))
    assert table == (
        "| model | parameters | epochs | steps | training | greedy BLEU / chrF "
        "| beam 4 BLEU / chrF | run |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n"
        "| `seq2seq` | 1,234 | 3 | 5,400 | 62 s | 25.12 / 45.00 | 26.50 / 46.04 | trained here |\n"
        "| `transformer` | 98,765 | 3 | 5,400 | not recorded | 25.12 / 45.00 | 26.50 / 46.04 "
        "| reused |"
    )


def test_model_facts_name_what_trained_a_model_that_no_notebook_trained():
    facts = course.model_facts("bahdanau", INFO, here="this command")
    assert facts.endswith("; trained in this command (2026-12-02T16:00:00Z)")


def test_the_course_command_refuses_an_unknown_model_before_loading_any_corpus(capsys):
    with pytest.raises(SystemExit) as exited:
        course.main(["seq2seq", "lstm"])
    assert exited.value.code == 2
    assert "unknown model 'lstm': choose from seq2seq, bahdanau" in capsys.readouterr().err


def test_the_course_command_offers_its_groups_beside_the_models(capsys):
    with pytest.raises(SystemExit) as exited:
        course.main(["everything"])
    assert exited.value.code == 2
    assert (
        "unknown model 'everything': choose from seq2seq, bahdanau, luong-dot, luong-general, "
        "luong-concat, transformer, spa-eng, chinese, multilingual, all"
    ) in capsys.readouterr().err


@pytest.mark.slow
def test_the_course_command_trains_notebook_10s_models_as_the_notebook_asks_for_them(
    tmp_path, monkeypatch
):
    from s2s_keras.corpora import load_corpus

    monkeypatch.setenv("S2S_RUNS_DIR", str(tmp_path))
    trained = dict(course.GROUPS["multilingual"][1](smoke=True))
    assert list(trained) == [
        "multilingual transformer",
        "multilingual transformer, T = 1",
        "baseline es-en",  # toy-multi has no Chinese
    ]
    assert not any(info["reused"] for info in trained.values())
    # notebook 10's own calls now load what the command trained
    corpus = load_corpus("toy-multi")
    compare_at = course.multilingual_compare_at(True)
    again = [
        course.train_multilingual(corpus, True)[0],
        course.train_multilingual(
            corpus, True, name="transformer-t1", temperature=1.0, steps=compare_at
        )[0],
        course.multilingual_baseline(corpus, "es-en", True),
    ]
    assert [model.info["reused"] for model in again] == [True, True, True]
    assert course.multilingual_at_step(corpus, compare_at).info["steps_run"] == compare_at


@pytest.mark.slow
def test_the_transformer_keeps_its_weights_after_every_epoch(tmp_path, monkeypatch):
    from dataclasses import replace

    from s2s_keras.errors import S2SError
    from s2s_keras.toy import make_toy_corpus

    monkeypatch.setenv("S2S_RUNS_DIR", str(tmp_path))
    monkeypatch.setattr(course, "SMOKE", {**course.SMOKE, "epochs": 2})
    corpus = make_toy_corpus(150, seed=1)
    corpus = replace(corpus, name="toy-epochs")
    trained, _ = course.train("transformer", corpus, smoke=True, verbose=0)
    kept = tmp_path / "course" / "toy-epochs" / "transformer" / "epochs"
    assert sorted(p.name for p in kept.iterdir()) == ["epoch-1.weights.h5", "epoch-2.weights.h5"]
    assert not (tmp_path / "course" / "toy-epochs" / "transformer.epochs").exists()
    sources = list(corpus.test.source[:5])
    last = course.at_epoch("transformer", corpus, 2, smoke=True)
    assert last.translate(sources) == trained.translate(sources)
    first = course.at_epoch("transformer", corpus, 1, smoke=True)
    assert (first.info["epochs_run"], first.info["steps_run"]) == (
        1,
        trained.info["steps_run"] // 2,
    )
    assert first.info["snapshot"] == "epoch-1.weights.h5" and first.info["train_seconds"] is None
    with pytest.raises(S2SError, match="no weights after epoch 3"):
        course.at_epoch("transformer", corpus, 3, smoke=True)


def test_the_closing_report_names_the_hardware_the_run_id_and_every_model():
    import time

    info = {
        "params": 10,
        "epochs_run": 1,
        "steps_run": 5,
        "train_seconds": 2.0,
        "hardware": "CPU x2",
        "reused": False,
        "finished_at": "2026-12-03T00:00:00Z",
    }
    lines = course.closing_report(
        time.monotonic(), {"seq2seq": info}, corpus="toy", smoke=True
    ).split("\n")
    assert lines[0].startswith("Ran on ") and lines[0].endswith("(corpus toy).")
    assert lines[1] == f"course run id: {course.run_id(True)}"
    assert lines[2:] == [course.model_facts("seq2seq", info)]


def test_the_notebooks_and_the_repository_share_one_runs_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("S2S_RUNS_DIR", raising=False)
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    assert course.runs_dir() == tmp_path / "runs" / "course"
    monkeypatch.chdir(tmp_path)
    assert course.runs_dir() == Path("runs") / "course"
    monkeypatch.setenv("S2S_RUNS_DIR", str(tmp_path / "elsewhere"))
    assert course.runs_dir() == tmp_path / "elsewhere" / "course"


def test_the_readmes_course_table_is_the_one_notebook_07_wrote_in_results_json():
    import json

    root = Path(__file__).resolve().parents[1]
    results = root / "notebooks" / "results.json"
    if not results.exists():
        pytest.skip("notebook 07 has not written notebooks/results.json (the course series) yet")
    table = course.results_table(json.loads(results.read_text(encoding="utf-8")))
    assert table in (root / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("corpus", ["spa-eng", "cmn-eng", "eng-cmn"])
def test_notebook_10s_baselines_differ_from_the_multilingual_model_only_in_their_data(corpus):
    # spa-eng's course Transformer trains without dropout at 2e-3; the es→en baseline must not
    # (it did, and beat the multilingual model's dropout-0.1 run by more than the data explains).
    multilingual = course.multilingual_settings()
    baseline = course.baseline_settings(corpus, 885)
    assert baseline.config == multilingual.config and baseline.config.dropout == 0.1
    assert baseline.learning_rate is None and multilingual.learning_rate is None
    assert baseline.steps == 885 and baseline.max_minutes is None
    assert baseline.batch_size == multilingual.batch_size
