"""Hostile text, property-based (hypothesis): standardisation, tokenization,
detokenization, in-memory translation and the exported translator never crash, always
return valid UTF-8 strings, and keep their output within the model's length limits.

Inputs mix arbitrary Unicode with the characters that break text pipelines: NUL and other
control characters, line and paragraph separators, right-to-left and other format marks,
emoji with joiners and skin tones, combining marks, non-Latin scripts, noncharacters,
lone surrogates (as JSON can carry), invalid UTF-8 bytes, empty strings and lines of up
to 10,000 words.
"""

import string

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from s2s_keras.bundle import TrainedModel
from s2s_keras.export import export_saved_model, load_translator
from s2s_keras.models import AttentionSeq2Seq
from s2s_keras.text import (
    END_ID,
    PAD_ID,
    START_ID,
    UNK_ID,
    WordPieceTokenizer,
    WordTokenizer,
    standardize,
)
from s2s_keras.toy import make_toy_corpus

MAX_SOURCE_LENGTH = 12  # tokens, markers included
EXTRA_LENGTH = 4  # a translation may have this many tokens more than its source

HOSTILE_PIECES = [
    "\x00", "\x01", "\x1b", "\x7f", "\x85", "\t", "\n", "\r", "\x0b", "\x0c",
    "\u2028", "\u2029",  # line and paragraph separators
    "\u200e", "\u200f", "\u202a", "\u202e", "\u2066", "\u2069",  # bidi marks and overrides
    "\u200b", "\u200c", "\u200d", "\u00ad", "\ufeff", "\u2060",  # zero-width, soft hyphen, BOM
    "\u0301", "\u0308", "\u0336", "\u20dd", "\u3099",  # combining marks
    "😀", "🐈", "\u2764\ufe0f", "👍🏽", "🏳️‍🌈", "🇪🇸", "\U000e0067",  # emoji, tag character
    "ש", "ם", "ع", "ﷺ", "猫", "ㄱ", "가", "ก", "क्ष", "ꦲ", "𝔘", "ǅ", "ß", "İ", "ŉ",
    "\u00a0", "\u3000", "\u2003",  # no-break, ideographic and em spaces
    "\ufffd", "\ufffe", "\uffff", "\U0010ffff", "\ue000", "\U000f0000",  # (non)characters
    "\ud800", "\udfff",  # lone surrogates: not Unicode text, but a Python str can hold them
    "¿", "¡", "'", '"', ".", "…", "—", "«", "»", "%", "$", "[START]", "[END]", "[UNK]", "##",
]  # fmt: skip
hostile_pieces = st.one_of(
    st.sampled_from(HOSTILE_PIECES), st.characters(), st.sampled_from(string.printable)
)
hostile_text = st.lists(hostile_pieces, max_size=40).map("".join)
# Lines of up to 10,000 words: one word repeated, so that generating them stays cheap.
long_lines = st.builds(
    lambda n, word, sep: sep.join([word] * n),
    st.integers(1, 10_000),
    st.lists(hostile_pieces, min_size=1, max_size=6).map("".join),
    st.sampled_from([" ", "  ", "\t", "\u3000", ""]),
)
hostile_lines = st.one_of(hostile_text, long_lines, st.just(""))
hostile_batches = st.lists(hostile_lines, min_size=1, max_size=6)
invalid_utf8 = st.binary(max_size=40)

TEN_THOUSAND_WORDS = " ".join(f"w{i}ord" for i in range(10_000))

fast = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
slow = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def decoded(tensor) -> list[str]:
    """`[B]` tf.string → Python strings; fails unless every one is valid UTF-8."""
    assert tensor.dtype == tf.string and tensor.shape.rank == 1
    return [s.decode("utf-8") for s in tensor.numpy()]


@pytest.fixture(scope="module")
def corpus():
    return make_toy_corpus(300, seed=1)


@pytest.fixture(scope="module")
def word_tokenizers(corpus):
    return (
        WordTokenizer.from_texts(corpus.train.source),
        WordTokenizer.from_texts(corpus.train.target),
    )


@pytest.fixture(scope="module")
def wordpiece(corpus):
    return WordPieceTokenizer.from_texts(corpus.train.target, vocab_size=120)


@pytest.fixture(scope="module")
def tokenizers(word_tokenizers, wordpiece):
    """By kind: (one to read sources with, one to write translations with)."""
    return {"word": word_tokenizers, "wordpiece": (wordpiece, wordpiece)}


@pytest.fixture(scope="module")
def trained(word_tokenizers):
    """An untrained attention model: it seldom says [END], so it runs to its length limit."""
    keras.utils.set_random_seed(0)
    source, target = word_tokenizers
    model = AttentionSeq2Seq(source.vocab_size, target.vocab_size, embedding_dim=8, units=8)
    return TrainedModel(model, source, target, {"max_length": MAX_SOURCE_LENGTH})


@pytest.fixture(scope="module")
def translator(trained, tmp_path_factory):
    """The exported SavedModel (beam search of width 2), loaded back: once per module."""
    path = tmp_path_factory.mktemp("export") / "translator"
    export_saved_model(trained, path, beam_size=2, extra_length=EXTRA_LENGTH)
    return load_translator(path)


def source_tokens(tokenizer, texts) -> list[int]:
    """Tokens the translator reads per sentence: markers included, truncated as in export."""
    lengths = tokenizer.tokenize(texts).row_lengths().numpy()
    return [min(int(n), MAX_SOURCE_LENGTH) for n in lengths]


# --- standardize ------------------------------------------------------------------------


@fast
@given(hostile_batches)
@example([TEN_THOUSAND_WORDS, "", "\x00", "\ud800"])
def test_standardize_gives_clean_space_separated_utf8(texts):
    out = decoded(standardize(texts))
    assert len(out) == len(texts)
    for text in out:
        assert text == text.strip(" ") and "  " not in text
        # No control, format or separator character survives, nor any other whitespace.
        assert not any(c.isspace() and c != " " for c in text)
        assert not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


@fast
@given(st.lists(invalid_utf8, min_size=1, max_size=6))
def test_standardize_of_invalid_utf8_bytes_gives_valid_utf8(texts):
    assert len(decoded(standardize(tf.constant(texts, tf.string)))) == len(texts)


@fast
@given(hostile_lines)
def test_standardize_is_idempotent(text):
    once = standardize([text])
    assert standardize(once).numpy()[0] == once.numpy()[0]


# --- tokenize and detokenize -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["word", "wordpiece"])
@fast
@given(texts=hostile_batches)
def test_tokenize_gives_ids_in_the_vocabulary_between_markers(tokenizers, kind, texts):
    tokenizer = tokenizers[kind][0]
    ids = tokenizer.tokenize(texts)
    assert ids.nrows() == len(texts)
    words = [s.split() for s in decoded(standardize(texts))]
    for row, sentence in zip(ids.to_list(), words, strict=True):
        assert row[0] == START_ID and row[-1] == END_ID
        inner = row[1:-1]
        assert all(UNK_ID <= i < tokenizer.vocab_size for i in inner)
        assert START_ID not in inner and END_ID not in inner and PAD_ID not in inner
        # One id per word (word tokenizer), at least one per word (WordPiece).
        assert (len(inner) == len(sentence)) if kind == "word" else len(inner) >= len(sentence)


@pytest.mark.parametrize("kind", ["word", "wordpiece"])
@fast
@given(data=st.data())
def test_detokenize_of_any_ids_gives_one_utf8_line_per_row(tokenizers, kind, data):
    tokenizer = tokenizers[kind][1]
    # Any ids: padding, markers anywhere, ids past the vocabulary and negative ones.
    rows = data.draw(
        st.lists(
            st.lists(st.integers(-5, tokenizer.vocab_size + 5), max_size=30),
            min_size=1,
            max_size=5,
        )
    )
    width = max(len(r) for r in rows)
    ids = np.array([r + [PAD_ID] * (width - len(r)) for r in rows], np.int64).reshape(
        len(rows), width
    )
    out = decoded(tokenizer.detokenize(ids))
    assert len(out) == len(rows)
    for row, text in zip(rows, out, strict=True):
        assert "\n" not in text and text == text.strip()
        kept = row[: row.index(END_ID)] if END_ID in row else row
        if all(i in (PAD_ID, START_ID) for i in kept):
            assert text == ""


@fast
@given(st.lists(st.integers(4, 10**6), min_size=1, max_size=40))
def test_detokenize_inverts_tokenize_on_vocabulary_words(word_tokenizers, picks):
    tokenizer = word_tokenizers[1]
    words = [tokenizer.vocab[4 + p % (tokenizer.vocab_size - 4)] for p in picks]
    text = " ".join(words)
    ids = tokenizer.tokenize([text])
    assert ids.to_list()[0][1:-1] == [tokenizer.vocab.index(w) for w in words]
    (back,) = decoded(tokenizer.detokenize(ids))
    assert decoded(standardize([back])) == [text]


# Regressions these properties found, pinned as plain tests.


def test_a_lone_surrogate_is_replaced_rather_than_fatal(word_tokenizers):
    # json.loads('"\\ud800"') gives such a string; tf.constant refused it.
    # Its three bytes are invalid UTF-8: each becomes U+FFFD, a symbol and so a token.
    assert decoded(standardize(["a\ud800b", "\udfff"])) == [
        "a \ufffd \ufffd \ufffd b",
        "\ufffd \ufffd \ufffd",
    ]
    assert word_tokenizers[0].tokenize(["\ud800"]).to_list() == [
        [START_ID] + [UNK_ID] * 3 + [END_ID]
    ]


def test_negative_ids_detokenize_as_unknown_words(word_tokenizers):
    # tf.gather failed on them ("indices[0] = -1 is not in [0, V)").
    tokenizer = word_tokenizers[1]
    assert decoded(tokenizer.detokenize([[-1, 4, -7]])) == decoded(
        tokenizer.detokenize([[UNK_ID, 4, UNK_ID]])
    )


# --- translation --------------------------------------------------------------------------


@slow
@given(hostile_batches)
@example([TEN_THOUSAND_WORDS, "", "\ud800\x00"])
def test_exported_translator_gives_one_bounded_utf8_line_per_input(translator, trained, texts):
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts]  # as a client would send
    out = decoded(translator.translate(tf.constant(encoded, tf.string)))
    assert len(out) == len(texts)
    lengths = source_tokens(trained.source_tokenizer, texts)
    for text, n_source, translation in zip(texts, lengths, out, strict=True):
        assert "\n" not in translation
        if n_source == 2:  # only [START] [END]: nothing to translate
            assert translation == "", text
        # At most the source's tokens (markers included) plus EXTRA_LENGTH, each token at
        # most one word: never more than the model's maximum.
        assert len(translation.split()) <= n_source + EXTRA_LENGTH
        assert len(translation.split()) <= MAX_SOURCE_LENGTH + EXTRA_LENGTH


@slow
@given(hostile_batches)
def test_in_memory_translation_gives_one_bounded_utf8_line_per_input(trained, texts):
    out = trained.translate(texts, extra_length=EXTRA_LENGTH)
    assert len(out) == len(texts)
    lengths = source_tokens(trained.source_tokenizer, texts)
    for n_source, translation in zip(lengths, out, strict=True):
        assert isinstance(translation, str)
        translation.encode("utf-8")  # no lone surrogate
        assert len(translation.split()) <= n_source + EXTRA_LENGTH
        assert (translation == "") or n_source > 2


def test_the_untrained_model_really_runs_to_its_limit(trained):
    """The length bounds above are tight: without [END], output fills the whole limit."""
    (out,) = trained.translate(["the red cat sleeps"], extra_length=EXTRA_LENGTH)
    assert len(out.split()) >= EXTRA_LENGTH
