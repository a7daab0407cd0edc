"""One model for many language pairs: target-language tokens, sampling, zero-shot sets.

Introduced in notebook 10 (multilingual translation). Johnson et al. (2017) train one
ordinary encoder-decoder on many language pairs at once; the only change is a token at
the start of every source sentence that names the language to translate into
(`"<2fr> I love you."`). A model trained on es↔en and fr↔en can then be asked for
es→fr, a direction it never saw paired ("zero-shot").

- `load_multilingual("tatoeba-multi")`: the Anki corpora spa-eng, fra-eng and cmn-eng in
  both directions (X→en and en→X), every source prefixed with its target's token. They
  share the component split of `corpora.component_splits`, so no sentence of any
  language is in two splits. `"toy-multi"` does the same offline with the first 4,000 pairs
  of the toy corpus and a second synthetic language (below).
- `MultilingualCorpus.directions` keeps the direction (`"es-en"`, ...) of every pair:
  sampling (`sampling_probabilities`, temperature `T`) and per-direction evaluation
  (`MultilingualCorpus.direction`) need it.
- `zero_shot_set`: from the test splits, es→fr and fr→es with every French (Spanish)
  translation of the shared English sentence as a reference.

References:
    - Johnson et al. (2017), "Google's Multilingual Neural Machine Translation System:
      Enabling Zero-Shot Translation".
    - Arivazhagan et al. (2019), "Massively Multilingual Neural Machine Translation in
      the Wild" (temperature sampling, probability ∝ size^(1/T)).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence

from s2s_keras.corpora import MULTILINGUAL_CORPORA
from s2s_keras.errors import S2SError
from s2s_keras.types import Corpus, ParallelText

PIVOT = "en"
# The bilingual corpora (X → English) each multilingual corpus is made of, by language.
_PARTS = {
    "tatoeba-multi": {"es": "spa-eng", "fr": "fra-eng", "zh": "cmn-eng"},
    "toy-multi": {"es": "toy", "fr": "toy"},
}
LANGUAGES: dict[str, tuple[str, ...]] = {
    name: (PIVOT, *sorted(parts)) for name, parts in _PARTS.items()
}
SPLITS = ("train", "validation", "test")
# toy-multi exists for smoke runs: a third of the toy corpus keeps its four directions
# (some 15,000 training pairs) quick to tokenize.
TOY_MULTI_PAIRS = 4000


class UnknownLanguageError(S2SError, ValueError):
    """A target language the multilingual model does not translate into."""


def language_token(language: str) -> str:
    """The token that asks for a translation into `language`: `"fr"` → `"<2fr>"`."""
    return f"<2{language}>"


def add_language_token(sentences: Sequence[str], language: str) -> list[str]:
    """`sentences`, each prefixed with `language_token(language)` and a space.

    A blank sentence stays blank, so that it still translates to `""`.
    """
    token = language_token(language)
    return [f"{token} {s}" if s.strip() else s for s in sentences]


def check_language(language: str | None, languages: Sequence[str]) -> str:
    """`language` if it is one of `languages`, else a one-line `UnknownLanguageError`."""
    if language not in languages:
        got = "no target language" if language is None else f"target language {language!r}"
        raise UnknownLanguageError(
            f"{got}: this multilingual model translates into {', '.join(languages)}; "
            "pass one of them (--target-lang)"
        )
    return language


@dataclasses.dataclass(frozen=True)
class MultilingualCorpus(Corpus):
    """A `Corpus` of several directions, each source prefixed with its target's token.

    `source_lang` and `target_lang` are `"mul"` (ISO 639-2: several languages).

    Args:
        languages: every language of the corpus, the pivot (English) first.
        directions: `{split: ("es-en", "en-es", ...)}`, the direction of every pair of
            that split, aligned with its sentences.
    """

    languages: tuple[str, ...] = ()
    directions: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    def direction(self, split: str, source_lang: str, target_lang: str) -> ParallelText:
        """The pairs of one split in one direction (sources keep their token).

        Raises:
            UnknownLanguageError: the corpus has no such direction.
        """
        name = f"{source_lang}-{target_lang}"
        if name not in self.direction_names():
            raise UnknownLanguageError(
                f"{self.name} has no direction {source_lang}→{target_lang}; it has "
                f"{', '.join(d.replace('-', '→') for d in self.direction_names())}"
            )
        data = self.split(split)
        keep = [i for i, d in enumerate(self.directions[_split_key(self, split)]) if d == name]
        return ParallelText(
            tuple(data.source[i] for i in keep), tuple(data.target[i] for i in keep)
        )

    def direction_names(self) -> tuple[str, ...]:
        """Every direction, `"xx-en"` then `"en-xx"` for each language after the pivot."""
        return tuple(
            d for x in self.languages if x != PIVOT for d in (f"{x}-{PIVOT}", f"{PIVOT}-{x}")
        )

    def direction_sizes(self, split: str = "train") -> dict[str, int]:
        """`{direction: pairs}` of one split, in `direction_names` order."""
        directions = self.directions[_split_key(self, split)]
        return {d: directions.count(d) for d in self.direction_names()}


def _split_key(corpus: Corpus, split: str) -> str:
    """The canonical name of a split (`"val"` → `"validation"`), checked by `Corpus.split`."""
    corpus.split(split)
    return {"val": "validation", "valid": "validation", "dev": "validation"}.get(split, split)


def sampling_probabilities(sizes: Mapping[str, int], temperature: float) -> dict[str, float]:
    """The chance of drawing each part: `p_i ∝ size_i ** (1 / temperature)`.

    `temperature=1` samples in proportion to size (as concatenating the data would);
    larger temperatures move towards uniform, so that a small language pair is not
    drowned (Arivazhagan et al. 2019 use T=5).

    Args:
        sizes: `{part: pairs}`, every size > 0.
        temperature: `T` > 0.

    Returns:
        `{part: probability}` in the order of `sizes`, summing to 1.

    Example:
        >>> sampling_probabilities({"big": 81, "small": 1}, temperature=2)
        {'big': 0.9, 'small': 0.1}
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    if not sizes or any(n <= 0 for n in sizes.values()):
        raise ValueError(f"every part needs at least one pair, got sizes {dict(sizes)!r}")
    weights = {part: n ** (1.0 / temperature) for part, n in sizes.items()}
    total = sum(weights.values())
    return {part: w / total for part, w in weights.items()}


def direction_parts(corpus: MultilingualCorpus, split: str = "train") -> dict[str, ParallelText]:
    """`{direction: pairs}` of one split, in `direction_names` order, none empty."""
    return {
        d: corpus.direction(split, *d.split("-"))
        for d, n in corpus.direction_sizes(split).items()
        if n
    }


def multilingual_corpus(
    name: str, bilingual: Mapping[str, Corpus], pivot: str = PIVOT
) -> MultilingualCorpus:
    """Both directions of each `X → pivot` corpus, every source prefixed with a token.

    Args:
        name: name of the result.
        bilingual: `{language: corpus}`, each corpus translating that language into
            `pivot` (`"es": load_corpus("spa-eng")`).
        pivot: the language every corpus shares. Defaults to `"en"`.

    Returns:
        A `MultilingualCorpus`: for each language in order, the `X → pivot` pairs of each
        split, then the `pivot → X` pairs.
    """
    parts = {split: ([], [], []) for split in SPLITS}
    for language, corpus in bilingual.items():
        if (corpus.source_lang, corpus.target_lang) != (language, pivot):
            raise ValueError(
                f"{corpus.name} translates {corpus.source_lang}→{corpus.target_lang}; "
                f"expected {language}→{pivot}"
            )
        for split in SPLITS:
            data = corpus.split(split)
            sources, targets, directions = parts[split]
            for src_lang, tgt_lang, src, tgt in (
                (language, pivot, data.source, data.target),
                (pivot, language, data.target, data.source),
            ):
                sources.extend(add_language_token(src, tgt_lang))
                targets.extend(tgt)
                directions.extend([f"{src_lang}-{tgt_lang}"] * len(src))
    return MultilingualCorpus(
        name,
        "mul",
        "mul",
        **{k: ParallelText(tuple(s), tuple(t)) for k, (s, t, _) in parts.items()},
        languages=(pivot, *bilingual),
        directions={k: tuple(d) for k, (_, _, d) in parts.items()},
    )


def toy_second_language(corpus: Corpus) -> Corpus:
    """The toy corpus (Spanish → English) with the Spanish words reversed, as `"fr"` → English.

    A stand-in for a second language in smoke runs: it shares the toy Spanish vocabulary
    but not its word order, so the target token must decide the output. Its code is
    `"fr"` so that toy-multi has the directions of tatoeba-multi's es↔en and fr↔en, and
    zero-shot es↔fr; it is not French.
    """

    def reverse(sentence: str) -> str:
        return " ".join(reversed(sentence.split()))

    splits = {
        split: ParallelText(
            tuple(reverse(s) for s in corpus.split(split).source), corpus.split(split).target
        )
        for split in SPLITS
    }
    return Corpus("toy-fr", "fr", "en", **splits)


def load_multilingual(
    name: str,
    *,
    data_dir: str | os.PathLike | None = None,
    path: str | os.PathLike | None = None,
) -> MultilingualCorpus:
    """Load `"tatoeba-multi"` or `"toy-multi"` (`corpora.load_corpus` calls this).

    Args:
        name: one of `MULTILINGUAL_CORPORA`.
        data_dir, path: as in `corpora.load_corpus`, for each Anki file.
    """
    from s2s_keras.corpora import load_corpus

    if name not in MULTILINGUAL_CORPORA:
        raise ValueError(f"name must be one of {', '.join(MULTILINGUAL_CORPORA)}, got {name!r}")
    if name == "toy-multi":
        from s2s_keras.toy import make_toy_corpus

        spanish = make_toy_corpus(TOY_MULTI_PAIRS, reverse=True)
        bilingual = {"es": spanish, "fr": toy_second_language(spanish)}
    else:
        bilingual = {
            language: load_corpus(corpus, data_dir=data_dir, path=path)
            for language, corpus in _PARTS[name].items()
        }
    return multilingual_corpus(name, bilingual)


@dataclasses.dataclass(frozen=True)
class ZeroShotSet:
    """Sources of one language and every reference of another, through shared English.

    Args:
        source_lang, target_lang: the zero-shot direction, e.g. `"es"`, `"fr"`.
        sources: the source sentences, raw, without a language token.
        references: `references[i]` holds every reference translation of `sources[i]`.
        pivots: `pivots[i]` is the English sentence both sides translate.
    """

    source_lang: str
    target_lang: str
    sources: tuple[str, ...]
    references: tuple[tuple[str, ...], ...]
    pivots: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.sources)

    def take(self, n: int) -> ZeroShotSet:
        """The first `n` sources and their references (all of them when `n` is larger)."""
        return dataclasses.replace(
            self,
            sources=self.sources[:n],
            references=self.references[:n],
            pivots=self.pivots[:n],
        )

    def reference_streams(self) -> list[list[str]]:
        """The references as sacrebleu wants them: stream `k` holds the `k`-th reference of
        every source, `None` where a source has fewer (sacrebleu skips those)."""
        width = max((len(r) for r in self.references), default=0)
        return [[r[k] if k < len(r) else None for r in self.references] for k in range(width)]


def zero_shot_set(
    corpus: MultilingualCorpus, source_lang: str = "es", target_lang: str = "fr"
) -> ZeroShotSet:
    """The zero-shot test pairs of a multilingual corpus (Johnson et al. 2017, §5).

    For every English test sentence with translations into both languages, each of its
    `source_lang` translations is a source whose references are all its `target_lang`
    translations. None of these sentences is in a training split: the component split
    keeps every test sentence, of any language, out of training.

    Args:
        corpus: a `MultilingualCorpus` with `X → en` test pairs for both languages.
        source_lang, target_lang: the direction. Defaults to `"es"` → `"fr"`.

    Returns:
        A `ZeroShotSet`, English sentences in order of first appearance, each source once.
    """
    for language in (source_lang, target_lang):
        if language == PIVOT or language not in corpus.languages:
            raise UnknownLanguageError(
                f"{corpus.name} has no zero-shot direction {source_lang}→{target_lang}; "
                f"pick two of {', '.join(x for x in corpus.languages if x != PIVOT)}"
            )

    def by_english(language: str) -> dict[str, list[str]]:
        data = corpus.direction("test", language, PIVOT)
        found: dict[str, list[str]] = {}
        for source, english in zip(data.source, data.target, strict=True):
            sentence = without_language_token(source)
            found.setdefault(english.strip(), [])
            if sentence not in found[english.strip()]:
                found[english.strip()].append(sentence)
        return found

    sources_of, targets_of = by_english(source_lang), by_english(target_lang)
    sources, references, pivots = [], [], []
    for english, translations in sources_of.items():
        if english in targets_of:
            for sentence in translations:
                sources.append(sentence)
                references.append(tuple(targets_of[english]))
                pivots.append(english)
    return ZeroShotSet(source_lang, target_lang, tuple(sources), tuple(references), tuple(pivots))


def without_language_token(source: str) -> str:
    """A source sentence without its leading language token: `"<2en> Hola."` → `"Hola."`

    Bilingual models are evaluated on the multilingual corpus's test pairs this way.
    """
    head, _, rest = source.partition(" ")
    return rest if head.startswith("<2") and head.endswith(">") else source


def zero_shot_scores(
    trained, zero_shot: ZeroShotSet, *, bootstrap_samples: int = 1000, **decoding
) -> dict:
    """BLEU and chrF of one model on a zero-shot set, directly and through English.

    Direct: `<2fr> source` → French, the direction never trained. Pivot: `<2en> source`
    → English, then `<2fr> English` → French, two trained directions with the same
    model. Both against every reference (`evaluation.multi_reference_scores`).

    Args:
        trained: a multilingual `bundle.TrainedModel`.
        zero_shot: the set (`zero_shot_set`).
        bootstrap_samples: resamples of the paired bootstrap of direct against pivot.
        **decoding: go to `TrainedModel.translate` (`method`, `beam_size`, ...).

    Returns:
        `{"direction", "sentences", "direct": scores, "pivot": scores, "direct_vs_pivot":
        evaluation.paired_bootstrap (baseline: pivot), "direct_hypotheses",
        "pivot_hypotheses"}`.
    """
    from s2s_keras.evaluation import multi_reference_scores, paired_bootstrap

    target = zero_shot.target_lang
    sources = list(zero_shot.sources)
    direct = trained.translate(sources, target_lang=target, **decoding)
    english = trained.translate(sources, target_lang=PIVOT, **decoding)
    pivot = trained.translate(english, target_lang=target, **decoding)
    streams = zero_shot.reference_streams()
    return {
        "direction": f"{zero_shot.source_lang}-{target}",
        "sentences": len(sources),
        "direct": multi_reference_scores(direct, streams, target_lang=target),
        "pivot": multi_reference_scores(pivot, streams, target_lang=target),
        "direct_vs_pivot": paired_bootstrap(
            pivot,
            direct,
            streams[0],
            target_lang=target,
            samples=bootstrap_samples,
            reference_streams=streams,
        ),
        "direct_hypotheses": direct,
        "pivot_hypotheses": pivot,
    }


def language_identifier(languages: Sequence[str]):
    """A function `sentence → ISO 639-1 code`, choosing among `languages` only.

    py3langid (Lui and Baldwin 2012's langid.py, a naive Bayes classifier over byte
    n-grams, trained on 97 languages) restricted to the languages a model can produce:
    a Spanish-looking output is then called Spanish, not Galician. Short sentences are
    hard for any identifier: measure it on references first (`identification_accuracy`).

    Raises:
        S2SError: py3langid is not installed (it comes with the `dev` extra).
    """
    try:
        from py3langid import langid
    except ImportError:
        raise S2SError(
            "language identification needs py3langid: pip install py3langid "
            "(or the package's dev extra)"
        ) from None
    identifier = langid.LanguageIdentifier.from_modelpath(langid.MODEL_DIR / langid.MODEL_FILE)
    identifier.set_languages(list(languages))
    return lambda sentence: identifier.classify(sentence)[0]


def identification_accuracy(
    sentences_by_language: Mapping[str, Sequence[str]], identify=None
) -> dict[str, float]:
    """How often the identifier names the language of sentences whose language is known.

    Args:
        sentences_by_language: `{language: sentences}`, e.g. reference translations.
        identify: `sentence → language`; `None` for `language_identifier` over the keys.

    Returns:
        `{language: share identified correctly, ..., "all": over every sentence}`.
    """
    identify = identify or language_identifier(list(sentences_by_language))
    right = {x: sum(identify(s) == x for s in ss) for x, ss in sentences_by_language.items()}
    total = sum(len(ss) for ss in sentences_by_language.values())
    return {
        **{x: right[x] / max(len(ss), 1) for x, ss in sentences_by_language.items()},
        "all": sum(right.values()) / max(total, 1),
    }


def wrong_language_rate(
    hypotheses: Sequence[str], language: str, languages: Sequence[str], identify=None
) -> dict:
    """How often translations meant to be in `language` are identified as another.

    Zero-shot outputs often come out in the wrong language, typically English, the
    language every training direction shared (Johnson et al. 2017, §5.1; Arivazhagan et
    al. 2019, "The Missing Ingredient in Zero-Shot NMT").

    Args:
        hypotheses: the translations; blank ones are not counted.
        language: the language they should be in.
        languages: the languages the identifier chooses among (the model's).
        identify: `sentence → language`; `None` for `language_identifier(languages)`.

    Returns:
        `{"rate": share not identified as language, "counts": {language: n}, "sentences": n}`.
    """
    identify = identify or language_identifier(languages)
    found = [identify(h) for h in hypotheses if h.strip()]
    counts = {x: found.count(x) for x in languages}
    wrong = sum(n for x, n in counts.items() if x != language)
    return {"rate": wrong / max(len(found), 1), "counts": counts, "sentences": len(found)}
