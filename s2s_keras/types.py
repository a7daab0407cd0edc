"""Plain data types shared by the corpus loaders, the toy corpus and the pipeline.

Introduced in notebook 00 (data and tokenization).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ParallelText:
    """Line-aligned source and target sentences of one split.

    Args:
        source: source-language sentences, raw corpus text.
        target: target-language sentences, raw corpus text, same length.
    """

    source: tuple[str, ...]
    target: tuple[str, ...]

    def __post_init__(self):
        if len(self.source) != len(self.target):
            raise ValueError(
                f"source and target must have the same number of lines, "
                f"got {len(self.source)} and {len(self.target)}"
            )

    def __len__(self) -> int:
        return len(self.source)

    def take(self, n: int) -> ParallelText:
        """The first `n` pairs (all of them when `n` is larger)."""
        return ParallelText(self.source[:n], self.target[:n])

    def sample(self, n: int, seed: int = 0) -> ParallelText:
        """`n` pairs drawn at random without replacement, in their split order.

        The splits of the Anki corpora are sorted by length, so their first pairs are
        the shortest: a subset for an experiment (notebook 03's beam sweep) must be
        drawn, not taken from the top.

        Args:
            n: how many pairs (all of them, in order, when `n` is larger).
            seed: the same seed draws the same pairs. Defaults to 0.
        """
        import random

        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be an integer >= 0, got {n!r}")
        picked = sorted(random.Random(seed).sample(range(len(self)), min(n, len(self))))
        return ParallelText(
            tuple(self.source[i] for i in picked), tuple(self.target[i] for i in picked)
        )


@dataclass(frozen=True)
class Corpus:
    """A parallel corpus in one translation direction, split three ways.

    Args:
        name: registry name, e.g. `"spa-eng"` (Spanish → English) or `"toy"`.
        source_lang: ISO 639 code of the source side, e.g. `"es"`.
        target_lang: ISO 639 code of the target side, e.g. `"en"`.
        train, validation, test: the splits.
    """

    name: str
    source_lang: str
    target_lang: str
    train: ParallelText
    validation: ParallelText
    test: ParallelText

    def split(self, name: str) -> ParallelText:
        """One split by name: `"train"`, `"validation"` (or `"val"`) or `"test"`."""
        key = {"val": "validation", "valid": "validation", "dev": "validation"}.get(name, name)
        if key not in ("train", "validation", "test"):
            raise ValueError(f"unknown split {name!r}; expected 'train', 'validation' or 'test'")
        return getattr(self, key)

    def sizes(self) -> dict[str, int]:
        return {
            "train": len(self.train),
            "validation": len(self.validation),
            "test": len(self.test),
        }


def split_bucket(english: str) -> int:
    """The 0–99 bucket of an English sentence, stable across runs and machines."""
    return int(hashlib.sha1(english.strip().encode("utf-8")).hexdigest()[:8], 16) % 100


def split_name(english: str) -> str:
    """`"test"` for buckets 0–1, `"validation"` for 2–3, else `"train"`.

    Grouping by the English side keeps every alternative translation of one English
    sentence in the same split, so no test sentence is seen in training.
    """
    k = split_bucket(english)
    return "test" if k < 2 else "validation" if k < 4 else "train"


def grouped_split(
    pairs: Iterable[tuple[str, str]],
    *,
    english_side: int,
    name: str,
    source_lang: str,
    target_lang: str,
) -> Corpus:
    """Split `(source, target)` pairs by the hash of their English side.

    Args:
        pairs: `(source, target)` sentence pairs, in corpus order (kept within each split).
        english_side: 0 if the source is English, 1 if the target is.
        name, source_lang, target_lang: as in `Corpus`.
    """
    if english_side not in (0, 1):
        raise ValueError(f"english_side must be 0 or 1, got {english_side!r}")
    parts: dict[str, tuple[list[str], list[str]]] = {
        "train": ([], []),
        "validation": ([], []),
        "test": ([], []),
    }
    for src, tgt in pairs:
        dst = parts[split_name((src, tgt)[english_side])]
        dst[0].append(src)
        dst[1].append(tgt)
    made = {k: ParallelText(tuple(s), tuple(t)) for k, (s, t) in parts.items()}
    return Corpus(name, source_lang, target_lang, **made)
