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
    assert smoke.train.source[:2] == ("句子0。", "句子1。") and smoke.name == "cmn-eng"
    assert course.chinese_corpus("cmn-eng") is full
    with pytest.raises(ValueError, match="spa-eng"):
        course.chinese_corpus("spa-eng")
