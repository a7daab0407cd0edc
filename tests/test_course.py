"""The course settings the notebooks share (s2s_keras.course)."""

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
    assert settings.epochs == 1 and settings.max_minutes == (None if smoke else 10.0)
    rnn_rate = None if smoke or name == "transformer" else course.RNN_LEARNING_RATE
    assert settings.learning_rate == rnn_rate


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
