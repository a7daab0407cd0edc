"""Multilingual corpora, shared vocabulary, sampling and zero-shot sets on tiny inputs."""

from __future__ import annotations

import importlib.util
import os

import pytest

from s2s_keras import multilingual
from s2s_keras.corpora import CORPORA, corpus_languages, load_corpus
from s2s_keras.multilingual import (
    MultilingualCorpus,
    UnknownLanguageError,
    add_language_token,
    check_language,
    multilingual_corpus,
    zero_shot_set,
)
from s2s_keras.types import Corpus, ParallelText

EMPTY = ParallelText((), ())


def bilingual(name, language, test_pairs, train_pairs=(("x", "y"),)):
    """An `X → en` corpus with the given `(other, english)` test and train pairs."""

    def text(pairs):
        return ParallelText(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))

    return Corpus(name, language, "en", text(train_pairs), EMPTY, text(test_pairs))


@pytest.fixture
def tiny():
    spanish = bilingual(
        "spa-eng",
        "es",
        [("Hola.", "Hello."), ("Buenas.", "Hello."), ("Gato.", "Cat."), ("Perro.", "Dog.")],
    )
    french = bilingual(
        "fra-eng", "fr", [("Salut.", "Hello."), ("Bonjour.", "Hello."), ("Chien.", "Dog.")]
    )
    return multilingual_corpus("tiny", {"es": spanish, "fr": french})


def test_every_source_starts_with_its_target_language_token(tiny):
    assert tiny.test.source[:4] == ("<2en> Hola.", "<2en> Buenas.", "<2en> Gato.", "<2en> Perro.")
    assert tiny.test.source[4:8] == ("<2es> Hello.", "<2es> Hello.", "<2es> Cat.", "<2es> Dog.")
    assert tiny.test.target[4:8] == ("Hola.", "Buenas.", "Gato.", "Perro.")
    assert (
        tiny.directions["test"] == ("es-en",) * 4 + ("en-es",) * 4 + ("fr-en",) * 3 + ("en-fr",) * 3
    )
    assert (tiny.source_lang, tiny.target_lang, tiny.languages) == (
        "mul",
        "mul",
        ("en", "es", "fr"),
    )


def test_one_direction_is_selected_with_its_tokens(tiny):
    assert tiny.direction("test", "en", "fr") == ParallelText(
        ("<2fr> Hello.", "<2fr> Hello.", "<2fr> Dog."), ("Salut.", "Bonjour.", "Chien.")
    )
    assert tiny.direction_sizes("test") == {"es-en": 4, "en-es": 4, "fr-en": 3, "en-fr": 3}
    with pytest.raises(UnknownLanguageError, match="no direction es→fr; it has es→en, en→es"):
        tiny.direction("test", "es", "fr")


def test_zero_shot_sources_get_every_translation_of_their_english_sentence(tiny):
    es_fr = zero_shot_set(tiny, "es", "fr")
    assert es_fr.sources == ("Hola.", "Buenas.", "Perro.")
    assert es_fr.references == (("Salut.", "Bonjour."),) * 2 + (("Chien.",),)
    assert es_fr.pivots == ("Hello.", "Hello.", "Dog.")
    assert es_fr.take(1).references == (("Salut.", "Bonjour."),) and len(es_fr.take(9)) == 3
    assert es_fr.reference_streams() == [
        ["Salut.", "Salut.", "Chien."],
        ["Bonjour.", "Bonjour.", None],
    ]
    fr_es = zero_shot_set(tiny, "fr", "es")
    assert fr_es.sources == ("Salut.", "Bonjour.", "Chien.")
    assert fr_es.references == (("Hola.", "Buenas."),) * 2 + (("Perro.",),)
    with pytest.raises(UnknownLanguageError, match="pick two of es, fr"):
        zero_shot_set(tiny, "es", "en")


def test_language_tokens_and_unknown_languages():
    assert add_language_token(["I love you."], "fr") == ["<2fr> I love you."]
    assert check_language("fr", ("en", "fr")) == "fr"
    with pytest.raises(UnknownLanguageError, match="'de'.*translates into en, fr"):
        check_language("de", ("en", "fr"))
    with pytest.raises(UnknownLanguageError, match="no target language"):
        check_language(None, ("en", "fr"))


def test_the_registry_resolves_the_multilingual_corpora():
    assert {"tatoeba-multi", "toy-multi"} <= set(CORPORA)
    assert corpus_languages("tatoeba-multi") == ("mul", "mul")
    assert multilingual.LANGUAGES == {
        "tatoeba-multi": ("en", "es", "fr", "zh"),
        "toy-multi": ("en", "es", "fr"),
    }


def test_toy_multi_pairs_the_toy_corpus_with_a_reversed_second_language():
    corpus = load_corpus("toy-multi")
    assert isinstance(corpus, MultilingualCorpus)
    sizes = corpus.direction_sizes("train")
    assert len(set(sizes.values())) == 1 and sum(sizes.values()) == len(corpus.train)
    es = corpus.direction("test", "es", "en")
    fr = corpus.direction("test", "fr", "en")
    assert es.target == fr.target
    assert fr.source[0] == "<2en> " + " ".join(reversed(es.source[0].split()[1:]))
    assert len(zero_shot_set(corpus)) == len(es)


needs_data = pytest.mark.skipif(
    not os.environ.get("S2S_DATA_DIR"),
    reason="S2S_DATA_DIR not set: real-corpus tests need the shared data folder",
)


@needs_data
def test_tatoeba_multi_sizes_and_zero_shot_set_on_the_real_corpora():
    corpus = load_corpus("tatoeba-multi")
    assert corpus.direction_sizes("test") == {
        "es-en": 2320,
        "en-es": 2320,
        "fr-en": 3363,
        "en-fr": 3363,
        "zh-en": 624,
        "en-zh": 624,
    }
    assert corpus.direction_sizes("train")["zh-en"] == 28016
    es_fr, fr_es = zero_shot_set(corpus, "es", "fr"), zero_shot_set(corpus, "fr", "es")
    assert (len(set(es_fr.pivots)), len(es_fr), len(fr_es)) == (837, 979, 1214)
    trained = set(corpus.train.target)  # every training sentence of every language
    assert not trained & (set(es_fr.sources) | set(fr_es.sources))
    if importlib.util.find_spec("py3langid"):  # the identifier knows the references
        from s2s_keras.multilingual import identification_accuracy

        references = {
            "fr": sorted({r for refs in es_fr.references for r in refs}),
            "es": sorted({r for refs in fr_es.references for r in refs}),
            "en": sorted(set(es_fr.pivots)),
        }
        accuracy = identification_accuracy(references)
        assert accuracy == pytest.approx(
            {"fr": 0.9983, "es": 0.9947, "en": 1.0, "all": 0.9976}, abs=1e-4
        )


@pytest.fixture(scope="module")
def shared_tokenizer():
    from s2s_keras.text import learn_tokenizer

    texts = [
        "I love you.",
        "Te quiero.",
        "Je t'aime.",
        "我爱你。",
        "Tom会说法语吗？",
        "Tom is here.",
    ]
    return learn_tokenizer(texts * 3, kind="wordpiece", vocab_size=200, language="mul")


def test_language_tokens_survive_standardization_whole():
    from s2s_keras.text import standardize

    text = standardize(["<2FR> ¿Qué tal?", "<2zh>I love you.", "<2de> no"], "multi").numpy()
    assert [t.decode() for t in text] == [
        "<2fr> ¿ que\u0301 tal ?",
        "<2zh> i love you .",
        "< 2de > no",
    ]


def test_shared_vocabulary_reserves_the_language_tokens(shared_tokenizer, tmp_path):
    from s2s_keras.text import load_tokenizer

    tok = shared_tokenizer
    assert (tok.kind, tok.standardization) == ("wordpiece", "multi")
    assert tok.vocab[:8] == ("", "[UNK]", "[START]", "[END]", "<2en>", "<2es>", "<2fr>", "<2zh>")
    ids = tok.tokenize(["<2zh> I love you.", "<2en> 我爱你。"]).to_list()
    assert tok.lookup(ids) == [
        ["[START]", "<2zh>", "i", "love", "you", ".", "[END]"],
        ["[START]", "<2en>", "我爱你", "。", "[END]"],
    ]
    loaded = load_tokenizer(tok.save(tmp_path / "tok"))
    assert loaded.vocab == tok.vocab and loaded.standardization == "multi"


def test_detokenization_follows_the_language_of_each_row(shared_tokenizer):
    tok = shared_tokenizer
    ids = tok.tokenize(["Tom会说法语吗？", "Je t'aime.", "<2fr> Tom is here."])
    text = [t.decode() for t in tok.detokenize(ids).numpy()]
    assert text == ["Tom会说法语吗？", "Je t'aime.", "Tom is here."]  # no language token


def test_temperature_sampling_flattens_the_sizes():
    from s2s_keras.multilingual import sampling_probabilities

    sizes = {"fr-en": 160, "zh-en": 10}
    assert sampling_probabilities(sizes, 1) == pytest.approx({"fr-en": 16 / 17, "zh-en": 1 / 17})
    assert sampling_probabilities(sizes, 4) == pytest.approx({"fr-en": 2 / 3, "zh-en": 1 / 3})
    assert sampling_probabilities({"a": 81, "b": 1}, 2) == pytest.approx({"a": 0.9, "b": 0.1})
    with pytest.raises(ValueError, match="temperature must be > 0, got 0"):
        sampling_probabilities(sizes, 0)


def test_old_settings_records_load_with_the_defaults_of_new_settings():
    from s2s_keras.training import TrainSettings

    settings = TrainSettings(model="transformer", epochs=2)
    record = settings.record()
    assert "steps" not in record and "temperature" not in record  # as before they existed
    assert TrainSettings.from_record(record).record() == record
    loaded = TrainSettings.from_record({**record, "corpus": "toy", "params": 7})
    assert (loaded.steps, loaded.temperature, loaded.epochs) == (None, None, 2)
    budget = TrainSettings(steps=40, temperature=5.0).record()
    assert (budget["steps"], budget["temperature"]) == (40, 5.0)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        TrainSettings(steps=0)


def test_course_settings_of_the_multilingual_transformer():
    from s2s_keras import course

    full = course.multilingual_settings()
    assert (full.model, full.steps, full.batch_size, full.vocab_size, full.temperature) == (
        "transformer",
        5_000,
        64,
        16_000,
        5.0,
    )
    assert course.multilingual_settings(temperature=1.0).temperature == 1.0
    assert course.multilingual_settings(smoke=True).steps < 100
    assert course.multilingual_corpus_name(True) == "toy-multi"
    # T = 1 is compared with T = 5 half-way through the course's run
    assert course.multilingual_compare_at() == 2_500 == full.steps // 2
    assert course.multilingual_compare_at(True) < course.multilingual_settings(smoke=True).steps


def test_the_matched_bilingual_baseline_sees_the_pairs_the_multilingual_model_draws():
    from s2s_keras import course
    from s2s_keras.multilingual import sampling_probabilities

    sizes = {"es-en": 300, "en-es": 300, "fr-en": 100, "en-fr": 100}
    corpus = type("C", (), {"direction_sizes": lambda self, split: sizes})()
    share = sampling_probabilities(sizes, 5.0)["es-en"]  # 300^0.2 / (2·300^0.2 + 2·100^0.2)
    assert share == pytest.approx(0.27736, abs=1e-5)
    assert course.matched_steps(corpus, "es-en") == 1387  # 5,000 · 0.27736
    assert course.matched_steps(corpus, "fr-en", smoke=True) == 7  # 30 · 0.2226, rounded


def test_wrong_language_rate_and_identifier_accuracy():
    pytest.importorskip("py3langid")
    from s2s_keras.multilingual import (
        identification_accuracy,
        language_identifier,
        wrong_language_rate,
    )

    references = {
        "en": ["I don't know what you mean.", "Where is the station?"],
        "fr": ["Je ne sais pas ce que tu veux dire.", "Où est la gare ?"],
        "es": ["No sé lo que quieres decir.", "¿Dónde está la estación?"],
        "zh": ["我不知道你的意思。", "车站在哪里？"],
    }
    identify = language_identifier(list(references))  # loading its model takes a second
    assert identification_accuracy(references, identify) == {
        "en": 1,
        "fr": 1,
        "es": 1,
        "zh": 1,
        "all": 1,
    }
    outputs = ["Je ne sais pas ce que tu veux dire.", "I don't know what you mean.", " "]
    assert wrong_language_rate(outputs, "fr", ["en", "es", "fr"], identify) == {
        "rate": 0.5,
        "counts": {"en": 1, "es": 0, "fr": 1},
        "sentences": 2,
    }


def test_multi_reference_scores_take_each_sentences_best_reference(tiny):
    from s2s_keras.evaluation import multi_reference_scores, paired_bootstrap

    streams = zero_shot_set(tiny, "es", "fr").reference_streams()
    hyps = ["Bonjour.", "Salut.", "Chien."]
    scores = multi_reference_scores(hyps, streams)
    assert scores["chrf"] == 100 and "nrefs:var" in scores["chrf_signature"]
    assert multi_reference_scores(hyps, streams[:1])["chrf"] < 100
    test = paired_bootstrap(hyps, hyps, streams[0], samples=20, reference_streams=streams)
    assert test["chrf"]["system"] == 100 and not test["chrf"]["significant"]
