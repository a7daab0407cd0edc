"""Looking into a model's outputs: loops, the worst quarter, retrieval misses, significance.

The metrics live in `s2s_keras.evaluation`; this module holds the error analyses the
notebooks run on top of them (notebook 01: `retrieval_misses`; 06 and 07: `has_loop`
and `loop_count`; 06: `has_accent`, `is_single_character_piece` and `loop_profile`; 07:
`quartile_profile` and `bootstrap_against`), so that a notebook only calls them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

import numpy as np

from s2s_keras import evaluation

# A character written five times in a row ("mmmmm"): no English or Spanish word does that.
_CHARACTER_RUN = re.compile(r"(\w)\1{4,}")


def has_loop(text: str, *, max_ngram: int = 3, repeats: int = 3) -> bool:
    """Whether a translation is stuck in a loop, the way a decoder degenerates.

    Two patterns count: one letter or digit five or more times in a row (`"mmmmm"`, which
    a decoder that emits single-character pieces produces), and a word n-gram of at most
    `max_ngram` words repeated `repeats` or more times back to back (`"and and and"`,
    `"of the of the of the"`). Words are compared lower-cased, punctuation apart.

    Args:
        text: one detokenized translation.
        max_ngram: the longest repeated word sequence looked for. Defaults to 3.
        repeats: how many back-to-back copies make a loop (>= 2). Defaults to 3.

    Example:
        >>> has_loop("I'm m m mmmmmmm"), has_loop("and and and so on"), has_loop("Go go!")
        (True, True, False)
    """
    if repeats < 2 or max_ngram < 1:
        raise ValueError(f"need repeats >= 2 and max_ngram >= 1, got {repeats!r}, {max_ngram!r}")
    if _CHARACTER_RUN.search(text):
        return True
    words = re.findall(r"\w+(?:'\w+)?", text.lower())
    for n in range(1, max_ngram + 1):
        for start in range(len(words) - n * repeats + 1):
            gram = words[start : start + n]
            if all(words[start + k * n : start + (k + 1) * n] == gram for k in range(1, repeats)):
                return True
    return False


def loop_count(translations: Sequence[str], **kwargs) -> int:
    """How many of `translations` loop (`has_loop`; keyword arguments go to it)."""
    return sum(has_loop(t, **kwargs) for t in translations)


def has_accent(text: str) -> bool:
    """Whether `text` has a letter with a diacritic ("é", "ñ", "ü"): a character that
    Unicode NFKD decomposes into a base letter and a combining mark.

    `text.standardize` applies NFKD, so these are the sentences whose standardized form
    carries a combining mark (`"qué"` becomes `"que"` + U+0301).

    Example:
        >>> has_accent("¿Qué hora es?"), has_accent("Mañana"), has_accent("Hola, Tom.")
        (True, True, False)
    """
    return any(unicodedata.combining(c) for c in unicodedata.normalize("NFKD", text))


def is_single_character_piece(piece: str) -> bool:
    """Whether a WordPiece token continues a word by one character: `"##"` followed by
    one character and any combining marks on it (`"##p"`, `"##e\u0301"`), or by a bare
    combining mark (`"##\u0301"`, an accent that NFKD split from its letter).

    Example:
        >>> [is_single_character_piece(p) for p in ("##p", "##e\u0301", "##\u0301", "##ing", "p")]
        [True, True, True, False, False]
    """
    if not piece.startswith("##") or len(piece) == 2:
        return False
    return sum(not unicodedata.combining(c) for c in piece[2:]) <= 1


def loop_profile(
    sources: Sequence[str],
    outputs: Sequence[str],
    output_pieces: Sequence[Sequence[str]],
    **kwargs,
) -> dict[str, dict]:
    """What sets the looping translations apart from the others.

    The outputs are split by `has_loop` (keyword arguments go to it) into `"looping"`
    and `"other"`; for each group: how many sentences, the mean source length in words,
    the share of sources with an accented letter (`has_accent`), and the share of
    outputs with at least one single-character continuation piece
    (`is_single_character_piece`), the pieces a WordPiece decoder spells a rare word
    with.

    Args:
        sources: the raw source sentences.
        outputs: their detokenized translations, aligned with `sources`.
        output_pieces: the WordPiece tokens of each output (e.g. the target tokenizer's
            `lookup(tokenize(outputs))`), aligned with `outputs`.

    Returns:
        `{"looping": row, "other": row}`, each row `{"sentences": n, "source_words": mean,
        "accented": share, "single_character_pieces": share}` (`nan` for an empty group).

    Example:
        >>> loop_profile(["sí sí", "no"], ["mmmmm", "no"], [["m", "##m"], ["no"]])["looping"]
        {'sentences': 1, 'source_words': 2.0, 'accented': 1.0, 'single_character_pieces': 1.0}
    """
    if not len(sources) == len(outputs) == len(output_pieces):
        raise ValueError(
            f"got {len(sources)} sources, {len(outputs)} outputs and {len(output_pieces)} "
            "lists of output pieces; they must be aligned"
        )
    looping = np.array([has_loop(t, **kwargs) for t in outputs], dtype=bool)
    features = {
        "source_words": np.array([len(s.split()) for s in sources], dtype=float),
        "accented": np.array([has_accent(s) for s in sources], dtype=float),
        "single_character_pieces": np.array(
            [any(is_single_character_piece(p) for p in pieces) for pieces in output_pieces],
            dtype=float,
        ),
    }
    profile = {}
    for group, chosen in (("looping", looping), ("other", ~looping)):
        row: dict = {"sentences": int(chosen.sum())}
        for name, values in features.items():
            row[name] = float(values[chosen].mean()) if chosen.any() else float("nan")
        profile[group] = row
    return profile


def quartile_profile(scores: Sequence[float], features: Mapping[str, Sequence[float]]) -> dict:
    """Means of per-sentence features in the worst-scoring quarter and in the rest.

    Which sentences does a model get wrong? Sort the test sentences by a sentence-level
    score (e.g. `evaluation.sentence_chrf`); the worst quarter is every sentence at or
    below the 25th percentile. A feature is a number per sentence (its source length) or
    a flag (it has an unknown word, its output loops: the mean is then a share).

    Args:
        scores: one score per sentence, higher is better.
        features: name → one value per sentence, aligned with `scores`.

    Returns:
        name → `{"worst": mean over the worst quarter, "rest": mean over the others}`,
        plus `"sentences": {"worst": n, "rest": m}`.

    Example:
        >>> quartile_profile([10, 80, 90, 70], {"long": [1, 0, 0, 0]})["long"]
        {'worst': 1.0, 'rest': 0.0}
    """
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 1 or not len(scores):
        raise ValueError("scores must be a non-empty list of numbers")
    worst = scores <= np.quantile(scores, 0.25)
    profile: dict = {"sentences": {"worst": int(worst.sum()), "rest": int((~worst).sum())}}
    for name, values in features.items():
        values = np.asarray(values, dtype=float)
        if values.shape != scores.shape:
            raise ValueError(f"feature {name!r} has {len(values)} values for {len(scores)} scores")
        rest = values[~worst]
        profile[name] = {
            "worst": float(values[worst].mean()),
            "rest": float(rest.mean()) if len(rest) else float("nan"),
        }
    return profile


def retrieval_misses(
    source_vectors, target_vectors, targets: Sequence[str], sources: Sequence[str] | None = None
) -> list[tuple[int, int]]:
    """The sentences a dual encoder retrieves wrongly, longest source first.

    Source `i` is a miss when the target vector closest to its vector (the largest dot
    product; unit vectors make it the cosine) is a different sentence from its own target
    (compared as text, so an identical duplicate is no miss).

    Args:
        source_vectors: `[N, E]` source embeddings.
        target_vectors: `[N, E]` target embeddings; row `i` is the translation of source `i`.
        targets: the `N` target sentences.
        sources: the `N` source sentences, to order the misses longest first (in words);
            `None` keeps the test order.

    Returns:
        `(i, j)` for every miss: source `i` retrieved target `j`.
    """
    source_vectors = np.asarray(source_vectors)
    target_vectors = np.asarray(target_vectors)
    if source_vectors.shape[0] != target_vectors.shape[0] or len(targets) != len(target_vectors):
        raise ValueError(
            f"got {len(source_vectors)} sources, {len(target_vectors)} target vectors and "
            f"{len(targets)} targets; they must be aligned"
        )
    chunks = [
        np.argmax(source_vectors[i : i + 256] @ target_vectors.T, axis=1)
        for i in range(0, len(source_vectors), 256)
    ]
    best = np.concatenate(chunks) if chunks else np.zeros(0, dtype=int)
    order = range(len(targets))
    if sources is not None:
        order = sorted(order, key=lambda i: -len(sources[i].split()))  # stable: ties in order
    return [(i, int(best[i])) for i in order if targets[int(best[i])] != targets[i]]


def bootstrap_against(
    baseline: str,
    outputs: Mapping[str, Sequence[str]],
    references: Sequence[str],
    *,
    target_lang: str | None = None,
    samples: int = 1000,
) -> dict[str, dict]:
    """Every system against one baseline, with sacrebleu's paired bootstrap.

    Args:
        baseline: the name, in `outputs`, of the system the others are compared with
            (e.g. the best one).
        outputs: name → detokenized outputs, aligned with `references`.
        references: the raw reference lines.
        target_lang: language of the outputs (`evaluation.corpus_scores`).
        samples: bootstrap resamples. Defaults to 1000.

    Returns:
        name → `evaluation.paired_bootstrap`'s result for that system against the baseline,
        for every system but the baseline.
    """
    if baseline not in outputs:
        raise ValueError(f"baseline {baseline!r} is not one of {', '.join(outputs)}")
    return {
        name: evaluation.paired_bootstrap(
            outputs[baseline], hypotheses, references, target_lang=target_lang, samples=samples
        )
        for name, hypotheses in outputs.items()
        if name != baseline
    }
