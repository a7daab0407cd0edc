"""Text standardisation, vocabularies and exportable tokenizers.

Introduced in notebook 00 (data and tokenization). Everything here is TensorFlow /
tensorflow-text ops, so a tokenizer runs inside `tf.data` and inside the exported
SavedModel (DESIGN §6) with no Python in the loop.

- `standardize`: Unicode NFKD (so "é" typed as one code point or as "e" + a combining
  accent is the same token), lower case, control and format characters removed,
  punctuation and symbols split into tokens of their own.
- `WordTokenizer`: one id per word, vocabulary learned by counting (Sutskever et al. 2014
  and Bahdanau et al. 2015 used word vocabularies of 30k–160k words).
- `WordPieceTokenizer`: subwords learned with tensorflow-text's BERT vocabulary learner
  (Wu et al. 2016, "Google's Neural Machine Translation System", section 4.1); no word is
  ever out of vocabulary.

Both share ids 0–3: padding, `[UNK]`, `[START]`, `[END]`, and save to / load from a
directory holding `vocab.txt` and `tokenizer.json`.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

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


def standardize(text: tf.Tensor | str | Sequence[str]) -> tf.Tensor:
    """Normalise raw text into space-separated tokens.

    Invalid UTF-8 is replaced by U+FFFD rather than failing, so hostile input never
    crashes the pipeline or the exported translator; so are lone surrogates in Python
    strings (which JSON and `os.fsdecode` can produce, but UTF-8 cannot encode).

    Args:
        text: a `tf.string` tensor of any shape (or Python strings).

    Returns:
        A `tf.string` tensor of the same shape: NFKD, lower case, tokens separated by
        single spaces, no leading or trailing space.

    Example:
        >>> standardize(["¿Qué tal?"]).numpy()[0].decode()  # doctest: +SKIP
        '¿ que\u0301 tal ?'
    """
    text = tf.strings.unicode_transcode(
        tf.convert_to_tensor(_utf8_bytes(text), tf.string), "UTF-8", "UTF-8", errors="replace"
    )
    text = tft.normalize_utf8(text, "NFKD")
    # Format characters (bidi marks, zero-width joiners, soft hyphens) are invisible:
    # drop them; control characters and every Unicode space become plain spaces.
    # Before `lower`, which stops at the first NUL byte ("a\x00b" would become "a").
    text = tf.strings.regex_replace(text, r"\p{Cf}", "")
    text = tf.strings.regex_replace(text, r"[\p{Cc}\p{Z}]", " ")
    text = tf.strings.lower(text, encoding="utf-8")
    text = tf.strings.regex_replace(text, _PUNCT, r" \1 ")
    text = tf.strings.regex_replace(text, r" +", " ")
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


def _join_words(words: tf.RaggedTensor) -> tf.Tensor:
    """`[B, (W)]` word strings → `[B]` readable NFC text."""
    text = tf.strings.reduce_join(words, axis=-1, separator=" ")
    text = tf.strings.regex_replace(text, _NO_SPACE_BEFORE, r"\1")
    text = tf.strings.regex_replace(text, _NO_SPACE_AFTER, r"\1")
    text = tf.strings.regex_replace(text, r" ?' ?", "'")
    return _capitalize_first_letter(tft.normalize_utf8(text, "NFC"))


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
    """Shared machinery of the word and WordPiece tokenizers.

    Args:
        vocab: the tokens, in id order; must start with `RESERVED_TOKENS`.
        name: module name.
    """

    kind = "base"

    def __init__(self, vocab: Sequence[str], name: str | None = None):
        super().__init__(name=name)
        vocab = list(vocab)
        if tuple(vocab[: len(RESERVED_TOKENS)]) != RESERVED_TOKENS:
            raise ValueError(f"a vocabulary must start with {RESERVED_TOKENS!r}, got {vocab[:4]!r}")
        if len(set(vocab)) != len(vocab):
            dupes = [t for t, c in collections.Counter(vocab).items() if c > 1]
            raise ValueError(f"vocabulary has duplicate tokens, e.g. {dupes[:5]!r}")
        self.vocab = tuple(vocab)
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
        ids = self._split(standardize(text))
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
        ids = tf.ragged.boolean_mask(ids, keep)
        # Ids outside the vocabulary, past it or negative (a model cannot produce them,
        # but a caller might), read as [UNK] instead of failing in the gather.
        ids = tf.ragged.map_flat_values(
            lambda x: tf.where((x >= 0) & (x < self.vocab_size), x, tf.constant(UNK_ID, tf.int64)),
            ids,
        )
        tokens = tf.gather(self._vocab, ids)
        return _join_words(self._words(tokens))

    def lookup(self, ids) -> list[list[str]]:
        """Ids → token strings in Python, for display (keeps special tokens)."""
        return [[self.vocab[int(i)] for i in row] for row in ids]

    def save(self, directory: str | Path) -> Path:
        """Write `vocab.txt` and `tokenizer.json` into `directory` (created if missing)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "vocab.txt").write_text("\n".join(self.vocab) + "\n", encoding="utf-8")
        (directory / "tokenizer.json").write_text(
            json.dumps({"kind": self.kind, "vocab_size": self.vocab_size}) + "\n",
            encoding="utf-8",
        )
        return directory


class WordTokenizer(Tokenizer):
    """Word-level tokenizer: one id per standardized word, `[UNK]` for the rest.

    Args:
        vocab: tokens in id order, starting with `RESERVED_TOKENS`.
    """

    kind = "word"

    @classmethod
    def from_texts(
        cls, texts: Iterable[str], *, max_size: int | None = None, min_count: int = 1
    ) -> WordTokenizer:
        """Learn a vocabulary: the most frequent words, ties broken alphabetically.

        Args:
            texts: raw training sentences.
            max_size: vocabulary size including the 4 reserved tokens; `None` keeps all.
            min_count: drop words seen fewer times than this.
        """
        if max_size is not None and max_size <= len(RESERVED_TOKENS):
            raise ValueError(f"max_size must be > {len(RESERVED_TOKENS)}, got {max_size!r}")
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count!r}")
        counts = collections.Counter(
            word for line in standardized_lines(texts) for word in line.split(" ") if word
        )
        words = sorted(
            (w for w, c in counts.items() if c >= min_count and w not in RESERVED_TOKENS),
            key=lambda w: (-counts[w], w),
        )
        if max_size is not None:
            words = words[: max_size - len(RESERVED_TOKENS)]
        return cls(list(RESERVED_TOKENS) + words)

    def _split(self, text):
        words = tf.strings.split(text)
        return tf.ragged.map_flat_values(self._table.lookup, words)


class WordPieceTokenizer(Tokenizer):
    """Subword tokenizer: words split greedily into the longest known pieces.

    Continuation pieces carry the `##` prefix (`"canción"` → `["can", "##cio", "##́n"]`).

    Args:
        vocab: tokens in id order, starting with `RESERVED_TOKENS`.
    """

    kind = "wordpiece"

    def __init__(self, vocab: Sequence[str], name: str | None = None):
        super().__init__(vocab, name=name)
        self._wordpiece = tft.WordpieceTokenizer(
            self._table, token_out_type=tf.int64, unknown_token=UNK
        )

    @classmethod
    def from_texts(cls, texts: Iterable[str], *, vocab_size: int = 8000) -> WordPieceTokenizer:
        """Learn a WordPiece vocabulary with tensorflow-text's BERT vocabulary learner.

        Args:
            texts: raw training sentences.
            vocab_size: target size; the learned vocabulary may be a little smaller or larger.
        """
        from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset as bert_vocab

        if vocab_size <= len(RESERVED_TOKENS):
            raise ValueError(f"vocab_size must be > {len(RESERVED_TOKENS)}, got {vocab_size!r}")
        lines = standardized_lines(texts)
        dataset = tf.data.Dataset.from_tensor_slices(lines or [""]).batch(1024)
        vocab = bert_vocab.bert_vocab_from_dataset(
            dataset,
            vocab_size=vocab_size,
            reserved_tokens=list(RESERVED_TOKENS[1:]),
            # Text is already standardized: the learner must only split on spaces.
            bert_tokenizer_params={"lower_case": False},
            learn_params={},
        )
        return cls([PAD] + [t for t in vocab if t != PAD])

    def _split(self, text):
        words = tf.strings.split(text)
        return self._wordpiece.tokenize(words).merge_dims(-2, -1)

    def _words(self, tokens):
        text = tf.strings.reduce_join(tokens, axis=-1, separator=" ")
        text = tf.strings.regex_replace(text, r" ##", "")
        return tf.strings.split(text)


_KINDS = {cls.kind: cls for cls in (WordTokenizer, WordPieceTokenizer)}


def load_tokenizer(directory: str | Path) -> Tokenizer:
    """Load a tokenizer written by `Tokenizer.save`.

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
        return cls(vocab)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise S2SError(
            f"cannot load a tokenizer from {str(directory)!r} ({type(e).__name__}: {e}); "
            "expected vocab.txt and tokenizer.json written by Tokenizer.save"
        ) from None


def unknown_rate(tokenizer: Tokenizer, texts: Sequence[str]) -> float:
    """Share of tokens that map to `[UNK]` (markers not counted); 0.0 for no tokens."""
    ids = tokenizer.tokenize(list(texts), add_markers=False).flat_values.numpy()
    return float((ids == UNK_ID).mean()) if ids.size else 0.0


def standardized_lines(texts: Iterable[str], batch_size: int = 4096) -> list[str]:
    """Standardize Python strings in batches (fast) and return them as Python strings."""
    texts = list(texts)
    out: list[str] = []
    for i in range(0, len(texts), batch_size):
        out.extend(s.decode("utf-8") for s in standardize(texts[i : i + batch_size]).numpy())
    return out
