"""The `s2s-keras` commands in both Chinese directions, on tiny Anki files.

The files are registered with their own hashes (as tests/test_corpora.py does), so the
commands run in this process through `s2s_keras.cli.main`, with the arguments a user
types; tests/test_cli.py runs the same entry point in subprocesses on the toy corpus.
"""

import dataclasses
import gzip
import hashlib
import json

import pytest

from s2s_keras import corpora
from s2s_keras.cli import main
from s2s_keras.corpora import REGISTRY
from s2s_keras.export import load_translator

SPA = "anki-spa-eng/spa.txt"
FRA = "anki-fra-eng/fra.txt"
CMN = "anki-cmn-eng/cmn.txt"
ATTRIBUTION = "CC-BY 2.0 (France) Attribution: tatoeba.org #1 (a) & #2 (b)"
# Eight English–Chinese pairs, numbered 0–39 on both sides: 320 pairs, every split has some.
PAIRS = [
    ("I am a student.", "我是学生。"),
    ("Tom is swimming.", "Tom在游泳。"),
    ("Do you like tea?", "你喜欢喝茶吗？"),
    ("He has three cats.", "他有三只猫。"),
    ("See you tomorrow.", "明天见！"),
    ("This is my book.", "这是我的书。"),
    ("I speak French.", "我会说法语。"),
    ("It is 3:30.", "现在3:30。"),
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """Tiny spa, fra and cmn files in the data-dir layout (cmn gzipped, with a BOM)."""
    root = tmp_path_factory.mktemp("data")
    lines = [
        (f"{en[:-1]} {i}{en[-1]}", f"{zh[:-1]}{i}{zh[-1]}") for i in range(40) for en, zh in PAIRS
    ]
    files = {
        SPA: "".join(f"{en}\tFrase {i}.\n" for i, (en, _) in enumerate(lines)).encode(),
        FRA: "".join(f"{en}\tPhrase {i}.\n" for i, (en, _) in enumerate(lines)).encode(),
        CMN: (
            "\ufeff" + "".join(f"{en}\t{zh}\t{ATTRIBUTION}\n" for en, zh in lines) + "\n"
        ).encode(),
    }
    for relpath, content in files.items():
        stored = root / (f"{relpath}.gz" if relpath == CMN else relpath)
        stored.parent.mkdir(parents=True)
        stored.write_bytes(gzip.compress(content) if relpath == CMN else content)
    return root, files


@pytest.fixture(autouse=True)
def registered(data_dir, tmp_path, monkeypatch):
    root, files = data_dir
    for relpath, content in files.items():
        digest = hashlib.sha256(content).hexdigest()
        monkeypatch.setitem(
            REGISTRY, relpath, dataclasses.replace(REGISTRY[relpath], sha256=digest)
        )
    monkeypatch.setenv("S2S_DATA_DIR", str(root))
    monkeypatch.setenv("S2S_OFFLINE", "1")
    monkeypatch.setenv("S2S_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(corpora, "_MOVED", {})


def run(capsys, *args):
    status = main(list(map(str, args)))
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return captured.out


@pytest.mark.slow
@pytest.mark.parametrize("corpus, bleu_tokenizer", [("cmn-eng", "13a"), ("eng-cmn", "zh")])
def test_train_evaluate_translate_and_export_in_either_direction(
    corpus, bleu_tokenizer, capsys, tmp_path
):
    model = tmp_path / "model"
    tiny = ("--set", "embedding_dim=8", "--set", "units=8", "--epochs", 1, "--batch-size", 16)
    run(capsys, "train", "--corpus", corpus, "--model", "bahdanau", *tiny, "--out", model)
    info = json.loads((model / "run.json").read_text())
    assert info["corpus"] == corpus

    scores = json.loads(run(capsys, "evaluate", "--model", model, "--corpus", corpus, "--json"))
    assert f"tok:{bleu_tokenizer}" in scores["bleu_signature"]
    assert scores["sentences"] == len(corpora.load_corpus(corpus).test.source) > 0

    source = "我是学生。" if corpus == "cmn-eng" else "I am a student."
    [translated] = run(capsys, "translate", "--model", model, source).splitlines()

    if corpus == "eng-cmn":
        return  # tests/test_export.py exports into Chinese, in a fresh process
    run(capsys, "export", "--model", model, "--out", tmp_path / "saved", "--beam", 1)
    translator = load_translator(tmp_path / "saved")  # kept: its functions need its variables
    exported = translator.translate([source]).numpy()[0].decode()
    assert exported == translated
