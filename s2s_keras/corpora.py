"""Parallel corpora: a registry of files, verified download and cache, parsing and splits.

Introduced in notebook 00 (data and tokenization). `load_corpus(name)` returns a `Corpus`
(train / validation / test) for one translation direction. Every file is looked for, in
order, at an explicit `path`, in `S2S_DATA_DIR` (or `data_dir`), in the cache
(`S2S_CACHE_DIR`, default `~/.cache/s2s-keras`), and only then downloaded from its canonical
URL. Files from the data dir, the cache and the network are checked against the sha256 of
their uncompressed content; downloads are written atomically. `S2S_OFFLINE=1` turns the
download off. Multi30k keeps its official splits.

The Anki corpora (Spanish, French, Mandarin, each paired with English) have no official
split. Every sentence pair is an edge between its two sentences; the connected components
of that graph, over all Anki corpora together, are split by the hash of their smallest
English sentence (`component_splits`). So no sentence, of any language, occurs in two
splits of any Anki corpus, and one English sentence lands in the same split in every
corpus. `split_leakage` measures what simpler rules leak; `leaked_pairs` lists the pairs.

References:
    - Tatoeba sentence pairs (tatoeba.org), packaged by www.manythings.org/anki
      (CC BY 2.0 FR).
    - Elliott, Frank, Sima'an, Specia (2016), "Multi30K: Multilingual English-German
      Image Descriptions".
    - TensorFlow tutorial "Neural machine translation with attention" (`spa-eng.zip`);
      d2l.ai, "Machine Translation and the Dataset" (`fra-eng.zip`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import http.client
import itertools
import json
import os
import random
import urllib.request
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from tqdm.auto import tqdm

from s2s_keras import atomic
from s2s_keras.errors import ChecksumError, CorpusFormatError, DataNotFoundError, S2SError
from s2s_keras.types import Corpus, ParallelText, split_name

_CHUNK = 1 << 20
_TIMEOUT_S = 60
# Errors that mean "this gzip/zip stream is broken" rather than "the disk failed".
_BAD_ARCHIVE = (zipfile.BadZipFile, gzip.BadGzipFile, EOFError, zlib.error)


class UnknownCorpusError(S2SError, ValueError):
    """A corpus (or corpus file) name that is not in the registry."""


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One corpus file: where it lives in the data-dir layout and where it comes from.

    Args:
        relpath: path in the data-dir layout, e.g. `"anki-spa-eng/spa.txt"`.
        url: canonical download URL.
        sha256: hex sha256 of the uncompressed file content; every copy we read is checked.
        member: name of the file inside the zip archive served at `url`; `None` when `url`
            serves the file itself.
        gzipped: whether `url` serves the file gzip-compressed.
        archive_sha256: hex sha256 of the bytes `url` serves, where a trustworthy one is
            known; `None` to check the content only.
    """

    relpath: str
    url: str
    sha256: str
    member: str | None = None
    gzipped: bool = False
    archive_sha256: str | None = None


_MULTI30K_URL = "https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/{}.gz"
# sha256 of the uncompressed content and of the .gz as committed upstream (PROVENANCE.md).
_MULTI30K_SHA256 = {
    "train.de": "2c2b73fd2b548fbcde3a875e0a78d6ee94d498bfdee6bd3eae3945779e9ddf72",
    "train.en": "460a15fbd157e34a7a9957ee388c1ca247fe47af3ef25fb50442af6c274e0fc6",
    "train.fr": "5925a3c18f1587b6b54b87743106e6e8ab93618edb6f65d19eac0621f853a10d",
    "val.de": "660e09eb7e1da2f856ea13ee5ad3cf6d36b3d5b0b733c857e94c5747a3dfc660",
    "val.en": "1f2a23d992769b5b3d209b0a10dd0b77c08cceb1f20dfb97ed0aafa49d107227",
    "val.fr": "5304e444d842e962b2dda4d816b70b22a1765b15401642b7ca37a67477e708dc",
    "test_2016_flickr.de": "4be6b5b3236b79c25475c6bb829800a7ce559e9ba7a1f6c2394fe4d40be46d16",
    "test_2016_flickr.en": "399a4382932c1aadd3ceb9bef1008d388a64c76d4ae4e9d4728c6f4301cac182",
    "test_2016_flickr.fr": "cb3160d69b002bb638e66cc7612fcd56cb0af82eadc9c142dedc438afb885ef6",
}
_MULTI30K_GZ_SHA256 = {
    "train.de": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    "train.en": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    "train.fr": "622e75069e9f4c577425c4f277116ce66e63a2401c0a2312d90073cb12379a3c",
    "val.de": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    "val.en": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    "val.fr": "ca3106f1a72390591d25f6c45cb4cd39dec4cd3f123e099748a3ce5256c160e9",
    "test_2016_flickr.de": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
    "test_2016_flickr.en": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
    "test_2016_flickr.fr": "6d326e188d259fb1d04ac19eae3af956559b3a0b93d7635e56c90987c40c8b90",
}

REGISTRY: dict[str, RemoteFile] = {
    f.relpath: f
    for f in (
        RemoteFile(
            "anki-spa-eng/spa.txt",
            "http://storage.googleapis.com/download.tensorflow.org/data/spa-eng.zip",
            "6ec60e212f812ee3430f7568ea6f33b6fb080e32193c5952e8da0ee8ba45574c",
            member="spa-eng/spa.txt",
            archive_sha256="0c4fd7825d3d872488d38c157f784e035edab4f2ff0df25a2a208790ecb5b58f",
        ),
        # No sha256 of d2l's zip could be confirmed (d2l states only a SHA-1, and the copies
        # found were re-zipped), so only the extracted fra.txt is checked.
        RemoteFile(
            "anki-fra-eng/fra.txt",
            "http://d2l-data.s3-accelerate.amazonaws.com/fra-eng.zip",
            "0bb85dbaa1c896844649094d7eaf2e34bee34e84fe362b26ce7e8f2e12aae104",
            member="fra-eng/fra.txt",
        ),
        # manythings.org/anki changes cmn-eng.zip with every export: this is the May 2022
        # export's cmn.txt at a fixed commit, served as the plain file.
        RemoteFile(
            "anki-cmn-eng/cmn.txt",
            "https://raw.githubusercontent.com/13luoyu/Transformer-machine-translation/"
            "b172d4aa468126c16f51dbf75797aaff77cf787e/cmn.txt",
            "aa264a2447b26ab7c9d413f8321f9e2a779fd134b5118306b6e26a3499b3926e",
        ),
        *(
            RemoteFile(
                f"multi30k/{n}",
                _MULTI30K_URL.format(n),
                sha,
                gzipped=True,
                archive_sha256=_MULTI30K_GZ_SHA256[n],
            )
            for n, sha in _MULTI30K_SHA256.items()
        ),
    )
}

# name: (relpath, source_lang, target_lang, english_side)
_ANKI = {
    "spa-eng": ("anki-spa-eng/spa.txt", "es", "en", 1),
    "eng-spa": ("anki-spa-eng/spa.txt", "en", "es", 0),
    "fra-eng": ("anki-fra-eng/fra.txt", "fr", "en", 1),
    "eng-fra": ("anki-fra-eng/fra.txt", "en", "fr", 0),
    "cmn-eng": ("anki-cmn-eng/cmn.txt", "zh", "en", 1),
    "eng-cmn": ("anki-cmn-eng/cmn.txt", "en", "zh", 0),
}
# Every Anki file, named by its X→English corpus: the split of each is computed over all.
ANKI_FILES: dict[str, str] = {
    name: relpath for name, (relpath, _, _, side) in _ANKI.items() if side == 1
}
SPLIT_RULES: tuple[str, ...] = ("random", "english", "component")
_MULTI30K_SPLITS = {"train": "train", "validation": "val", "test": "test_2016_flickr"}
# Several directions in one corpus (`s2s_keras.multilingual`), languages "mul".
MULTILINGUAL_CORPORA = ("tatoeba-multi", "toy-multi")
CORPORA: tuple[str, ...] = (
    "toy",
    *_ANKI,
    *(f"multi30k-{s}-{t}" for s, t in itertools.permutations(("de", "en", "fr"), 2)),
    *MULTILINGUAL_CORPORA,
)

# (resolved path, size, mtime_ns, expected sha256) of local files that passed the check.
_VERIFIED: set[tuple[str, int, int, str]] = set()


def corpus_languages(name: str) -> tuple[str, str]:
    """`(source_lang, target_lang)` of a corpus name, without loading anything.

    Raises:
        UnknownCorpusError: `name` is not in `CORPORA`.
    """
    if name == "toy":
        return ("en", "es")
    if name in _ANKI:
        return _ANKI[name][1], _ANKI[name][2]
    if name in MULTILINGUAL_CORPORA:
        return ("mul", "mul")
    if name in CORPORA:
        _, source_lang, target_lang = name.split("-")
        return source_lang, target_lang
    raise UnknownCorpusError(f"unknown corpus {name!r}; expected one of: {', '.join(CORPORA)}")


def load_corpus(
    name: str, *, data_dir: str | os.PathLike | None = None, path: str | os.PathLike | None = None
) -> Corpus:
    """Load a parallel corpus in one direction, split into train / validation / test.

    The split of an Anki corpus is computed over all of `ANKI_FILES` (`component_splits`),
    so loading one needs the others too, found the same way. The result depends only on
    the registered files, whose sha256 every copy is checked against: it is cached in the
    cache folder, after which only the corpus's own file is read. An explicit file in
    `path` is split on its own.

    Args:
        name: one of `CORPORA`, e.g. `"spa-eng"` (Spanish → English) or `"multi30k-de-en"`;
            `"tatoeba-multi"` and `"toy-multi"` are several directions in one corpus
            (`multilingual.MultilingualCorpus`).
        data_dir: folder in the data-dir layout to use instead of `S2S_DATA_DIR`.
        path: explicit location: the corpus file itself (Anki corpora) or a folder in the
            data-dir layout. It is used as given, without a checksum, so that newer exports
            work; nothing else is tried.

    Returns:
        A `Corpus` named `name`, with ISO 639-1 language codes (`es`, `en`, `fr`, `de`, `zh`;
        `mul` for a multilingual corpus).

    Raises:
        UnknownCorpusError: `name` is not in `CORPORA`.
        DataNotFoundError: a file is missing and cannot be downloaded.
        ChecksumError: a file does not have the registered sha256.
        CorpusFormatError: a file has a line that cannot be parsed.
    """
    if name == "toy":
        from s2s_keras.toy import make_toy_corpus

        return make_toy_corpus()
    if name in MULTILINGUAL_CORPORA:
        from s2s_keras.multilingual import load_multilingual

        return load_multilingual(name, data_dir=data_dir, path=path)
    if name in _ANKI:
        relpath, source_lang, target_lang, english_side = _ANKI[name]
        pairs = read_anki(fetch(relpath, data_dir=data_dir, path=path))
        if path is not None and not Path(path).expanduser().is_dir():
            moved = _moved(component_splits([pairs]))  # an explicit file is split on its own
        else:
            moved = _anki_moved(relpath, pairs, data_dir=data_dir, path=path)
        parts = {split: ([], []) for split in ("train", "validation", "test")}
        for english, other in pairs:
            sources, targets = parts[moved.get(english.strip()) or split_name(english)]
            sources.append(other if english_side else english)
            targets.append(english if english_side else other)
        splits = {k: ParallelText(tuple(s), tuple(t)) for k, (s, t) in parts.items()}
        return Corpus(name, source_lang, target_lang, **splits)
    source_lang, target_lang = corpus_languages(name)
    if path is not None and not Path(path).is_dir():
        raise DataNotFoundError(f"{name} needs a folder in the data-dir layout, got path={path}")
    splits = {
        split: read_aligned(
            *(
                fetch(f"multi30k/{stem}.{lang}", data_dir=data_dir, path=path)
                for lang in (source_lang, target_lang)
            )
        )
        for split, stem in _MULTI30K_SPLITS.items()
    }
    return Corpus(name, source_lang, target_lang, **splits)


def anki_pairs(
    *, data_dir: str | os.PathLike | None = None, path: str | os.PathLike | None = None
) -> dict[str, list[tuple[str, str]]]:
    """The `(english, other)` pairs of every Anki file, found as `fetch` finds them.

    Args:
        data_dir: folder to use instead of `S2S_DATA_DIR`.
        path: a folder in the data-dir layout, used without checksums and without fallback.

    Returns:
        `{corpus: pairs}` for the corpora of `ANKI_FILES` (`"spa-eng"`, …), in file order.
    """
    return {
        name: read_anki(fetch(relpath, data_dir=data_dir, path=path))
        for name, relpath in ANKI_FILES.items()
    }


def component_splits(pair_lists: Iterable[Sequence[tuple[str, str]]]) -> dict[str, str]:
    """The split of every English sentence when pairs are split by connected component.

    Every distinct sentence (whitespace-stripped, whatever its language) is a node and every
    pair an edge between its two sentences; each connected component goes to the split of
    its smallest English sentence (`types.split_name`, 2 % test, 2 % validation, 96 %
    train). Splitting by English side alone lets a sentence with two English translations
    (`"Je t'aime."`: "I love you." and "I love thee.") fall into two splits; grouping whole
    components means no sentence of any side crosses splits. A component that holds a
    single English sentence keeps that sentence's split.

    Args:
        pair_lists: `(english, other)` pairs of one or more corpora (`read_anki`). Put all
            corpora together: a sentence shared by two corpora joins their components.

    Returns:
        `{english.strip(): split}` for every English sentence of the pairs.

    Example:
        >>> splits = component_splits([[("I love you.", "Te quiero."),
        ...                             ("I love thee.", "Te quiero.")]])
        >>> splits["I love you."] == splits["I love thee."]
        True
    """
    index: dict[str, int] = {}
    parent: list[int] = []

    def node(sentence: str) -> int:
        i = index.setdefault(sentence.strip(), len(parent))
        if i == len(parent):
            parent.append(i)
        return i

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]  # path halving keeps the trees shallow
            i = parent[i]
        return i

    english: set[str] = set()
    for pairs in pair_lists:
        for en, other in pairs:
            a, b = root(node(en)), root(node(other))
            parent[a] = b
            english.add(en.strip())
    smallest: dict[int, str] = {}
    for en in english:
        r = root(index[en])
        if r not in smallest or en < smallest[r]:
            smallest[r] = en
    return {en: split_name(smallest[root(index[en])]) for en in english}


def split_leakage(
    pairs_by_corpus: Mapping[str, Sequence[tuple[str, str]]], rule: str, *, seed: int = 0
) -> list[dict]:
    """How many test pairs share a sentence with a training split, under one split rule.

    The rules, each with 2 % test, 2 % validation and 96 % train:

    - `"random"`: every pair on its own (seeded), as a generic `train_test_split` would;
    - `"english"`: by the hash of the English side (alternative translations of one English
      sentence stay together, but one Spanish sentence with two English translations can
      be in test and in train);
    - `"component"`: by connected component over all the corpora given
      (`component_splits`), the rule `load_corpus` uses.

    Args:
        pairs_by_corpus: `{corpus: (english, other) pairs}`, e.g. `anki_pairs()`.
        rule: one of `SPLIT_RULES`.
        seed: seed of the `"random"` rule. Defaults to 0.

    Returns:
        One row per corpus: `{"corpus", "rule", "test": test pairs, "english_seen": test
        pairs whose English sentence occurs in a training split, "other_seen": the same for
        the other side, "either_seen": pairs with at least one side seen}`. A sentence is
        seen when it occurs (stripped) in the training split of any of the corpora given,
        on either side.

    Raises:
        ValueError: `rule` is not one of `SPLIT_RULES`.
    """
    split_of = _rule_splits(pairs_by_corpus, rule, seed)
    trained = {
        sentence.strip()
        for name, pairs in pairs_by_corpus.items()
        for pair, split in zip(pairs, split_of[name], strict=True)
        if split == "train"
        for sentence in pair
    }
    rows = []
    for name, pairs in pairs_by_corpus.items():
        test = [pair for pair, split in zip(pairs, split_of[name], strict=True) if split == "test"]
        seen = [(en.strip() in trained, other.strip() in trained) for en, other in test]
        rows.append(
            {
                "corpus": name,
                "rule": rule,
                "test": len(test),
                "english_seen": sum(e for e, _ in seen),
                "other_seen": sum(o for _, o in seen),
                "either_seen": sum(e or o for e, o in seen),
            }
        )
    return rows


LEAK_SIDES: tuple[str, ...] = ("english", "other", "either")


def leaked_pairs(
    pairs_by_corpus: Mapping[str, Sequence[tuple[str, str]]],
    rule: str,
    corpus: str,
    *,
    side: str = "other",
    seed: int = 0,
) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """The test pairs behind `split_leakage`'s counts, each with a training pair it leaks from.

    A test pair of `corpus` leaks when its `side` sentence occurs (stripped) in the
    training split of any of the corpora given, on either side of a pair; there are as
    many as `split_leakage` counts in `"{side}_seen"` for `corpus`.

    Args:
        pairs_by_corpus: `{corpus: (english, other) pairs}`, e.g. `anki_pairs()`.
        rule: one of `SPLIT_RULES`, as in `split_leakage`.
        corpus: the corpus whose test pairs are listed, a key of `pairs_by_corpus`.
        side: `"english"`, `"other"` or `"either"` (`LEAK_SIDES`). Defaults to `"other"`.
        seed: seed of the `"random"` rule. Defaults to 0.

    Returns:
        `(test_pair, training_pair)` in the order of `corpus`'s pairs; `training_pair` is
        the first training pair holding the leaked sentence, searched in `corpus` first,
        then in the other corpora in order (the English side's match first for `"either"`).

    Example:
        >>> pairs = {"spa-eng": [("English 0.", "Uno."), ("English 68.", "Uno.")]}
        >>> leaked_pairs(pairs, "english", "spa-eng")
        [(('English 68.', 'Uno.'), ('English 0.', 'Uno.'))]

    Raises:
        ValueError: an unknown `rule`, `side` or `corpus`.
    """
    if side not in LEAK_SIDES:
        raise ValueError(f"unknown side {side!r}; expected one of: {', '.join(LEAK_SIDES)}")
    if corpus not in pairs_by_corpus:
        raise ValueError(f"corpus {corpus!r} is not one of {', '.join(pairs_by_corpus) or 'none'}")
    split_of = _rule_splits(pairs_by_corpus, rule, seed)
    holder: dict[str, tuple[str, str]] = {}
    for name in (corpus, *(n for n in pairs_by_corpus if n != corpus)):
        for pair, split in zip(pairs_by_corpus[name], split_of[name], strict=True):
            if split == "train":
                for sentence in pair:
                    holder.setdefault(sentence.strip(), pair)
    leaks = []
    for pair, split in zip(pairs_by_corpus[corpus], split_of[corpus], strict=True):
        if split != "test":
            continue
        looked_at = {"english": pair[:1], "other": pair[1:], "either": pair}[side]
        found = next((holder[s.strip()] for s in looked_at if s.strip() in holder), None)
        if found is not None:
            leaks.append((pair, found))
    return leaks


def _rule_splits(
    pairs_by_corpus: Mapping[str, Sequence[tuple[str, str]]], rule: str, seed: int
) -> dict[str, list[str]]:
    """`{corpus: the split of each of its pairs}` under one of `SPLIT_RULES`."""
    if rule not in SPLIT_RULES:
        raise ValueError(f"unknown split rule {rule!r}; expected one of: {', '.join(SPLIT_RULES)}")
    if rule == "component":
        splits = component_splits(pairs_by_corpus.values())
        split_of = {
            name: [splits[en.strip()] for en, _ in pairs] for name, pairs in pairs_by_corpus.items()
        }
    elif rule == "english":
        split_of = {
            name: [split_name(en) for en, _ in pairs] for name, pairs in pairs_by_corpus.items()
        }
    else:
        rng = random.Random(seed)
        split_of = {
            name: [_split_of_bucket(rng.randrange(100)) for _ in pairs]
            for name, pairs in pairs_by_corpus.items()
        }
    return split_of


def fetch(
    relpath: str,
    *,
    data_dir: str | os.PathLike | None = None,
    path: str | os.PathLike | None = None,
) -> Path:
    """A readable local copy of a registered corpus file, finding or downloading it.

    Looks at `path` (a file, or a folder in the data-dir layout), else `data_dir` (default:
    `S2S_DATA_DIR`), then the cache, for `relpath` or `relpath + ".gz"`; downloads into the
    cache as a last resort. Copies from the data dir and the cache are verified.

    Args:
        relpath: a key of `REGISTRY`, e.g. `"multi30k/train.de"`.
        data_dir: folder to use instead of `S2S_DATA_DIR`.
        path: explicit file or folder; used without a checksum and without fallback.

    Returns:
        Path of the file, plain or gzip-compressed (`.gz`); read it with `open_text`.

    Raises:
        UnknownCorpusError: `relpath` is not in `REGISTRY`.
        DataNotFoundError: not found locally and the download failed or is off.
        ChecksumError: a local or downloaded copy has the wrong sha256.
    """
    if relpath not in REGISTRY:
        raise UnknownCorpusError(
            f"unknown corpus file {relpath!r}; expected one of: {', '.join(REGISTRY)}"
        )
    remote = REGISTRY[relpath]
    if path is not None:
        path = Path(path).expanduser()
        found = _find(path, relpath) if path.is_dir() else path if path.is_file() else None
        if found is None:
            raise DataNotFoundError(
                f"{relpath} not found at the given path {path}: pass the file itself or a "
                f"folder in the data-dir layout (e.g. {path / relpath})"
            )
        return found
    data_dir = data_dir if data_dir is not None else os.environ.get("S2S_DATA_DIR") or None
    for root in ([Path(data_dir).expanduser()] if data_dir else []) + [cache_dir()]:
        found = _find(root, relpath)
        if found is not None:
            _verify(found, remote.sha256)
            return found
    return _download(remote, data_dir)


def cache_dir() -> Path:
    """The cache folder: `S2S_CACHE_DIR`, default `~/.cache/s2s-keras`."""
    return Path(os.environ.get("S2S_CACHE_DIR") or "~/.cache/s2s-keras").expanduser()


def open_text(path: str | os.PathLike) -> Iterator[str]:
    """Yield the lines of a UTF-8 text file, plain or gzip-compressed (`.gz`).

    Lines come without their line ending, the first without a byte-order mark (the
    Mandarin Anki file starts with one). The file is closed when the iteration ends.

    Args:
        path: the file.

    Raises:
        CorpusFormatError: a line is not valid UTF-8 (the message names file and line), or a
            `.gz` file is corrupt.
    """
    path = Path(path)
    try:
        with _open_binary(path, path.suffix == ".gz") as f:
            for lineno, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise CorpusFormatError(
                        f"{path}, line {lineno}: invalid UTF-8 ({e.reason} at byte {e.start})"
                    ) from None
                line = line.rstrip("\r\n")
                yield line.removeprefix("\ufeff") if lineno == 1 else line
    except _BAD_ARCHIVE as e:
        raise CorpusFormatError(f"{path}: corrupt gzip file ({e})") from e


def read_anki(path: str | os.PathLike) -> list[tuple[str, str]]:
    """Read an Anki / manythings.org file of `English<TAB>Other[<TAB>attribution]` lines.

    Args:
        path: the file, plain or `.gz`.

    Returns:
        `(english, other)` pairs in file order, text unchanged; columns after the second
        (newer exports add an attribution) are ignored, and so are empty lines at the end
        of the file (the Mandarin file ends with one).

    Raises:
        CorpusFormatError: a line has fewer than two columns, an empty field or bad UTF-8,
            or an empty line is followed by more pairs.
    """

    def bad(lineno, line):
        return CorpusFormatError(
            f"{path}, line {lineno}: expected 'English<TAB>translation' with both fields "
            f"non-empty, got {line[:80]!r}"
        )

    pairs = []
    empty = None  # the first empty line since the last pair
    for lineno, line in enumerate(open_text(path), 1):
        if not line:
            empty = empty or lineno
            continue
        if empty:
            raise bad(empty, "")
        fields = line.split("\t")
        if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
            raise bad(lineno, line)
        pairs.append((fields[0], fields[1]))
    return pairs


def read_aligned(source_path: str | os.PathLike, target_path: str | os.PathLike) -> ParallelText:
    """Read two line-aligned files (line i of one translates line i of the other).

    Raises:
        CorpusFormatError: the files have different line counts, or bad UTF-8.
    """
    source, target = tuple(open_text(source_path)), tuple(open_text(target_path))
    if len(source) != len(target):
        raise CorpusFormatError(
            f"{source_path} has {len(source)} lines but {target_path} has {len(target)}; "
            f"line-aligned files must have equal line counts"
        )
    return ParallelText(source, target)


def _split_of_bucket(k: int) -> str:
    return "test" if k < 2 else "validation" if k < 4 else "train"


def _moved(splits: dict[str, str]) -> dict[str, str]:
    """The English sentences whose component moves them out of their own hash's split."""
    return {en: split for en, split in splits.items() if split != split_name(en)}


# {sha256 of the registered Anki files: moved English sentences} of this process.
_MOVED: dict[str, dict[str, str]] = {}


def _anki_moved(relpath, pairs, *, data_dir, path) -> dict[str, str]:
    """`_moved(component_splits(...))` over every Anki file, cached where the files are verified.

    The files of `data_dir`, the cache and the network all carry the registered sha256, so
    the result depends on the registry alone: it is kept in the cache folder under the hash
    of those sha256s and reused without reading the other files again.
    """
    files = {rp: REGISTRY[rp].sha256 for rp in sorted(ANKI_FILES.values())}

    def compute():
        others = (
            read_anki(fetch(rp, data_dir=data_dir, path=path)) for rp in files if rp != relpath
        )
        return _moved(component_splits([pairs, *others]))

    if path is not None:  # unverified files: nothing to key a cache on
        return compute()
    key = hashlib.sha256(json.dumps(files).encode()).hexdigest()
    if key in _MOVED:
        return _MOVED[key]
    cached = cache_dir() / "anki-splits" / f"{key[:16]}.json"
    try:
        saved = json.loads(cached.read_text(encoding="utf-8"))
        if saved["files"] != files or not isinstance(saved["moved"], dict):
            raise ValueError("another registry")
        moved = saved["moved"]
    except (OSError, ValueError, KeyError, TypeError):  # absent or unreadable: compute it
        moved = compute()
        with contextlib.suppress(OSError):  # a read-only cache only costs time
            _write_atomically(cached, json.dumps({"files": files, "moved": moved}, indent=0))
    _MOVED[key] = moved
    return moved


def _write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file, so no reader sees half of it."""
    with atomic.replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _open_binary(path: Path, gzipped: bool):
    return gzip.open(path) if gzipped else open(path, "rb")  # noqa: SIM115 (callers close)


def _find(root: Path, relpath: str) -> Path | None:
    for candidate in (root / relpath, root / f"{relpath}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _copy_hashing(src, out, bar=None) -> str:
    digest = hashlib.sha256()
    while chunk := src.read(_CHUNK):
        digest.update(chunk)
        if out is not None:
            out.write(chunk)
        if bar is not None:
            bar.update(len(chunk))
    return digest.hexdigest()


def _memo_key(path: Path, expected: str) -> tuple[str, int, int, str]:
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns, expected


def _verify(path: Path, expected: str) -> None:
    key = _memo_key(path, expected)
    if key in _VERIFIED:
        return
    advice = "replace it with the canonical file, or delete it to download again"
    try:
        with _open_binary(path, path.suffix == ".gz") as f:
            actual = _copy_hashing(f, None)
    except _BAD_ARCHIVE as e:
        raise ChecksumError(f"{path} is not a valid gzip file ({e}); {advice}") from e
    if actual != expected:
        raise ChecksumError(
            f"{path} has sha256 {actual}, expected {expected}: it is damaged or another "
            f"version; {advice}"
        )
    _VERIFIED.add(key)


def _offline() -> bool:
    return os.environ.get("S2S_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _not_found(remote: RemoteFile, data_dir, reason: str) -> DataNotFoundError:
    where = Path(data_dir).expanduser() if data_dir else Path("$S2S_DATA_DIR")
    reason = " ".join(reason.split())  # the message must stay on one line
    return DataNotFoundError(
        f"corpus file {remote.relpath} is not available: {reason}; looked for "
        f"{where / remote.relpath} (or .gz) and {cache_dir() / remote.relpath}; set "
        f"S2S_DATA_DIR to a folder with that layout (see data/README.md) or go online"
    )


def _download(remote: RemoteFile, data_dir) -> Path:
    if _offline():
        raise _not_found(remote, data_dir, f"S2S_OFFLINE is set, so {remote.url} was not tried")
    dest = cache_dir() / remote.relpath
    # Everything is written inside a private folder next to `dest`, so one `with` removes
    # every partial file on any error (KeyboardInterrupt included; a killed download's
    # folder goes with the next download) and the final rename is atomic.
    with atomic.scratch(dest) as tmp:
        raw, content = tmp / "download", tmp / "content"
        try:
            with (
                urllib.request.urlopen(remote.url, timeout=_TIMEOUT_S) as response,
                open(raw, "wb") as out,
                tqdm(
                    total=int(response.headers.get("Content-Length") or 0) or None,
                    unit="B",
                    unit_scale=True,
                    desc=remote.relpath,
                ) as bar,
            ):
                archive_sha256 = _copy_hashing(response, out, bar)
        except (OSError, http.client.HTTPException) as e:
            raise _not_found(remote, data_dir, f"download of {remote.url} failed ({e})") from e
        if remote.archive_sha256 and archive_sha256 != remote.archive_sha256:
            raise ChecksumError(
                f"{remote.url} served sha256 {archive_sha256}, expected "
                f"{remote.archive_sha256}; nothing was saved"
            )
        try:
            with contextlib.ExitStack() as stack:
                if remote.member:
                    archive = stack.enter_context(zipfile.ZipFile(raw))
                    src = stack.enter_context(archive.open(remote.member))
                else:
                    src = stack.enter_context(_open_binary(raw, remote.gzipped))
                actual = _copy_hashing(src, stack.enter_context(open(content, "wb")))
        except (*_BAD_ARCHIVE, KeyError) as e:  # KeyError: the zip lacks `member`
            raise ChecksumError(
                f"{remote.url} is not a valid archive ({e!r}); nothing was saved"
            ) from e
        if actual != remote.sha256:
            raise ChecksumError(
                f"{remote.relpath} from {remote.url} has sha256 {actual}, expected "
                f"{remote.sha256}; nothing was saved"
            )
        atomic.replace(content, dest)
    _VERIFIED.add(_memo_key(dest, remote.sha256))
    return dest
