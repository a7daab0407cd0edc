"""The exported SavedModel: string in, string out, in a fresh process."""

import json
import os
import re
import shutil
import subprocess
import sys

import keras
import pytest
import tensorflow as tf

from s2s_keras.bundle import TrainedModel
from s2s_keras.errors import S2SError
from s2s_keras.export import export_saved_model, load_translator
from s2s_keras.models import AttentionSeq2Seq, AttentionSeq2SeqConfig
from s2s_keras.text import WordPieceTokenizer, learn_tokenizer
from s2s_keras.toy import make_toy_corpus
from s2s_keras.training import TrainSettings, train

# A fresh interpreter that knows nothing of s2s_keras: only TensorFlow and tensorflow-text.
# It translates the same sentences with every SavedModel it is given. Sentences travel as
# hex so that invalid UTF-8 survives the JSON file.
SERVE_SCRIPT = """
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the text ops)

request = json.load(open(sys.argv[1]))
texts = tf.constant([bytes.fromhex(h) for h in request["texts"]], tf.string)
results = {}
for path in request["paths"]:
    translator = tf.saved_model.load(path)
    by_function = translator.translate(texts)
    by_signature = translator.signatures["serving_default"](text=texts)["translation"]
    results[path] = {
        "translate": [t.decode("utf-8") for t in by_function.numpy()],
        "serving_default": [t.decode("utf-8") for t in by_signature.numpy()],
    }
results["s2s_keras_imported"] = any(m.startswith("s2s_keras") for m in sys.modules)
print(json.dumps(results))
"""

LONG_LINE = " ".join(["the red cat sleeps under the small table"] * 625)  # 5,000 words

# Hostile input as raw bytes, and whether its translation must be empty.
HOSTILE = {
    "empty": (b"", True),
    "spaces": (b"   ", True),
    "tab-newline-cr": (b"\t \n \r", True),
    "unicode-spaces": ("\u00a0\u3000\u2003".encode(), True),  # no-break, ideographic, em
    "only-format-chars": ("\u200f\u200e\ufeff".encode(), True),  # bidi marks, BOM
    "nul": (b"\x00", True),
    "5000-words": (LONG_LINE.encode(), False),
    "emoji": ("I ❤️ 🐈‍⬛ 👍🏽 🇪🇸!".encode(), False),
    "hebrew-rtl-marks": ("\u200fשלום עולם\u200e".encode(), False),
    "arabic": ("مرحبا بالعالم".encode(), False),
    "chinese": ("猫在桌子下面睡觉。".encode(), False),
    "devanagari": ("नमस्ते दुनिया".encode(), False),
    "combining-marks": ("e\u0301\u0301\u0301 Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇".encode(), False),
    "nul-inside": (b"the cat\x00 sleeps", False),
    "invalid-utf8": (b"\xff\xfe\xfd the \xc3\x28 cat \xed\xa0\x80", False),
    "noncharacters": ("\U0010ffff\ue000".encode(), False),  # and private use
}


BEAM = {"beam_size": 3, "alpha": 1.0}
# Greedy, and shorter sources and translations than the model's defaults.
GREEDY = {"beam_size": 1, "max_source_length": 12, "extra_length": 3}


@pytest.fixture(scope="module")
def corpus():
    return make_toy_corpus(300)


@pytest.fixture(scope="module")
def trained(corpus):
    """A tiny model that already gives different (if poor) translations for different inputs."""
    config = AttentionSeq2SeqConfig(embedding_dim=16, units=16)
    settings = TrainSettings(config=config, epochs=1, batch_size=4, learning_rate=2e-2)
    trained_model, _ = train(corpus, settings, verbose=0)
    return trained_model


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    return export_saved_model(trained, tmp_path_factory.mktemp("export") / "translator", **BEAM)


@pytest.fixture(scope="module")
def wordpiece(corpus):
    """An untrained Luong-attention model with input feeding, on WordPiece tokenizers.

    Untrained, it seldom says `[END]`: its translations run to their length limit.
    """
    keras.utils.set_random_seed(0)
    source = WordPieceTokenizer.from_texts(corpus.train.source, vocab_size=200)
    target = WordPieceTokenizer.from_texts(corpus.train.target, vocab_size=200)
    model = AttentionSeq2Seq(
        source.vocab_size,
        target.vocab_size,
        embedding_dim=8,
        units=8,
        attention="general",
        input_feeding=True,
    )
    return TrainedModel(model, source, target, {"max_length": 16})


@pytest.fixture(scope="module")
def translator(exported):
    return load_translator(exported)


def sentences_for(corpus):
    """Real sentences of many lengths, empty ones, and one far over the maximum length."""
    return [*corpus.test.source, *corpus.train.source[:20], "", "   ", LONG_LINE]


def translate_in_fresh_process(paths, texts, tmp_path):
    request = tmp_path / "request.json"
    request.write_text(
        json.dumps({"paths": list(map(str, paths)), "texts": [t.hex() for t in texts]})
    )
    result = subprocess.run(
        [sys.executable, "-c", SERVE_SCRIPT, str(request)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def decoded(tensor):
    assert tensor.dtype == tf.string and tensor.shape.rank == 1
    return [t.decode("utf-8") for t in tensor.numpy()]  # strict: must be valid UTF-8


@pytest.mark.slow
def test_fresh_process_translates_exactly_as_the_models_in_memory(
    exported, trained, wordpiece, corpus, tmp_path
):
    sentences = sentences_for(corpus)
    greedy_exported = export_saved_model(wordpiece, tmp_path / "greedy", **GREEDY)
    served = translate_in_fresh_process(
        [exported, greedy_exported], [s.encode() for s in sentences], tmp_path
    )
    assert not served["s2s_keras_imported"]

    expected = trained.translate(sentences, method="beam", **BEAM)
    assert served[str(exported)]["translate"] == expected
    assert served[str(exported)]["serving_default"] == expected
    assert len(set(expected)) > 3, f"the tiny model should not translate all alike: {expected}"

    # One sentence at a time in memory, one batch exported: every translation is that of
    # its sentence alone, whatever else is in the batch.
    expected = wordpiece.translate(sentences, method="greedy", batch_size=1, **GREEDY)
    assert served[str(greedy_exported)]["translate"] == expected
    assert served[str(greedy_exported)]["serving_default"] == expected


@pytest.mark.slow
def test_serving_signature_takes_text_and_returns_translation(translator):
    signature = translator.signatures["serving_default"]
    _, inputs = signature.structured_input_signature
    assert inputs == {"text": tf.TensorSpec([None], tf.string, name="text")}
    assert list(signature.structured_outputs) == ["translation"]


@pytest.mark.slow
def test_export_records_its_settings_and_the_run(exported, trained):
    metadata = json.loads((exported / "assets.extra" / "export.json").read_text())
    assert metadata["beam_size"] == 3 and metadata["alpha"] == 1.0
    assert metadata["max_source_length"] == trained.info["max_length"]
    assert metadata["extra_length"] == 10
    assert metadata["signature"] == ["text", "translation"]
    assert metadata["run"]["corpus"] == "toy"


@pytest.mark.slow
@pytest.mark.parametrize("text, empty", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_input_gives_one_valid_utf8_string(translator, text, empty):
    (out,) = decoded(translator.translate(tf.constant([text, b"The cat."])))[:1]
    assert (out == "") is empty


@pytest.mark.slow
def test_hostile_batch_keeps_its_length_and_empty_inputs_stay_empty(translator):
    texts = [text for text, _ in HOSTILE.values()]
    out = decoded(translator.signatures["serving_default"](text=tf.constant(texts))["translation"])
    assert len(out) == len(texts)
    assert [o == "" for o in out] == [empty for _, empty in HOSTILE.values()]


@pytest.mark.slow
def test_output_order_is_input_order(translator, corpus):
    sentences = list(corpus.train.source[:12])
    forward = decoded(translator.translate(tf.constant(sentences)))
    backward = decoded(translator.translate(tf.constant(sentences[::-1])))
    assert backward == forward[::-1]


@pytest.mark.slow
@pytest.mark.parametrize("texts", [[], ["", "  "]], ids=["no-sentences", "only-empty"])
def test_a_batch_with_nothing_to_translate_gives_empty_strings(translator, texts):
    texts = tf.constant(texts, tf.string)
    assert decoded(translator.translate(texts)) == [""] * len(texts)
    by_signature = translator.signatures["serving_default"](text=texts)["translation"]
    assert decoded(by_signature) == [""] * len(texts)


@pytest.mark.slow
def test_failed_export_leaves_nothing_behind(trained, tmp_path, monkeypatch):
    def fail_midway(obj, export_dir, **kwargs):
        os.makedirs(os.path.join(export_dir, "variables"), exist_ok=True)
        raise OSError("No space left on device")

    monkeypatch.setattr(tf.saved_model, "save", fail_midway)
    with pytest.raises(OSError, match="No space left"):
        export_saved_model(trained, tmp_path / "translator", beam_size=1)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_failed_export_keeps_the_previous_export(trained, exported, tmp_path, monkeypatch):
    out = tmp_path / "translator"
    shutil.copytree(exported, out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    monkeypatch.setattr(tf.saved_model, "save", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        export_saved_model(trained, out, beam_size=1)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert list(tmp_path.iterdir()) == [out]


@pytest.mark.slow
def test_export_replaces_a_previous_export(trained, exported, tmp_path):
    out = tmp_path / "translator"
    shutil.copytree(exported, out)
    (out / "stale.txt").write_text("from an older export")
    export_saved_model(trained, out, beam_size=1)
    assert not (out / "stale.txt").exists() and (out / "saved_model.pb").is_file()
    assert json.loads((out / "assets.extra" / "export.json").read_text())["beam_size"] == 1
    assert list(tmp_path.iterdir()) == [out]


@pytest.mark.slow
def test_export_refuses_to_replace_what_is_not_a_savedmodel(trained, tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "model.keras").write_bytes(b"weights")
    (tmp_path / "file").write_text("a file")
    for out in (model_dir, tmp_path / "file"):
        with pytest.raises(S2SError, match="refusing to replace") as error:
            export_saved_model(trained, out)
        assert "\n" not in str(error.value)
    assert (model_dir / "model.keras").read_bytes() == b"weights"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "model"]


def _truncate_graph(path):
    graph = path / "saved_model.pb"
    graph.write_bytes(graph.read_bytes()[:1000])


def _drop_variables(path):
    shutil.rmtree(path / "variables")


def _remove_everything(path):
    shutil.rmtree(path)
    path.mkdir()


@pytest.mark.slow
@pytest.mark.parametrize("damage", [_truncate_graph, _drop_variables, _remove_everything])
def test_load_translator_on_a_damaged_directory_is_a_one_line_error(exported, tmp_path, damage):
    path = tmp_path / "translator"
    shutil.copytree(exported, path)
    damage(path)
    with pytest.raises(S2SError, match="cannot load the SavedModel") as error:
        load_translator(path)
    assert "\n" not in str(error.value) and str(path) in str(error.value)


def test_load_translator_on_a_missing_directory_or_a_file_is_a_one_line_error(tmp_path):
    with pytest.raises(S2SError, match="does not exist") as error:
        load_translator(tmp_path / "nope")
    assert "\n" not in str(error.value)
    (tmp_path / "file").write_text("not a SavedModel")
    with pytest.raises(S2SError, match="is not a directory") as error:
        load_translator(tmp_path / "file")
    assert "\n" not in str(error.value)


@pytest.mark.slow
@pytest.mark.parametrize(
    "setting",
    [
        {"beam_size": 0},
        {"beam_size": 2.0},
        {"alpha": -0.5},
        {"alpha": float("nan")},
        {"extra_length": -1},
        {"max_source_length": 2},
    ],
    ids=lambda s: next(iter(s)),
)
def test_export_rejects_bad_settings_before_writing(trained, tmp_path, setting):
    value = repr(next(iter(setting.values())))
    with pytest.raises(ValueError, match=value):
        export_saved_model(trained, tmp_path / "translator", **setting)
    assert list(tmp_path.iterdir()) == []


# Chinese on either side: a few training sentences for the tokenizers, and inputs that
# stress a Chinese pipeline (no spaces, mixed scripts, traditional characters, full-width
# and ASCII punctuation, a 5,000-character line without a single space).
ZH_TRAIN = [
    "我会说法语。",
    "Tom在游泳吗？",
    "他有三只猫，两只狗！",
    "我们明天见。",
    "这是我的书。",
    "你喜欢喝茶吗?",
]
EN_TRAIN = ["I speak French.", "Is Tom swimming?", "He has three cats, two dogs!", "See you."]
HAN = "[\u4e00-\u9fff]"  # CJK unified ideographs
ZH_HOSTILE = [
    "",
    "\u3000",  # an ideographic space only
    "我会说法语。",
    "Tom和Mary在东京学习Python 3。",  # Latin runs, a digit, inside Chinese
    "我們會說國語嗎？",  # traditional characters, none in the vocabulary
    "你好！？，。、：；（）",  # full-width punctuation
    "１２３ＡＢＣ",  # full-width digits and letters (NFKC folds them)
    "猫🐈‍⬛很可爱😀",
    "我" * 5000,  # a very long line without spaces
    "\u200f我\u200e会\ufeff说",  # bidi marks and a BOM between characters
]


@pytest.fixture(scope="module")
def chinese_models():
    """Untrained tiny models in both directions, with the tokenizers Chinese gets."""
    keras.utils.set_random_seed(0)
    zh_chars = learn_tokenizer(ZH_TRAIN, kind="word", language="zh")  # characters
    zh_pieces = learn_tokenizer(ZH_TRAIN, kind="wordpiece", vocab_size=60, language="zh")
    en_words = learn_tokenizer(EN_TRAIN, kind="word", language="en")
    models = {}
    for name, (source, target) in {
        "zh-en": (zh_chars, en_words),
        "en-zh": (en_words, zh_pieces),
    }.items():
        model = AttentionSeq2Seq(source.vocab_size, target.vocab_size, embedding_dim=8, units=8)
        models[name] = TrainedModel(model, source, target, {"max_length": 16})
    return models


@pytest.mark.slow
def test_chinese_exports_translate_hostile_input_in_a_fresh_process(chinese_models, tmp_path):
    paths = {
        name: export_saved_model(trained, tmp_path / name, **GREEDY)
        for name, trained in chinese_models.items()
    }
    served = translate_in_fresh_process(paths.values(), [t.encode() for t in ZH_HOSTILE], tmp_path)
    assert not served["s2s_keras_imported"]
    for name, trained in chinese_models.items():
        expected = trained.translate(ZH_HOSTILE, method="greedy", **GREEDY)
        assert served[str(paths[name])]["translate"] == expected
        assert served[str(paths[name])]["serving_default"] == expected
        assert expected[:2] == ["", ""] and all(expected[2:]), expected
    # Into Chinese: characters joined without spaces, ASCII marks given back full-width.
    into_chinese = served[str(paths["en-zh"])]["translate"]
    assert not any(re.search(HAN + " " + HAN, t) for t in into_chinese), into_chinese
    assert not any(re.search(HAN + "[,?!]", t) for t in into_chinese), into_chinese
