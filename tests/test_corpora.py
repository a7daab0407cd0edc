"""Tests for `s2s_keras.corpora`: resolution order, verified atomic downloads, parsing, splits.

Everything runs on small files the tests write (served from `file://` URLs); tests of the
real corpora need `S2S_DATA_DIR` (CI points it at `../shared/data`) and are skipped otherwise.
"""

import dataclasses
import gzip
import hashlib
import io
import json
import os
import sys
import types
import urllib.request
import zipfile
from pathlib import Path

import pytest

from s2s_keras import corpora
from s2s_keras.corpora import (
    ANKI_FILES,
    CORPORA,
    REGISTRY,
    SPLIT_RULES,
    UnknownCorpusError,
    component_splits,
    corpus_languages,
    fetch,
    leaked_pairs,
    load_corpus,
    split_leakage,
)
from s2s_keras.errors import ChecksumError, CorpusFormatError, DataNotFoundError, S2SError
from s2s_keras.types import Corpus, ParallelText, split_name

SPA = "anki-spa-eng/spa.txt"
FRA = "anki-fra-eng/fra.txt"
CMN = "anki-cmn-eng/cmn.txt"
ATTRIBUTION = "CC-BY 2.0 (France) Attribution: tatoeba.org #538123 (CM) & #891077 (Martha)"
# Under the hash of the English side, "English 0." is in train, "English 38." in validation,
# "English 68." and "English 90." in test (checked by the first test below).
needs_data = pytest.mark.skipif(
    not os.environ.get("S2S_DATA_DIR"),
    reason="S2S_DATA_DIR not set: real-corpus tests need the shared data folder",
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def anki_lines(n_english: int) -> bytes:
    """`n_english` English sentences with 1 to 3 Spanish translations each."""
    lines = [
        f"Sentence {i}.\tFrase {i} versión {v}.\n"
        for i in range(n_english)
        for v in range(i % 3 + 1)
    ]
    return "".join(lines).encode()


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def tiny_anki_files() -> dict[str, bytes]:
    """Tiny Spanish, French and Mandarin files whose splits need the components rule.

    The Spanish "Uno." translates a train and a test English sentence, the French "Trois."
    a validation and a test one; "English 68." is in the Mandarin file too. The Mandarin
    file has the real one's format: a byte-order mark, three columns, a final empty line.
    """
    spa = [f"English {i}.\tFrase {i}.\n" for i in range(300)]
    spa += ["English 0.\tUno.\n", "English 68.\tUno.\n"]
    fra = [f"English {i}.\tPhrase {i}.\n" for i in range(0, 300, 2)]
    fra += ["English 38.\tTrois.\n", "English 90.\tTrois.\n"]
    cmn = [f"English {i}.\t句子{i}。\t{ATTRIBUTION}\n" for i in (*range(0, 300, 3), 68)]
    return {
        SPA: "".join(spa).encode(),
        FRA: "".join(fra).encode(),
        CMN: ("\ufeff" + "".join(cmn) + "\n").encode(),
    }


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Cache in `tmp_path/cache`, downloads allowed, nothing written to the home folder."""
    monkeypatch.setenv("S2S_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("S2S_OFFLINE", raising=False)
    monkeypatch.setattr(corpora, "_MOVED", {})  # no split computed by another test
    return tmp_path / "cache"


@pytest.fixture
def anki_data_dir(tmp_path, monkeypatch):
    """`tiny_anki_files` in a data dir (Mandarin gzipped), registered with their hashes."""
    data_dir = tmp_path / "data"
    for relpath, content in tiny_anki_files().items():
        stored = data_dir / (f"{relpath}.gz" if relpath == CMN else relpath)
        stored.parent.mkdir(parents=True)
        stored.write_bytes(gzip.compress(content) if relpath == CMN else content)
        monkeypatch.setitem(
            REGISTRY, relpath, dataclasses.replace(REGISTRY[relpath], sha256=sha256(content))
        )
    monkeypatch.setenv("S2S_DATA_DIR", str(data_dir))
    monkeypatch.setenv("S2S_OFFLINE", "1")
    return data_dir


@pytest.fixture
def no_data_dir(monkeypatch):
    monkeypatch.delenv("S2S_DATA_DIR", raising=False)


@pytest.fixture
def served_spa_zip(tmp_path, monkeypatch, no_data_dir):
    """Tiny Anki files served from file:// URLs, registered with their true hashes.

    spa-eng.zip and fra-eng.zip are archives as upstream; cmn.txt is served as the plain
    file, as its fixed-version URL does.
    """
    content = anki_lines(100)
    served = tmp_path / "served"
    served.mkdir()
    archive = served / "spa-eng.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("spa-eng/_about.txt", "about\n")
        z.writestr("spa-eng/spa.txt", content)
    remote = dataclasses.replace(
        REGISTRY[SPA],
        url=archive.as_uri(),
        sha256=sha256(content),
        archive_sha256=sha256(archive.read_bytes()),
    )
    monkeypatch.setitem(REGISTRY, SPA, remote)
    siblings = tiny_anki_files()
    with zipfile.ZipFile(served / "fra-eng.zip", "w") as z:
        z.writestr("fra-eng/fra.txt", siblings[FRA])
    (served / "cmn.txt").write_bytes(siblings[CMN])
    for relpath, url in ((FRA, served / "fra-eng.zip"), (CMN, served / "cmn.txt")):
        remote = dataclasses.replace(
            REGISTRY[relpath], url=url.as_uri(), sha256=sha256(siblings[relpath])
        )
        monkeypatch.setitem(REGISTRY, relpath, remote)
    return content, archive


def test_the_tiny_files_need_the_components_rule():
    assert [split_name(f"English {i}.") for i in (0, 38, 68, 90)] == [
        "train",
        "validation",
        "test",
        "test",
    ]


def test_corpora_lists_toy_anki_and_every_multi30k_direction():
    assert CORPORA == (
        "toy",
        "spa-eng",
        "eng-spa",
        "fra-eng",
        "eng-fra",
        "cmn-eng",
        "eng-cmn",
        "multi30k-de-en",
        "multi30k-de-fr",
        "multi30k-en-de",
        "multi30k-en-fr",
        "multi30k-fr-de",
        "multi30k-fr-en",
        "tatoeba-multi",
        "toy-multi",
    )


def test_unknown_corpus_name_raises_listing_valid_names():
    with pytest.raises(UnknownCorpusError) as info:
        load_corpus("klingon-eng")
    assert isinstance(info.value, ValueError) and isinstance(info.value, S2SError)
    message = str(info.value)
    assert "'klingon-eng'" in message
    assert all(name in message for name in CORPORA)


def test_toy_is_delegated_to_make_toy_corpus(monkeypatch):
    toy = Corpus("toy", "xx", "yy", *(ParallelText(("a",), ("b",)),) * 3)
    fake = types.ModuleType("s2s_keras.toy")
    fake.make_toy_corpus = lambda: toy
    monkeypatch.setitem(sys.modules, "s2s_keras.toy", fake)
    assert load_corpus("toy") is toy


def test_no_english_sentence_appears_in_two_splits(tmp_path, no_data_dir):
    spa = tmp_path / "spa.txt"
    spa.write_bytes(anki_lines(1000))
    corpus = load_corpus("spa-eng", path=spa)
    english = {s: set(corpus.split(s).target) for s in ("train", "validation", "test")}
    assert all(english.values())  # every split is non-empty, so the check below means something
    assert not english["train"] & english["validation"]
    assert not english["train"] & english["test"]
    assert not english["validation"] & english["test"]
    assert sum(corpus.sizes().values()) == 334 * 1 + 333 * 2 + 333 * 3  # 1 to 3 versions each
    # Every alternative translation follows its English sentence into the same split.
    for i in (0, 1, 2, 500):
        split = split_name(f"Sentence {i}.")
        assert corpus.split(split).target.count(f"Sentence {i}.") == i % 3 + 1


def test_eng_spa_swaps_direction_and_keeps_the_same_split(tmp_path, no_data_dir):
    spa = tmp_path / "spa.txt"
    spa.write_bytes(anki_lines(200))
    forward, backward = load_corpus("spa-eng", path=spa), load_corpus("eng-spa", path=spa)
    assert (forward.source_lang, forward.target_lang) == ("es", "en")
    assert (backward.source_lang, backward.target_lang, backward.name) == ("en", "es", "eng-spa")
    assert backward.train.source == forward.train.target
    assert backward.test.target == forward.test.source


def test_extra_attribution_column_is_ignored(tmp_path):
    spa = tmp_path / "spa.txt"
    spa.write_text("Go.\tVe.\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272\n")
    assert corpora.read_anki(spa) == [("Go.", "Ve.")]


def test_three_columns_a_byte_order_mark_and_a_final_empty_line_are_read(tmp_path):
    cmn = tmp_path / "cmn.txt.gz"
    cmn.write_bytes(
        gzip.compress(
            f"\ufeffHi.\t嗨。\t{ATTRIBUTION}\nRun.\t你用跑的。\t{ATTRIBUTION}\n\n".encode()
        )
    )
    assert corpora.read_anki(cmn) == [("Hi.", "嗨。"), ("Run.", "你用跑的。")]


@pytest.mark.parametrize(
    "bad_line",
    [
        b"only one column\n",
        b"Go.\t\n",
        b"\tVe.\n",
        b"Caf\xe9.\tCaf\xc3\xa9.\n",
        b"\n",
        "只有一列\n".encode(),
        b"\t\xe5\x97\xa8\xe3\x80\x82\tCC-BY 2.0\n",
    ],
    ids=[
        "one-column",
        "empty-translation",
        "empty-english",
        "invalid-utf8",
        "empty-line-inside",
        "one-column-chinese",
        "three-columns-empty-english",
    ],
)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_bad_line_raises_corpus_format_error_naming_the_line(tmp_path, bad_line, suffix):
    data = b"Go.\tVe.\nHi.\tHola.\n" + bad_line + b"Run!\tCorre.\n"
    spa = tmp_path / f"spa.txt{suffix}"
    spa.write_bytes(gzip.compress(data) if suffix else data)
    with pytest.raises(CorpusFormatError, match=r"spa\.txt(\.gz)?, line 3: ") as info:
        corpora.read_anki(spa)
    assert "\n" not in str(info.value)


def test_cmn_eng_translates_mandarin_into_english_and_eng_cmn_the_other_way():
    assert corpus_languages("cmn-eng") == ("zh", "en")
    assert corpus_languages("eng-cmn") == ("en", "zh")
    assert set(ANKI_FILES) == {"spa-eng", "fra-eng", "cmn-eng"}


def test_cmn_is_registered_at_its_fixed_version_url_as_a_plain_file():
    remote = REGISTRY[CMN]
    assert "/b172d4aa468126c16f51dbf75797aaff77cf787e/cmn.txt" in remote.url
    assert remote.sha256 == "aa264a2447b26ab7c9d413f8321f9e2a779fd134b5118306b6e26a3499b3926e"
    assert (remote.member, remote.gzipped) == (None, False)


# --- the split: connected components over all Anki corpora ----------------------------


def test_component_splits_keeps_each_component_in_the_split_of_its_smallest_english():
    spa = [("English 0.", "Uno."), ("English 68.", "Uno."), ("English 90.", "Noventa.")]
    fra = [("English 38.", "Trois."), ("English 90.", "Trois."), ("English 68.", "Soixante.")]
    assert component_splits([spa, fra]) == {
        "English 0.": "train",  # with "English 68." through "Uno."
        "English 68.": "train",
        "English 38.": "validation",  # with "English 90." through "Trois." (another corpus)
        "English 90.": "validation",
    }
    assert component_splits([spa]) == {
        "English 0.": "train",
        "English 68.": "train",
        "English 90.": "test",
    }


def test_component_splits_compares_sentences_without_surrounding_whitespace():
    pairs = [("English 0.", "Uno. "), (" English 68.", "Uno.")]
    assert component_splits([pairs]) == {"English 0.": "train", "English 68.": "train"}


def test_a_sentence_with_two_english_translations_stays_in_one_split(anki_data_dir):
    corpus = load_corpus("spa-eng")
    assert corpus.train.source.count("Uno.") == 2
    assert "Uno." not in corpus.test.source
    # By their own hash 283 English sentences are in train, 6 in validation, 11 in test;
    # 68 (2 pairs) joins 0 in train, 90 joins 38 in validation through the French file.
    assert corpus.sizes() == {"train": 283 + 1 + 2, "validation": 6 + 1, "test": 11 + 1 - 2 - 1}


def test_corpora_are_joined_through_their_shared_sentences(anki_data_dir):
    # "English 68." is a test sentence by its own hash, but Spanish "Uno." ties it to the
    # train sentence "English 0.": in the Mandarin corpus too it is in train.
    corpus = load_corpus("cmn-eng")
    assert "English 68." in corpus.train.target
    assert "English 90." in corpus.validation.target  # with "English 38." (French "Trois.")
    assert corpus.test.target == ("English 93.", "English 102.", "English 108.", "English 198.")
    assert load_corpus("eng-cmn").train.source == corpus.train.target


@pytest.mark.parametrize(
    "name", [n for n in CORPORA if n != "toy" and not n.startswith("multi") and "-multi" not in n]
)
def test_no_sentence_of_any_split_occurs_in_another_split_of_any_anki_corpus(anki_data_dir, name):
    corpora_ = [load_corpus(n) for n in ANKI_FILES]
    sentences = {
        split: {
            s
            for c in corpora_
            for text in (c.split(split).source, c.split(split).target)
            for s in text
        }
        for split in ("train", "validation", "test")
    }
    assert all(sentences.values())
    assert not sentences["test"] & sentences["train"]
    assert not sentences["test"] & sentences["validation"]
    assert not sentences["validation"] & sentences["train"]
    corpus = load_corpus(name)
    assert set(corpus.test.source) | set(corpus.test.target) <= sentences["test"]


def test_the_english_rule_would_leak_on_the_same_files(anki_data_dir):
    pairs = corpora.anki_pairs()
    # Spanish "Uno." is in test and in train; French "Trois." in test and validation only.
    assert [row["other_seen"] for row in split_leakage(pairs, "english")] == [1, 0, 0]
    assert [row["either_seen"] for row in split_leakage(pairs, "component")] == [0, 0, 0]


def test_an_explicit_file_is_split_on_its_own(anki_data_dir, tmp_path):
    cmn = tmp_path / "own.txt"
    cmn.write_bytes(tiny_anki_files()[CMN])
    assert "English 68." in load_corpus("cmn-eng", path=cmn).test.target


def test_a_folder_path_takes_every_anki_file_from_that_folder(anki_data_dir, monkeypatch):
    monkeypatch.delenv("S2S_DATA_DIR")
    assert load_corpus("cmn-eng", path=anki_data_dir) == load_corpus(
        "cmn-eng", data_dir=anki_data_dir
    )


def test_a_missing_sibling_file_gives_the_missing_file_error(anki_data_dir, isolated_env):
    (anki_data_dir / FRA).unlink()
    with pytest.raises(DataNotFoundError) as info:
        load_corpus("cmn-eng")
    message = str(info.value)
    assert "\n" not in message and str(anki_data_dir / FRA) in message
    assert not (isolated_env / "anki-splits").exists()


def test_the_split_is_cached_so_siblings_are_read_once(anki_data_dir, isolated_env, monkeypatch):
    corpus = load_corpus("cmn-eng")
    [cached] = (isolated_env / "anki-splits").iterdir()
    assert json.loads(cached.read_text())["moved"] == {
        "English 68.": "train",
        "English 90.": "validation",
    }
    monkeypatch.setattr(corpora, "_MOVED", {})  # a new process: only the file cache is left
    (anki_data_dir / SPA).unlink()
    (anki_data_dir / FRA).unlink()
    assert load_corpus("cmn-eng") == corpus


def test_a_damaged_split_cache_is_computed_again(anki_data_dir, isolated_env, monkeypatch):
    corpus = load_corpus("spa-eng")
    [cached] = (isolated_env / "anki-splits").iterdir()
    good = cached.read_text()
    cached.write_text('{"files": ')
    monkeypatch.setattr(corpora, "_MOVED", {})
    assert load_corpus("spa-eng") == corpus
    assert cached.read_text() == good


def test_split_leakage_counts_test_pairs_that_share_a_sentence_with_training():
    pairs = {
        "spa-eng": [("English 0.", "Uno."), ("English 68.", "Uno."), ("English 90.", "Noventa.")],
        "fra-eng": [("English 90.", "Quatre-vingt-dix."), ("English 1.", "Noventa.")],
    }
    row = {"rule": "english", "english_seen": 0}
    # Both Spanish test sentences are seen in training: "Uno." in spa-eng, "Noventa." in
    # fra-eng ("English 1." is in train).
    assert split_leakage(pairs, "english") == [
        {"corpus": "spa-eng", **row, "test": 2, "other_seen": 2, "either_seen": 2},
        {"corpus": "fra-eng", **row, "test": 1, "other_seen": 0, "either_seen": 0},
    ]
    # Two components, {0, 68} and {1, 90}, both in train with their smallest English.
    assert [r["test"] for r in split_leakage(pairs, "component")] == [0, 0]


def test_split_leakage_of_the_random_rule_is_seeded_and_splits_english_sentences():
    pairs = {"spa-eng": [(f"English {i // 2}.", f"Frase {i}.") for i in range(2000)]}
    [row] = split_leakage(pairs, "random")
    assert row == {
        "corpus": "spa-eng",
        "rule": "random",
        "test": 48,
        "english_seen": 48,  # the other translation of each is in train (96 % likely)
        "other_seen": 0,
        "either_seen": 48,
    }
    assert split_leakage(pairs, "random", seed=1) != [row]
    assert split_leakage(pairs, "component")[0]["english_seen"] == 0


def test_leaked_pairs_are_the_pairs_split_leakage_counts_with_the_training_pair_they_share():
    pairs = {
        "spa-eng": [("English 0.", "Uno."), ("English 68.", "Uno."), ("English 90.", "Noventa.")],
        "fra-eng": [("English 90.", "Quatre-vingt-dix."), ("English 1.", "Noventa.")],
    }
    # "English 0." is in train, "English 68." and "English 90." in test; "Noventa." is
    # in training only in fra-eng.
    expected = [
        (("English 68.", "Uno."), ("English 0.", "Uno.")),
        (("English 90.", "Noventa."), ("English 1.", "Noventa.")),
    ]
    assert leaked_pairs(pairs, "english", "spa-eng") == expected
    assert leaked_pairs(pairs, "english", "spa-eng", side="either") == expected
    assert leaked_pairs(pairs, "english", "spa-eng", side="english") == []
    assert leaked_pairs(pairs, "component", "spa-eng", side="either") == []
    for rule in ("random", "english", "component"):
        for row in split_leakage(pairs, rule):
            for side in ("english", "other", "either"):
                leaks = leaked_pairs(pairs, rule, row["corpus"], side=side)
                assert len(leaks) == row[f"{side}_seen"], (rule, row["corpus"], side)
    with pytest.raises(ValueError, match="unknown side"):
        leaked_pairs(pairs, "english", "spa-eng", side="spanish")
    with pytest.raises(ValueError, match="'deu-eng' is not one of spa-eng, fra-eng"):
        leaked_pairs(pairs, "english", "deu-eng")
    with pytest.raises(ValueError, match="unknown split rule"):
        leaked_pairs(pairs, "hash", "spa-eng")


def test_split_leakage_rejects_an_unknown_rule():
    assert SPLIT_RULES == ("random", "english", "component")
    with pytest.raises(ValueError, match="unknown split rule 'hash'; expected one of: random"):
        split_leakage({}, "hash")


def test_multi30k_files_with_unequal_line_counts_raise(tmp_path):
    (tmp_path / "a.de").write_text("eins\nzwei\n")
    (tmp_path / "a.en").write_text("one\n")
    with pytest.raises(CorpusFormatError, match="has 2 lines but .*a.en has 1"):
        corpora.read_aligned(tmp_path / "a.de", tmp_path / "a.en")


def test_download_from_file_url_extracts_verifies_caches_and_splits(
    served_spa_zip, isolated_env, monkeypatch
):
    content, _ = served_spa_zip
    corpus = load_corpus("spa-eng")
    assert corpus.sizes() == {"train": 186, "validation": 3, "test": 10}
    assert corpus.train.source[0] == "Frase 0 versión 0."
    [splits] = (isolated_env / "anki-splits").iterdir()  # the components, computed once
    assert files_under(isolated_env) == sorted(
        [isolated_env / p for p in (SPA, FRA, CMN)] + [splits]
    )
    assert (isolated_env / SPA).read_bytes() == content
    assert (isolated_env / CMN).read_bytes() == tiny_anki_files()[CMN]

    # A second load reads the cache; the network is never touched again.
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("downloaded"))
    assert load_corpus("spa-eng") == corpus


def test_download_of_a_plain_file_is_verified_and_cached(tmp_path, monkeypatch, no_data_dir):
    served = tmp_path / "served.txt"
    served.write_bytes(b"Go.\tVe.\n")
    remote = dataclasses.replace(
        REGISTRY[SPA], url=served.as_uri(), sha256=sha256(b"Go.\tVe.\n"), member=None
    )
    monkeypatch.setitem(REGISTRY, SPA, dataclasses.replace(remote, archive_sha256=None))
    assert fetch(SPA).read_bytes() == b"Go.\tVe.\n"


def test_download_of_gzip_files_decompresses_them(tmp_path, monkeypatch, isolated_env, no_data_dir):
    texts = {
        "de": ["Ein Hund.", "Zwei Katzen.", "Drei Vögel."],
        "en": ["A dog.", "Two cats.", "Three birds."],
    }
    for stem, n in (("train", 3), ("val", 2), ("test_2016_flickr", 1)):
        for lang, lines in texts.items():
            content = "".join(f"{line}\n" for line in lines[:n]).encode()
            served = tmp_path / f"{stem}.{lang}.gz"
            served.write_bytes(gzip.compress(content))
            relpath = f"multi30k/{stem}.{lang}"
            remote = dataclasses.replace(
                REGISTRY[relpath],
                url=served.as_uri(),
                sha256=sha256(content),
                archive_sha256=sha256(served.read_bytes()),
            )
            monkeypatch.setitem(REGISTRY, relpath, remote)

    corpus = load_corpus("multi30k-en-de")
    assert (corpus.name, corpus.source_lang, corpus.target_lang) == ("multi30k-en-de", "en", "de")
    assert corpus.sizes() == {"train": 3, "validation": 2, "test": 1}
    assert corpus.test.source == ("A dog.",) and corpus.test.target == ("Ein Hund.",)
    assert (isolated_env / "multi30k" / "val.de").read_text() == "Ein Hund.\nZwei Katzen.\n"
    assert len(files_under(isolated_env)) == 6


@pytest.mark.parametrize("wrong", ["sha256", "archive_sha256"])
def test_checksum_mismatch_raises_and_leaves_no_file(
    served_spa_zip, isolated_env, monkeypatch, wrong
):
    monkeypatch.setitem(REGISTRY, SPA, dataclasses.replace(REGISTRY[SPA], **{wrong: "0" * 64}))
    with pytest.raises(ChecksumError, match="expected 0{64}") as info:
        fetch(SPA)
    content, archive = served_spa_zip
    actual = sha256(content if wrong == "sha256" else archive.read_bytes())
    assert f"sha256 {actual}, expected" in str(info.value)
    assert files_under(isolated_env) == []


def test_corrupt_zip_raises_checksum_error_and_leaves_no_file(tmp_path, isolated_env, monkeypatch):
    served = tmp_path / "broken.zip"
    served.write_bytes(b"PK\x03\x04 this is not really a zip")
    remote = dataclasses.replace(REGISTRY[SPA], url=served.as_uri(), archive_sha256=None)
    monkeypatch.setitem(REGISTRY, SPA, remote)
    with pytest.raises(ChecksumError, match="not a valid archive"):
        fetch(SPA, data_dir=tmp_path / "empty")
    assert files_under(isolated_env) == []


class BrokenResponse(io.BytesIO):
    """A response that delivers one chunk and then fails like a dropped connection or ^C."""

    headers = {"Content-Length": "10000000"}

    def __init__(self, error: BaseException):
        super().__init__(b"x" * 1000)
        self.error = error

    def read(self, size=-1):
        if self.tell():
            raise self.error
        return super().read(size)


@pytest.mark.parametrize(
    ("error", "raised"),
    [(KeyboardInterrupt(), KeyboardInterrupt), (OSError("connection reset"), DataNotFoundError)],
    ids=["keyboard-interrupt", "connection-reset"],
)
def test_interrupted_download_leaves_no_partial_file(
    served_spa_zip, isolated_env, monkeypatch, error, raised
):
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: BrokenResponse(error))
    with pytest.raises(raised):
        fetch(SPA)
    assert files_under(isolated_env) == []


@pytest.mark.parametrize("how", ["S2S_OFFLINE", "missing-url"])
def test_missing_file_offline_gives_one_line_error_naming_url_paths_and_env_var(
    tmp_path, isolated_env, monkeypatch, how
):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    monkeypatch.setenv("S2S_DATA_DIR", str(data_dir))
    if how == "S2S_OFFLINE":
        monkeypatch.setenv("S2S_OFFLINE", "1")
    else:
        gone = (tmp_path / "nowhere" / "spa-eng.zip").as_uri()
        monkeypatch.setitem(REGISTRY, SPA, dataclasses.replace(REGISTRY[SPA], url=gone))
    with pytest.raises(DataNotFoundError) as info:
        load_corpus("spa-eng")
    message = str(info.value)
    assert "\n" not in message
    assert REGISTRY[SPA].url in message
    assert str(data_dir / SPA) in message and str(isolated_env / SPA) in message
    assert "S2S_DATA_DIR" in message
    assert files_under(isolated_env) == []


def test_explicit_path_that_does_not_exist_raises_without_fallback(tmp_path, no_data_dir):
    with pytest.raises(DataNotFoundError, match="not found at the given path"):
        load_corpus("spa-eng", path=tmp_path / "nope.txt")


def test_resolution_order_is_path_then_data_dir_then_cache(tmp_path, isolated_env, monkeypatch):
    explicit, data_dir = tmp_path / "mine.txt", tmp_path / "data"
    contents = {
        explicit: b"Explicit.\tE.\n",
        data_dir / SPA: b"Data.\tD.\n",
        isolated_env / SPA: b"Cache.\tC.\n",
    }
    for file, content in contents.items():
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(content)
    monkeypatch.setenv("S2S_DATA_DIR", str(data_dir))

    def expect(file):
        remote = dataclasses.replace(REGISTRY[SPA], sha256=sha256(contents[file]))
        monkeypatch.setitem(REGISTRY, SPA, remote)

    expect(data_dir / SPA)  # only the data-dir copy passes the check: the cache is never read
    assert fetch(SPA, path=explicit) == explicit  # explicit files are taken as they are
    assert fetch(SPA, path=data_dir) == data_dir / SPA
    assert fetch(SPA) == data_dir / SPA
    expect(isolated_env / SPA)
    with pytest.raises(ChecksumError):
        fetch(SPA)  # the data-dir copy now has the wrong hash: no silent fallback
    assert fetch(SPA, data_dir=tmp_path / "elsewhere") == isolated_env / SPA
    monkeypatch.delenv("S2S_DATA_DIR")
    assert fetch(SPA) == isolated_env / SPA


def test_gzipped_file_in_data_dir_is_verified_by_its_content(tmp_path, monkeypatch):
    content = b"Go.\tVe.\n"
    stored = tmp_path / "anki-spa-eng" / "spa.txt.gz"
    stored.parent.mkdir()
    stored.write_bytes(gzip.compress(content))
    monkeypatch.setitem(REGISTRY, SPA, dataclasses.replace(REGISTRY[SPA], sha256=sha256(content)))
    assert fetch(SPA, data_dir=tmp_path) == stored
    assert corpora.read_anki(stored) == [("Go.", "Ve.")]


def test_damaged_local_file_raises_checksum_error_naming_file_and_hashes(tmp_path):
    stored = tmp_path / SPA
    stored.parent.mkdir()
    stored.write_bytes(b"Go.\tVe.\n")
    with pytest.raises(ChecksumError) as info:
        fetch(SPA, data_dir=tmp_path)
    message = str(info.value)
    assert str(stored) in message
    assert sha256(b"Go.\tVe.\n") in message and corpora.REGISTRY[SPA].sha256 in message


# The split of the registered files, computed by the first test that needs it.
SHARED_MOVED: dict = {}


@pytest.fixture
def shared_data(monkeypatch):
    monkeypatch.setenv("S2S_OFFLINE", "1")  # a missing shared file must fail, not download
    monkeypatch.setattr(corpora, "_MOVED", SHARED_MOVED)


@needs_data
def test_real_spa_eng_sizes(shared_data):
    corpus = load_corpus("spa-eng")
    assert corpus.sizes() == {"train": 114227, "validation": 2417, "test": 2320}
    assert corpus.train.source[0] == "Ve." and corpus.train.target[0] == "Go."


@needs_data
def test_real_fra_eng_sizes(shared_data):
    corpus = load_corpus("fra-eng")
    assert sum(corpus.sizes().values()) == 167130
    assert corpus.sizes() == {"train": 160434, "validation": 3333, "test": 3363}


@needs_data
def test_real_cmn_eng_sizes_and_first_pair(shared_data):
    corpus = load_corpus("cmn-eng")
    assert sum(corpus.sizes().values()) == 29155
    assert corpus.sizes() == {"train": 28016, "validation": 515, "test": 624}
    assert (corpus.train.source[0], corpus.train.target[0]) == ("嗨。", "Hi.")  # no BOM


@needs_data
def test_real_anki_splits_share_no_sentence_across_splits_and_corpora(shared_data):
    loaded = [load_corpus(name) for name in ANKI_FILES]
    sentences = {
        split: {
            s.strip()
            for c in loaded
            for side in (c.split(split).source, c.split(split).target)
            for s in side
        }
        for split in ("train", "validation", "test")
    }
    assert not sentences["test"] & sentences["train"]
    assert not sentences["test"] & sentences["validation"]
    assert not sentences["validation"] & sentences["train"]


@needs_data
def test_real_leakage_of_each_split_rule(shared_data):
    pairs = corpora.anki_pairs()
    english = split_leakage(pairs, "english")
    assert [(r["test"], r["english_seen"], r["other_seen"]) for r in english] == [
        (2396, 0, 210),
        (3482, 0, 354),
        (636, 0, 126),
    ]
    random_rule = split_leakage(pairs, "random")  # seed 0
    assert [(r["test"], r["english_seen"], r["other_seen"]) for r in random_rule] == [
        (2409, 1331, 203),
        (3382, 2330, 303),
        (596, 418, 134),
    ]
    component = split_leakage(pairs, "component")
    assert [(r["test"], r["either_seen"]) for r in component] == [(2320, 0), (3363, 0), (624, 0)]


@needs_data
def test_real_multi30k_de_en_uses_official_splits(shared_data):
    corpus = load_corpus("multi30k-de-en")
    assert corpus.sizes() == {"train": 29000, "validation": 1014, "test": 1000}
    assert (corpus.test.source[0], corpus.test.target[0]) == (
        "Ein Mann mit einem orangefarbenen Hut, der etwas anstarrt.",
        "A man in an orange hat starring at something.",
    )


def test_corrupt_gzip_in_data_dir_raises_checksum_error(tmp_path):
    stored = tmp_path / "multi30k" / "val.de.gz"
    stored.parent.mkdir()
    stored.write_bytes(gzip.compress(b"Ein Mann.\n")[:-6])
    with pytest.raises(ChecksumError, match=r"val\.de\.gz is not a valid gzip file"):
        fetch("multi30k/val.de", data_dir=tmp_path)


def test_a_sample_is_drawn_at_random_kept_in_order_and_reproducible():
    from s2s_keras.types import ParallelText

    split = ParallelText(tuple(f"s{i}" for i in range(100)), tuple(f"t{i}" for i in range(100)))
    sample = split.sample(10, seed=1)
    assert len(sample) == 10 and sample == split.sample(10, seed=1) != split.sample(10, seed=2)
    indices = [int(s[1:]) for s in sample.source]
    assert indices == sorted(indices) and indices != list(range(10))  # not the head
    assert [int(t[1:]) for t in sample.target] == indices  # pairs stay pairs
    assert split.sample(500) == split
    with pytest.raises(ValueError, match="n must be an integer >= 0"):
        split.sample(-1)
