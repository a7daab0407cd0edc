"""Tests for `s2s_keras.corpora`: resolution order, verified atomic downloads, parsing, splits.

Everything runs on small files the tests write (served from `file://` URLs); tests of the
real corpora need `S2S_DATA_DIR` (CI points it at `../shared/data`) and are skipped otherwise.
"""

import dataclasses
import gzip
import hashlib
import io
import os
import sys
import types
import urllib.request
import zipfile
from pathlib import Path

import pytest

from s2s_keras import corpora
from s2s_keras.corpora import CORPORA, REGISTRY, UnknownCorpusError, fetch, load_corpus
from s2s_keras.errors import ChecksumError, CorpusFormatError, DataNotFoundError, S2SError
from s2s_keras.types import Corpus, ParallelText, split_name

SPA = "anki-spa-eng/spa.txt"
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


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Cache in `tmp_path/cache`, downloads allowed, nothing written to the home folder."""
    monkeypatch.setenv("S2S_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("S2S_OFFLINE", raising=False)
    return tmp_path / "cache"


@pytest.fixture
def no_data_dir(monkeypatch):
    monkeypatch.delenv("S2S_DATA_DIR", raising=False)


@pytest.fixture
def served_spa_zip(tmp_path, monkeypatch, no_data_dir):
    """A tiny spa-eng.zip served from a file:// URL, registered with its true hashes."""
    content = anki_lines(100)
    archive = tmp_path / "served" / "spa-eng.zip"
    archive.parent.mkdir()
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
    return content, archive


def test_corpora_lists_toy_anki_and_every_multi30k_direction():
    assert CORPORA == (
        "toy",
        "spa-eng",
        "eng-spa",
        "fra-eng",
        "eng-fra",
        "multi30k-de-en",
        "multi30k-de-fr",
        "multi30k-en-de",
        "multi30k-en-fr",
        "multi30k-fr-de",
        "multi30k-fr-en",
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


@pytest.mark.parametrize(
    "bad_line",
    [b"only one column\n", b"Go.\t\n", b"\tVe.\n", b"Caf\xe9.\tCaf\xc3\xa9.\n"],
    ids=["one-column", "empty-translation", "empty-english", "invalid-utf8"],
)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_bad_line_raises_corpus_format_error_naming_the_line(tmp_path, bad_line, suffix):
    data = b"Go.\tVe.\nHi.\tHola.\n" + bad_line + b"Run!\tCorre.\n"
    spa = tmp_path / f"spa.txt{suffix}"
    spa.write_bytes(gzip.compress(data) if suffix else data)
    with pytest.raises(CorpusFormatError, match=r"spa\.txt(\.gz)?, line 3: "):
        corpora.read_anki(spa)


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
    assert files_under(isolated_env) == [isolated_env / SPA]
    assert (isolated_env / SPA).read_bytes() == content

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
    assert sum(load_corpus("spa-eng", data_dir=tmp_path).sizes().values()) == 1


def test_damaged_local_file_raises_checksum_error_naming_file_and_hashes(tmp_path):
    stored = tmp_path / SPA
    stored.parent.mkdir()
    stored.write_bytes(b"Go.\tVe.\n")
    with pytest.raises(ChecksumError) as info:
        fetch(SPA, data_dir=tmp_path)
    message = str(info.value)
    assert str(stored) in message
    assert sha256(b"Go.\tVe.\n") in message and corpora.REGISTRY[SPA].sha256 in message


@pytest.fixture
def shared_data(monkeypatch):
    monkeypatch.setenv("S2S_OFFLINE", "1")  # a missing shared file must fail, not download


@needs_data
def test_real_spa_eng_sizes_and_no_english_crosses_splits(shared_data):
    corpus = load_corpus("spa-eng")
    assert corpus.sizes() == {"train": 114125, "validation": 2443, "test": 2396}
    assert corpus.train.source[0] == "Ve." and corpus.train.target[0] == "Go."
    english = [set(corpus.split(s).target) for s in ("train", "validation", "test")]
    assert not (english[0] & english[1] or english[0] & english[2] or english[1] & english[2])


@needs_data
def test_real_fra_eng_sizes(shared_data):
    corpus = load_corpus("fra-eng")
    assert sum(corpus.sizes().values()) == 167130
    assert corpus.sizes() == {"train": 160302, "validation": 3346, "test": 3482}


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
