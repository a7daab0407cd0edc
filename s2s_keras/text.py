"""Text standardisation, vocabularies and exportable tokenizers.

Introduced in notebook 00 (data and tokenization); Chinese in notebook 09. Everything here
is TensorFlow / tensorflow-text ops, so a tokenizer runs inside `tf.data` and inside the
exported SavedModel with no Python in the loop.

- `standardize`: Unicode NFKD (so "é" typed as one code point or as "e" + a combining
  accent is the same token), lower case, control and format characters removed,
  punctuation and symbols split into tokens of their own.
- `standardize(..., "zh")`, for Chinese: NFKC instead (full-width Latin letters and
  digits become ASCII, and so do `，？！：；`, so `？` and `?` are one token), no lower case,
  every run of Han characters a word of its own. Its detokenization writes the full-width
  punctuation the references use and no spaces between Han characters.
- `standardize(..., "multi")`, for one vocabulary over several languages (notebook 10):
  the default standardization, runs of Han characters as words, and the target-language
  tokens `LANGUAGE_TOKENS` (`"<2fr>"`) kept whole. Its detokenization joins a row with
  Han characters as Chinese and any other row as the default does.
- `WordTokenizer`: one id per word, vocabulary learned by counting (Sutskever et al. 2014
  and Bahdanau et al. 2015 used word vocabularies of 30k–160k words).
- `CharacterTokenizer`: one id per Han character (and per word of other scripts), the
  usual unit for Chinese, which writes no spaces between words.
- `WordPieceTokenizer`: subwords learned with tensorflow-text's WordPiece vocabulary
  learner (Wu et al. 2016, "Google's Neural Machine Translation System", section 4.1); no
  word is ever out of vocabulary. For Chinese its pieces span several characters.

Each tokenizer carries its standardization (`"default"` or `"zh"`). All share ids 0–3:
padding, `[UNK]`, `[START]`, `[END]`, and save to / load from a directory holding
`vocab.txt` and `tokenizer.json`. `learn_tokenizer` picks the tokenizer for a language.
"""

from __future__ import annotations

import collections
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from s2s_keras.errors import S2SError
from s2s_keras.tf_text import tensorflow_text as tft

PAD, UNK, START, END = "", "[UNK]", "[START]", "[END]"
RESERVED_TOKENS = (PAD, UNK, START, END)
PAD_ID, UNK_ID, START_ID, END_ID = 0, 1, 2, 3

# Punctuation (\p{P}) and symbols (\p{S}, which includes most emoji) become tokens of
# their own; combining marks (\p{M}) stay attached to their letter, or symbol: the
# variation selector of "❤️" (U+2764 U+FE0F) must not become a token of its own.
_PUNCT = r"([\p{P}\p{S}]\p{M}*)"
# Detokenization: no space before closing punctuation, none after opening marks.
_NO_SPACE_BEFORE = r" ([.,!?;:%)\]}»…。])"
_NO_SPACE_AFTER = r"([¿¡(\[{«]) "

STANDARDIZATIONS = ("default", "zh", "multi")
# Multilingual text: a source opens with the token of its target language (`"<2fr>"`),
# which the vocabulary reserves (ids 4 on) and standardization keeps whole.
LANGUAGE_CODES = ("en", "es", "fr", "zh")
LANGUAGE_TOKENS = tuple(f"<2{code}>" for code in LANGUAGE_CODES)
_LANGUAGE_TOKEN_SPLIT = r"< 2(" + "|".join(LANGUAGE_CODES) + ") >"
# Chinese: a space survives only between two characters of other scripts ("Tom 游泳" →
# "Tom游泳", "New York" stays); punctuation that NFKC folded to ASCII is written full-width.
_ZH_NO_SPACE_BEFORE = r" ([\p{Han}\p{P}\p{S}])"
_ZH_NO_SPACE_AFTER = r"([\p{Han}\p{P}\p{S}]\p{M}*) "
_ZH_FULL_WIDTH = {",": "，", "!": "！", "?": "？", ":": "：", ";": "；", "(": "（", ")": "）"}


def standardization_for(language: str | None) -> str:
    """The standardization of a language's text: `"zh"` for Chinese, `"multi"` for the
    several languages of a multilingual corpus (`"mul"`), else `"default"`.

    Args:
        language: an ISO 639-1 code such as `"es"` or `"zh"`, `"mul"`, or `None`.
    """
    return {"zh": "zh", "mul": "multi"}.get(language, "default")


def _check_standardization(standardization: str) -> str:
    if standardization not in STANDARDIZATIONS:
        raise ValueError(
            f"unknown standardization {standardization!r}; expected one of: "
            f"{', '.join(STANDARDIZATIONS)}"
        )
    return standardization


def standardize(
    text: tf.Tensor | str | Sequence[str], standardization: str = "default"
) -> tf.Tensor:
    """Normalise raw text into space-separated tokens.

    Invalid UTF-8 is replaced by U+FFFD rather than failing, so hostile input never
    crashes the pipeline or the exported translator; so are lone surrogates in Python
    strings (which JSON and `os.fsdecode` can produce, but UTF-8 cannot encode).

    Args:
        text: a `tf.string` tensor of any shape (or Python strings).
        standardization: `"default"`: NFKD and lower case, for languages written with
            spaces between words. `"zh"`: NFKC (`，？！` become `,?!`; `。` stays), case
            kept, and every run of Han characters a word of its own. `"multi"`, for
            one vocabulary over several languages: `"default"`, with every run of Han
            characters a word of its own, and the language tokens of
            `LANGUAGE_TOKENS` (`"<2fr>"`) kept whole.

    Returns:
        A `tf.string` tensor of the same shape: normalised, tokens separated by single
        spaces, no leading or trailing space.

    Example:
        >>> standardize(["¿Qué tal?"]).numpy()[0].decode()  # doctest: +SKIP
        '¿ que\u0301 tal ?'
        >>> standardize(["Tom会说法语吗？"], "zh").numpy()[0].decode()  # doctest: +SKIP
        'Tom 会说法语吗 ?'
    """
    zh = _check_standardization(standardization) == "zh"
    multi = standardization == "multi"
    text = tf.strings.unicode_transcode(
        tf.convert_to_tensor(_utf8_bytes(text), tf.string), "UTF-8", "UTF-8", errors="replace"
    )
    text = tft.normalize_utf8(text, "NFKC" if zh else "NFKD")
    # Format characters (bidi marks, zero-width joiners, soft hyphens) are invisible:
    # drop them; control characters and every Unicode space become plain spaces.
    # Before `lower`, which stops at the first NUL byte ("a\x00b" would become "a").
    text = tf.strings.regex_replace(text, r"\p{Cf}", "")
    text = tf.strings.regex_replace(text, r"[\p{Cc}\p{Z}]", " ")
    if not zh:
        text = tf.strings.lower(text, encoding="utf-8")
    text = tf.strings.regex_replace(text, _PUNCT, r" \1 ")
    if zh or multi:
        text = tf.strings.regex_replace(text, r"(\p{Han}+)", r" \1 ")
    text = tf.strings.regex_replace(text, r" +", " ")
    if multi:  # `<` and `>` are symbols: put the language tokens back together
        text = tf.strings.regex_replace(text, _LANGUAGE_TOKEN_SPLIT, r"<2\1>")
    return tf.strings.strip(text)


def _utf8_bytes(text):
    """Python strings (nested in lists or tuples) as UTF-8 bytes; anything else unchanged.

    `tf.convert_to_tensor` rejects a string holding a lone surrogate; encoded with
    "surrogatepass" it becomes invalid UTF-8, which `standardize` then replaces.
    """
    if isinstance(text, str):
        return text.encode("utf-8", "surrogatepass")
    if isinstance(text, (list, tuple)):
        return [_utf8_bytes(t) for t in text]
    return text


def _join_words(words: tf.RaggedTensor, standardization: str = "default") -> tf.Tensor:
    """`[B, (W)]` word strings → `[B]` readable NFC text."""
    text = tf.strings.reduce_join(words, axis=-1, separator=" ")
    if standardization == "zh":
        return tft.normalize_utf8(_join_chinese(text), "NFC")
    if standardization == "multi":
        # The target language of each row shows in its script: Chinese has Han characters.
        # Words were lower-cased for every language, so Chinese rows get the capital too.
        chinese = tf.strings.regex_full_match(text, r".*\p{Han}.*")
        zh = _capitalize_first_letter(_join_words(words, "zh"))
        return tf.where(chinese, zh, _join_words(words, "default"))
    text = tf.strings.regex_replace(text, _NO_SPACE_BEFORE, r"\1")
    text = tf.strings.regex_replace(text, _NO_SPACE_AFTER, r"\1")
    text = tf.strings.regex_replace(text, r" ?' ?", "'")
    return _capitalize_first_letter(tft.normalize_utf8(text, "NFC"))


def _join_chinese(text: tf.Tensor) -> tf.Tensor:
    """Space-separated Chinese tokens → Chinese text: `"Tom 游泳 吗 ?"` → `"Tom游泳吗？"`."""
    text = tf.strings.regex_replace(text, _ZH_NO_SPACE_BEFORE, r"\1")
    text = tf.strings.regex_replace(text, _ZH_NO_SPACE_AFTER, r"\1")
    for ascii_mark, full_width in _ZH_FULL_WIDTH.items():
        text = tf.strings.regex_replace(text, re.escape(ascii_mark), full_width)
    # Numbers keep ASCII separators ("1,000", "3:30"). Each pass skips a separator whose
    # left digit the previous match took ("1,2,3"), so two passes fix them all.
    for _ in range(2):
        text = tf.strings.regex_replace(text, r"(\d)，(\d)", r"\1,\2")
        text = tf.strings.regex_replace(text, r"(\d)：(\d)", r"\1:\2")
    return text


def _capitalize_first_letter(text: tf.Tensor) -> tf.Tensor:
    """Sentence case: upper-case the first letter if it opens the sentence (after "¿", "¡").

    Tokens are lower-cased for training, but references are cased text and chrF is
    case-sensitive: restoring the sentence-initial capital is the usual cheap recasing.
    """
    chars = tf.strings.unicode_split(text, "UTF-8").to_tensor("")  # [B, C]
    is_letter = tf.strings.regex_full_match(chars, r"\p{L}")
    # Only a letter that opens the sentence: "42 gatos" stays as it is.
    is_alnum = tf.strings.regex_full_match(chars, r"[\p{L}\p{N}]")
    first = is_letter & (tf.math.cumsum(tf.cast(is_alnum, tf.int32), axis=-1) == 1)
    chars = tf.where(first, tf.strings.upper(chars, encoding="utf-8"), chars)
    return tf.strings.reduce_join(chars, axis=-1)


class Tokenizer(tf.Module):
    """Shared machinery of the word, character and WordPiece tokenizers.

    Args:
        vocab: the tokens, in id order; must start with `RESERVED_TOKENS`.
        name: module name.
        standardization: one of `STANDARDIZATIONS`, applied before splitting (see
            `standardize`) and undone by `detokenize`. Defaults to `"default"`.
    """

    kind = "base"

    def __init__(
        self, vocab: Sequence[str], name: str | None = None, standardization: str = "default"
    ):
        super().__init__(name=name)
        self.standardization = _check_standardization(standardization)
        vocab = list(vocab)
        if tuple(vocab[: len(RESERVED_TOKENS)]) != RESERVED_TOKENS:
            raise ValueError(f"a vocabulary must start with {RESERVED_TOKENS!r}, got {vocab[:4]!r}")
        if len(set(vocab)) != len(vocab):
            dupes = [t for t, c in collections.Counter(vocab).items() if c > 1]
            raise ValueError(f"vocabulary has duplicate tokens, e.g. {dupes[:5]!r}")
        self.vocab = tuple(vocab)
        # Language tokens are for the source side: a decoder that emits one writes nothing.
        reserved = RESERVED_TOKENS + LANGUAGE_TOKENS
        self._silent_ids = len(reserved) if self.vocab[: len(reserved)] == reserved else 0
        self._vocab = tf.constant(vocab, tf.string)
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(self._vocab, tf.range(len(vocab), dtype=tf.int64)),
            default_value=UNK_ID,
        )

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def _split(self, text: tf.Tensor) -> tf.RaggedTensor:
        """`[B]` standardized text → `[B, (T)]` int64 ids, without markers."""
        raise NotImplementedError

    def _words(self, tokens: tf.RaggedTensor) -> tf.RaggedTensor:
        """`[B, (T)]` token strings → `[B, (W)]` word strings."""
        return tokens

    def tokenize(self, text, add_markers: bool = True) -> tf.RaggedTensor:
        """Raw text → token ids.

        Args:
            text: `[B]` `tf.string` (or a list of Python strings).
            add_markers: wrap every sentence in `[START]` … `[END]`.

        Returns:
            `tf.RaggedTensor` of int64 ids, shape `[B, (T)]`.
        """
        ids = self._split(standardize(text, self.standardization))
        if add_markers:
            batch = ids.nrows()
            start = tf.fill([batch, 1], tf.constant(START_ID, tf.int64))
            end = tf.fill([batch, 1], tf.constant(END_ID, tf.int64))
            ids = tf.concat([start, ids, end], axis=1)
        return ids

    def detokenize(self, ids) -> tf.Tensor:
        """Token ids → readable text.

        Everything from the first `[END]` on is dropped, as are padding and `[START]`,
        so the output of any decoder (which pads after `[END]`) can be passed as is.
        Text of the `"default"` standardization gets spaces between words and a capital
        first letter; Chinese (`"zh"`) gets no spaces next to Han characters or
        punctuation, and full-width `，？！：；（）`.

        Args:
            ids: `[B, T]` dense or `[B, (T)]` ragged integer ids.

        Returns:
            `[B]` `tf.string`, NFC-normalised.
        """
        if isinstance(ids, tf.RaggedTensor):
            ids = ids.to_tensor(default_value=PAD_ID)
        ids = tf.cast(tf.convert_to_tensor(ids), tf.int64)
        before_end = tf.math.cumsum(tf.cast(ids == END_ID, tf.int32), axis=-1) == 0
        keep = before_end & (ids != PAD_ID) & (ids != START_ID)
        if self._silent_ids:
            keep &= (ids < len(RESERVED_TOKENS)) | (ids >= self._silent_ids)
        ids = tf.ragged.boolean_mask(ids, keep)
        # Ids outside the vocabulary, past it or negative (a model cannot produce them,
        # but a caller might), read as [UNK] instead of failing in the gather.
        ids = tf.ragged.map_flat_values(
            lambda x: tf.where((x >= 0) & (x < self.vocab_size), x, tf.constant(UNK_ID, tf.int64)),
            ids,
        )
        tokens = tf.gather(self._vocab, ids)
        return _join_words(self._words(tokens), self.standardization)

    def lookup(self, ids) -> list[list[str]]:
        """Ids → token strings in Python, for display (keeps special tokens)."""
        return [[self.vocab[int(i)] for i in row] for row in ids]

    def save(self, directory: str | Path) -> Path:
        """Write `vocab.txt` and `tokenizer.json` into `directory` (created if missing)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "vocab.txt").write_text("\n".join(self.vocab) + "\n", encoding="utf-8")
        meta = {
            "kind": self.kind,
            "vocab_size": self.vocab_size,
            "standardization": self.standardization,
        }
        (directory / "tokenizer.json").write_text(json.dumps(meta) + "\n", encoding="utf-8")
        return directory


class WordTokenizer(Tokenizer):
    """Word-level tokenizer: one id per standardized word, `[UNK]` for the rest.

    Args:
        vocab: tokens in id order, starting with `RESERVED_TOKENS`.
        name: module name.
        standardization: one of `STANDARDIZATIONS`. Defaults to `"default"`.
    """

    kind = "word"

    @classmethod
    def from_texts(
        cls,
        texts: Iterable[str],
        *,
        max_size: int | None = None,
        min_count: int = 1,
        standardization: str = "default",
    ) -> WordTokenizer:
        """Learn a vocabulary: the most frequent units, ties broken alphabetically.

        Args:
            texts: raw training sentences.
            max_size: vocabulary size including the 4 reserved tokens; `None` keeps all.
            min_count: drop units seen fewer times than this.
            standardization: one of `STANDARDIZATIONS`. Defaults to `"default"`.
        """
        if max_size is not None and max_size <= len(RESERVED_TOKENS):
            raise ValueError(f"max_size must be > {len(RESERVED_TOKENS)}, got {max_size!r}")
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count!r}")
        _check_standardization(standardization)
        lines = standardized_lines(texts, standardization=standardization)
        counts = collections.Counter()
        for i in range(0, len(lines), 4096):
            batch = tf.constant(lines[i : i + 4096], tf.string)
            counts.update(tf.strings.split(cls._spaced(batch)).flat_values.numpy().tolist())
        counts = {unit.decode("utf-8"): c for unit, c in counts.items()}
        units = sorted(
            (w for w, c in counts.items() if c >= min_count and w not in RESERVED_TOKENS),
            key=lambda w: (-counts[w], w),
        )
        if max_size is not None:
            units = units[: max_size - len(RESERVED_TOKENS)]
        return cls(list(RESERVED_TOKENS) + units, standardization=standardization)

    @staticmethod
    def _spaced(text: tf.Tensor) -> tf.Tensor:
        """Standardized text with spaces between all its tokens."""
        return text

    def _split(self, text):
        words = tf.strings.split(self._spaced(text))
        return tf.ragged.map_flat_values(self._table.lookup, words)


class CharacterTokenizer(WordTokenizer):
    """Character tokenizer for Chinese: one id per Han character, `[UNK]` for the rest.

    Text of other scripts inside Chinese sentences (names such as "Tom", numbers) stays
    one token per word, as in BERT's Chinese tokenization (Devlin et al. 2019). With the
    `"zh"` standardization, `"Tom会说法语吗？"` → `["Tom", "会", "说", "法", "语", "吗", "?"]`.

    Args:
        vocab: tokens in id order, starting with `RESERVED_TOKENS`.
        name: module name.
        standardization: one of `STANDARDIZATIONS`. Defaults to `"default"`; use `"zh"`
            for Chinese (`learn_tokenizer(..., language="zh")` does).
    """

    kind = "character"

    @staticmethod
    def _spaced(text):
        return tf.strings.regex_replace(text, r"(\p{Han})", r" \1 ")


class WordPieceTokenizer(Tokenizer):
    """Subword tokenizer: words split greedily into the longest known pieces.

    Continuation pieces carry the `##` prefix (`"canción"` → `["can", "##cio", "##́n"]`).
    With the `"zh"` standardization a word is a run of Han characters between
    punctuation, so pieces span several characters (`"谢谢你"` → `["谢谢", "##你"]`),
    and a character the vocabulary lacks is one `[UNK]` piece, not a whole `[UNK]` run.

    Args:
        vocab: tokens in id order, starting with `RESERVED_TOKENS`.
        name: module name.
        standardization: one of `STANDARDIZATIONS`. Defaults to `"default"`.
    """

    kind = "wordpiece"

    def __init__(
        self, vocab: Sequence[str], name: str | None = None, standardization: str = "default"
    ):
        super().__init__(vocab, name=name, standardization=standardization)
        zh = self.standardization in ("zh", "multi")
        self._wordpiece = tft.WordpieceTokenizer(
            self._table,
            token_out_type=tf.int64,
            unknown_token=UNK,
            # A Chinese word is a whole run of Han characters (3 bytes each in UTF-8):
            # longer than an English word, and one unknown character must not make the
            # whole run unknown.
            max_bytes_per_word=400 if zh else 100,
            split_unknown_characters=zh,
        )

    @classmethod
    def from_texts(
        cls, texts: Iterable[str], *, vocab_size: int = 8000, standardization: str = "default"
    ) -> WordPieceTokenizer:
        """Learn a WordPiece vocabulary with tensorflow-text's vocabulary learner.

        Every character of the training text is in the vocabulary twice, alone and as a
        `##` continuation, so for Chinese (some 2,800 characters in cmn-eng) the
        vocabulary holds at least twice as many tokens as there are characters. The
        `"multi"` standardization (one vocabulary over several languages) learns as
        Chinese does and reserves `LANGUAGE_TOKENS` after `RESERVED_TOKENS`.

        Args:
            texts: raw training sentences.
            vocab_size: target size; the learned vocabulary may be a little smaller or larger.
            standardization: one of `STANDARDIZATIONS`. Defaults to `"default"`.
        """
        from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset as bert_vocab
        from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib

        if vocab_size <= len(RESERVED_TOKENS):
            raise ValueError(f"vocab_size must be > {len(RESERVED_TOKENS)}, got {vocab_size!r}")
        lines = standardized_lines(texts, standardization=_check_standardization(standardization))
        reserved = list(RESERVED_TOKENS[1:])
        if standardization == "multi":
            reserved += LANGUAGE_TOKENS  # ids 4 to 7, whatever the text holds
        if standardization in ("zh", "multi"):
            # The BERT learner's own splitting would cut every Han character apart: count
            # the space-separated words (runs of Han characters) instead, and keep every
            # character, however rare, so that no run is dropped from the counts. The
            # learner's time grows with the cube of a word's length: one iteration
            # instead of four learns cmn-eng in about 3.5 s per threshold tried, and its
            # pieces cut test sentences as short (7.75 tokens at 8,683 tokens of vocabulary,
            # against 7.92 at 7,500 with four). Thresholds from 2 to 1000 reach 8000.
            # A multilingual vocabulary learns Chinese the same way, and the other
            # languages' words with it.
            counts = collections.Counter(
                w for line in lines for w in line.split(" ") if w and w not in reserved
            )
            vocab = wordpiece_tokenizer_learner_lib.learn(
                counts,
                vocab_size,
                reserved,
                upper_thresh=1000,
                lower_thresh=2,
                num_iterations=1,
                max_unique_chars=len({c for w in counts for c in w}),
            )
        else:
            dataset = tf.data.Dataset.from_tensor_slices(lines or [""]).batch(1024)
            vocab = bert_vocab.bert_vocab_from_dataset(
                dataset,
                vocab_size=vocab_size,
                reserved_tokens=list(RESERVED_TOKENS[1:]),
                # Text is already standardized: the learner must only split on spaces.
                bert_tokenizer_params={"lower_case": False},
                learn_params={},
            )
        return cls([PAD] + [t for t in vocab if t != PAD], standardization=standardization)

    def _split(self, text):
        words = tf.strings.split(text)
        return self._wordpiece.tokenize(words).merge_dims(-2, -1)

    def _words(self, tokens):
        text = tf.strings.reduce_join(tokens, axis=-1, separator=" ")
        # A continuation joins the piece before it; one that opens the sentence (an
        # untrained or unlucky decoder can start with one) just loses its `##`.
        text = tf.strings.regex_replace(text, r"(^| )##", "")
        return tf.strings.split(text)


_KINDS = {cls.kind: cls for cls in (WordTokenizer, CharacterTokenizer, WordPieceTokenizer)}
TOKENIZER_KINDS = tuple(_KINDS)


def learn_tokenizer(
    texts: Iterable[str],
    *,
    kind: str = "word",
    vocab_size: int | None = None,
    language: str | None = None,
) -> Tokenizer:
    """Learn the tokenizer of one side of a corpus, as suits its language.

    For most languages `kind` is taken as it is. Chinese (`language="zh"`) gets the
    `"zh"` standardization, and `"word"` means characters there (`CharacterTokenizer`):
    Chinese writes no spaces between words.

    Args:
        texts: raw training sentences of that side (never validation or test ones).
        kind: `"word"`, `"character"` or `"wordpiece"`. Defaults to `"word"`.
        vocab_size: tokens including the reserved ones; `None` keeps every unit seen for
            `"word"` / `"character"` and means 8000 for `"wordpiece"`.
        language: ISO 639-1 code of the side, e.g. `"es"` or `"zh"`.

    Returns:
        The learned tokenizer.

    Raises:
        ValueError: `kind` is not one of `TOKENIZER_KINDS`.
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, _KINDS))}, got {kind!r}")
    standardization = standardization_for(language)
    if kind == "wordpiece":
        return WordPieceTokenizer.from_texts(
            texts, vocab_size=vocab_size or 8000, standardization=standardization
        )
    cls = CharacterTokenizer if kind == "character" or standardization == "zh" else WordTokenizer
    return cls.from_texts(texts, max_size=vocab_size, standardization=standardization)


def load_tokenizer(directory: str | Path) -> Tokenizer:
    """Load a tokenizer written by `Tokenizer.save`.

    A `tokenizer.json` without a `standardization` (written before there was a choice)
    means `"default"`.

    Raises:
        S2SError: the directory lacks `vocab.txt` / `tokenizer.json` or they are corrupt.
    """
    directory = Path(directory)
    try:
        meta = json.loads((directory / "tokenizer.json").read_text(encoding="utf-8"))
        vocab = (directory / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
        cls = _KINDS[meta["kind"]]
        if len(vocab) != meta["vocab_size"]:
            raise ValueError(f"vocab.txt has {len(vocab)} tokens, expected {meta['vocab_size']}")
        return cls(vocab, standardization=meta.get("standardization", "default"))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise S2SError(
            f"cannot load a tokenizer from {str(directory)!r} ({type(e).__name__}: {e}); "
            "expected vocab.txt and tokenizer.json written by Tokenizer.save"
        ) from None


def unknown_rate(tokenizer: Tokenizer, texts: Sequence[str]) -> float:
    """Share of tokens that map to `[UNK]` (markers not counted); 0.0 for no tokens."""
    ids = tokenizer.tokenize(list(texts), add_markers=False).flat_values.numpy()
    return float((ids == UNK_ID).mean()) if ids.size else 0.0


def token_lengths(tokenizer: Tokenizer, texts: Sequence[str]) -> np.ndarray:
    """Tokens per sentence (markers not counted), e.g. for a length histogram.

    Example:
        >>> token_lengths(WordTokenizer.from_texts(["a b"]), ["a b c", "", "¿a?"]).tolist()
        [3, 0, 3]
    """
    return tokenizer.tokenize(list(texts), add_markers=False).row_lengths().numpy()


def standardized_lines(
    texts: Iterable[str], batch_size: int = 4096, *, standardization: str = "default"
) -> list[str]:
    """Standardize Python strings in batches (fast) and return them as Python strings."""
    texts = list(texts)
    out: list[str] = []
    for i in range(0, len(texts), batch_size):
        batch = standardize(texts[i : i + batch_size], standardization).numpy()
        out.extend(s.decode("utf-8") for s in batch)
    return out
