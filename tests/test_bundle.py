"""Model directories: what a run records, save and load, atomic replacement, errors."""

import json
import os

import pytest

from s2s_keras.bundle import TrainedModel
from s2s_keras.errors import S2SError
from s2s_keras.models import AttentionSeq2Seq, AttentionSeq2SeqConfig
from s2s_keras.text import WordTokenizer
from s2s_keras.toy import make_toy_corpus
from s2s_keras.training import TrainSettings, hardware_description, train


@pytest.fixture(scope="module")
def tiny_trained():
    corpus = make_toy_corpus(300, seed=1)
    settings = TrainSettings(config=AttentionSeq2SeqConfig(embedding_dim=8, units=8), epochs=1)
    trained, history = train(corpus, settings, verbose=0)
    return trained, history


@pytest.mark.slow
def test_train_records_how_the_model_was_made(tiny_trained):
    trained, history = tiny_trained
    info = trained.info
    assert info["corpus"] == "toy" and (info["source_lang"], info["target_lang"]) == ("en", "es")
    assert info["epochs_run"] == 1 and len(history["loss"]) == 1
    assert info["params"] == trained.model.count_params()
    assert info["split_sizes"] == make_toy_corpus(300, seed=1).sizes()
    assert "TensorFlow 2.21" in info["hardware"] == hardware_description()


@pytest.mark.slow
def test_save_then_load_translates_identically(tiny_trained, tmp_path):
    trained, _ = tiny_trained
    sentences = ["The red cat sees a dog.", "Hello!", ""]
    trained.save(tmp_path / "m")
    loaded = TrainedModel.load(tmp_path / "m")
    assert loaded.info == json.loads((tmp_path / "m" / "run.json").read_text())
    assert loaded.source_tokenizer.vocab == trained.source_tokenizer.vocab
    assert loaded.translate(sentences) == trained.translate(sentences)


@pytest.mark.slow
def test_save_over_an_existing_directory_replaces_it_and_leaves_no_temporaries(
    tiny_trained, tmp_path
):
    trained, _ = tiny_trained
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "stale.txt").write_text("old run")
    trained.save(tmp_path / "m")
    assert not (tmp_path / "m" / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


@pytest.mark.slow
def test_a_failed_save_keeps_the_previous_directory(tiny_trained, tmp_path, monkeypatch):
    trained, _ = tiny_trained
    trained.save(tmp_path / "m")
    before = (tmp_path / "m" / "model.keras").read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(WordTokenizer, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        trained.save(tmp_path / "m")
    assert (tmp_path / "m" / "model.keras").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


@pytest.mark.slow
def test_a_save_whose_swap_fails_midway_keeps_the_previous_directory_readable(
    tiny_trained, tmp_path, monkeypatch
):
    trained, _ = tiny_trained
    sentences = ["The red cat sees a dog.", "Hello!"]
    trained.save(tmp_path / "m")
    before = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    real_replace, calls = os.replace, []

    def second_call_fails(source, target):
        calls.append(target)
        if len(calls) == 2:  # the old directory is aside, the new one not yet in place
            raise OSError(5, "Input/output error")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", second_call_fails)
    with pytest.raises(OSError, match="Input/output error"):
        trained.save(tmp_path / "m")
    monkeypatch.undo()
    assert len(calls) == 3  # moved aside, the failed move in, moved back
    after = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before
    assert TrainedModel.load(tmp_path / "m").translate(sentences) == trained.translate(sentences)


@pytest.mark.slow
def test_loading_an_incomplete_directory_names_what_is_missing(tiny_trained, tmp_path):
    trained, _ = tiny_trained
    trained.save(tmp_path / "m")
    (tmp_path / "m" / "run.json").unlink()
    with pytest.raises(S2SError, match="missing run.json"):
        TrainedModel.load(tmp_path / "m")
    with pytest.raises(S2SError, match="does not exist"):
        TrainedModel.load(tmp_path / "absent")


def test_model_config_dataclass_builds_the_documented_sizes():
    model = AttentionSeq2Seq.from_config_object(AttentionSeq2SeqConfig(units=4), 10, 12)
    assert model.get_config()["units"] == 4 and model.decoder.units == 8
