"""Parallel corpora: a registry of files, verified download and cache, parsing and splits.

Introduced in notebook 00 (data and tokenization). `load_corpus(name)` returns a `Corpus`
(train / validation / test) for one translation direction. Every file is looked for, in
order, at an explicit `path`, in `S2S_DATA_DIR` (or `data_dir`), in the cache
(`S2S_CACHE_DIR`, default `~/.cache/s2s-keras`), and only then downloaded from its canonical
URL. Files from the data dir, the cache and the network are checked against the sha256 of
their uncompressed content; downloads are written atomically. `S2S_OFFLINE=1` turns the
download off. The Anki corpora are split by the hash of their English side
(`types.grouped_split`); Multi30k keeps its official splits.

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
import os
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from tqdm.auto import tqdm

from s2s_keras import atomic
from s2s_keras.errors import ChecksumError, CorpusFormatError, DataNotFoundError, S2SError
from s2s_keras.types import Corpus, ParallelText, grouped_split

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
}
_MULTI30K_SPLITS = {"train": "train", "validation": "val", "test": "test_2016_flickr"}
CORPORA: tuple[str, ...] = (
    "toy",
    *_ANKI,
    *(f"multi30k-{s}-{t}" for s, t in itertools.permutations(("de", "en", "fr"), 2)),
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
    if name in CORPORA:
        _, source_lang, target_lang = name.split("-")
        return source_lang, target_lang
    raise UnknownCorpusError(f"unknown corpus {name!r}; expected one of: {', '.join(CORPORA)}")


def load_corpus(
    name: str, *, data_dir: str | os.PathLike | None = None, path: str | os.PathLike | None = None
) -> Corpus:
    """Load a parallel corpus in one direction, split into train / validation / test.

    Args:
        name: one of `CORPORA`, e.g. `"spa-eng"` (Spanish → English) or `"multi30k-de-en"`.
        data_dir: folder in the data-dir layout to use instead of `S2S_DATA_DIR`.
        path: explicit location: the corpus file itself (Anki corpora) or a folder in the
            data-dir layout. It is used as given, without a checksum, so that newer exports
            work; nothing else is tried.

    Returns:
        A `Corpus` named `name`, with ISO 639 language codes (`es`, `en`, `fr`, `de`).

    Raises:
        UnknownCorpusError: `name` is not in `CORPORA`.
        DataNotFoundError: a file is missing and cannot be downloaded.
        ChecksumError: a file does not have the registered sha256.
        CorpusFormatError: a file has a line that cannot be parsed.
    """
    if name == "toy":
        from s2s_keras.toy import make_toy_corpus

        return make_toy_corpus()
    if name in _ANKI:
        relpath, source_lang, target_lang, english_side = _ANKI[name]
        pairs = read_anki(fetch(relpath, data_dir=data_dir, path=path))
        if english_side == 1:
            pairs = [(other, english) for english, other in pairs]
        return grouped_split(
            pairs,
            english_side=english_side,
            name=name,
            source_lang=source_lang,
            target_lang=target_lang,
        )
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

    Lines come without their line ending. The file is closed when the iteration ends.

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
                yield line.rstrip("\r\n")
    except _BAD_ARCHIVE as e:
        raise CorpusFormatError(f"{path}: corrupt gzip file ({e})") from e


def read_anki(path: str | os.PathLike) -> list[tuple[str, str]]:
    """Read an Anki / manythings.org file of `English<TAB>Other[<TAB>attribution]` lines.

    Args:
        path: the file, plain or `.gz`.

    Returns:
        `(english, other)` pairs in file order, text unchanged; columns after the second
        (newer exports add an attribution) are ignored.

    Raises:
        CorpusFormatError: a line has fewer than two columns, an empty field or bad UTF-8.
    """
    pairs = []
    for lineno, line in enumerate(open_text(path), 1):
        fields = line.split("\t")
        if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
            raise CorpusFormatError(
                f"{path}, line {lineno}: expected 'English<TAB>translation' with both fields "
                f"non-empty, got {line[:80]!r}"
            )
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
