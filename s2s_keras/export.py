"""Export a trained model as a string-in, string-out SavedModel.

Introduced in notebook 07 (evaluation and export). The SavedModel holds the two
tokenizers, the model's weights and the decoding loop, so serving it needs no Python
from this package: only TensorFlow and tensorflow-text (whose ops the tokenizers use).

    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the text ops before loading)

    translator = tf.saved_model.load("exported")
    translator.translate(tf.constant(["The red cat sleeps."]))  # → [B] tf.string
    translator.signatures["serving_default"](text=tf.constant(["..."]))["translation"]

Behaviour, whatever the input: one output per input, in input order; an empty or
whitespace-only sentence translates to `""`; a source longer than the model's maximum
length is truncated (as in training); any Unicode, even invalid UTF-8, gives a string.
Each sentence may grow by `extra_length` tokens over its own source length, so its
translation does not depend on what else is in the batch.

A multilingual model (notebook 10) keeps that contract, translating into English; its
`translate_to(text, target_lang)` function and signature take the target language too
(a scalar string such as `"fr"`); a language it does not know is an
`InvalidArgumentError` naming the ones it does:

    translator.translate_to(tf.constant(["I love you."]), tf.constant("fr"))
    translator.signatures["translate_to"](text=..., target_lang=tf.constant("fr"))

Shapes: `B` batch, `S` source length, `L` output length.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import tensorflow as tf

from s2s_keras import atomic, checks, decoding
from s2s_keras.bundle import TrainedModel
from s2s_keras.errors import S2SError
from s2s_keras.text import END_ID, PAD_ID, START_ID, Tokenizer

SIGNATURE_INPUT = "text"
SIGNATURE_OUTPUT = "translation"
ATTENTION_SIGNATURE = "translate_with_attention"
TRANSLATE_TO_SIGNATURE = "translate_to"
TARGET_LANG_INPUT = "target_lang"
METADATA = "export.json"


class Translator(tf.Module):
    """Tokenizers + model + decoding as one `tf.Module`: raw text in, translations out.

    `translate` follows the contract of in-memory translation (`decoding.translate`):
    it runs the same `decoding.translate_ids`, with greedy decoding or beam search
    traced into the SavedModel.

    Args:
        model: a built seq2seq model with `encode` / `decode_step` (`s2s_keras.models`).
        source_tokenizer, target_tokenizer: the tokenizers it was trained with.
        max_source_length: sources are truncated to this many tokens (markers included),
            as in training.
        extra_length: a translation may be this many tokens longer than its source.
            Defaults to 10.
        beam_size: beam width; 1 decodes greedily (beam search of width 1 is greedy
            decoding, at a higher cost). Defaults to 4.
        alpha: length-normalisation strength of beam search (Wu et al. 2016). Defaults
            to 0.6.
        max_repeats: no token more than this many times in a row
            (`decoding.greedy_decode`); `None`: no limit.
        languages: the target languages of a multilingual model, English among them:
            `translate` then translates into English, and `translate_to` exists. `()`
            (the default) for a bilingual model.
        name: module name.
    """

    def __init__(
        self,
        model,
        source_tokenizer: Tokenizer,
        target_tokenizer: Tokenizer,
        *,
        max_source_length: int,
        extra_length: int = 10,
        beam_size: int = 4,
        alpha: float = 0.6,
        max_repeats: int | None = None,
        languages: tuple[str, ...] = (),
        name: str | None = None,
    ):
        super().__init__(name=name)
        self._languages = tuple(languages)
        if self._languages:
            self._language_codes = tf.constant(self._languages)
            self.translate_to = tf.function(
                self._translate_to,
                input_signature=[
                    tf.TensorSpec([None], tf.string, name=SIGNATURE_INPUT),
                    tf.TensorSpec([], tf.string, name=TARGET_LANG_INPUT),
                ],
                autograph=False,
            )
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
        # Track the weights the translation reads, not the Keras model: tracking the model
        # would also save its optimizer's slots (twice the weights again), which serving
        # never reads. The model is reached through the (untracked) decoding closure.
        self.model_variables = list(model.variables)
        self._decode = functools.partial(
            decoding.decode_tokens,
            model,
            method="greedy" if beam_size == 1 else "beam",
            beam_size=beam_size,
            alpha=alpha,
            max_repeats=max_repeats,
        )
        self._max_source_length = max_source_length
        self._extra_length = extra_length
        self._attend = functools.partial(decoding.forced_attention, model)
        # Ids → token strings inside the graph, for the attention signature's labels.
        self._source_vocab = tf.constant(source_tokenizer.vocab)
        self._target_vocab = tf.constant(target_tokenizer.vocab)

    # No AutoGraph: this code has no Python control flow over tensors (the decoding
    # functions it calls are `tf.function`s with their own AutoGraph setting).
    @tf.function(
        input_signature=[tf.TensorSpec([None], tf.string, name=SIGNATURE_INPUT)], autograph=False
    )
    def translate(self, text):
        """`[B]` raw sentences → `[B]` translations (`tf.string`); into English for a
        multilingual model."""
        if self._languages:
            return self._translate_into(text, tf.constant("en"))
        ids = decoding.tokenize_sources(self.source_tokenizer, text, self._max_source_length)
        return decoding.translate_ids(
            ids, self._decode, self.target_tokenizer, extra_length=self._extra_length
        )

    def _translate_to(self, text, target_lang):
        """`[B]` raw sentences and a target language → `{"translation": [B] strings}`."""
        known = tf.reduce_any(tf.equal(self._language_codes, target_lang))
        check = tf.debugging.Assert(
            known,
            [
                "unknown target language",
                target_lang,
                "; expected one of: " + ", ".join(self._languages),
            ],
        )
        with tf.control_dependencies([check]):
            return {SIGNATURE_OUTPUT: self._translate_into(text, target_lang)}

    def _translate_into(self, text, target_lang):
        """`[B]` sentences, each with the token of `target_lang` unless it has no words."""
        plain = decoding.tokenize_sources(self.source_tokenizer, text, self._max_source_length)
        blank = ~decoding.has_words(tf.cast(plain.row_lengths(), tf.int32))
        tagged = tf.strings.join(["<2", target_lang, "> ", text])
        ids = decoding.tokenize_sources(
            self.source_tokenizer, tf.where(blank, text, tagged), self._max_source_length
        )
        return decoding.translate_ids(
            ids, self._decode, self.target_tokenizer, extra_length=self._extra_length
        )

    @tf.function(
        input_signature=[tf.TensorSpec([None], tf.string, name=SIGNATURE_INPUT)], autograph=False
    )
    def translate_with_attention(self, text):
        """The `translate_with_attention` signature: each translation and what it attended to.

        Only for models with attention (`has_attention`). The translation is the one
        `translate` gives; its attention is `decoding.forced_attention` of it.

        Returns:
            A dict: `"translation"` `[B]` strings; `"source_tokens"` `[B, S]` and
            `"output_tokens"` `[B, L]` token strings (`""` for padding, `[END]`
            included); `"attention"` `[B, layers, N, L, S]` float32 (`layers = N = 1`
            for a recurrent model), zero for padding and for sentences without words.
        """
        ids = decoding.tokenize_sources(self.source_tokenizer, text, self._max_source_length)
        lengths = tf.cast(ids.row_lengths(), tf.int32)  # [B]
        source = ids.to_tensor(default_value=PAD_ID)  # [B, S]
        has_words = decoding.has_words(lengths)  # [B]

        def decode_all():
            limit = lengths + self._extra_length  # [B]
            tokens = self._decode(source, limit)  # [B, L]
            steps = tf.range(tf.shape(tokens)[1])[None, :]  # [1, L]
            keep = (steps < limit[:, None]) & has_words[:, None]
            tokens = tf.where(keep, tokens, tf.constant(PAD_ID, tokens.dtype))
            return tokens, self._attend(source, tokens)

        def nothing():
            return tf.zeros([0, 0], tf.int64), tf.zeros([0, 1, 1, 0, 0], tf.float32)

        # Beam search cannot take zero sentences; an empty batch has nothing to decode.
        tokens, attention = tf.cond(tf.size(lengths) > 0, decode_all, nothing)
        translation = self.target_tokenizer.detokenize(tokens)  # [B]
        return {
            SIGNATURE_OUTPUT: tf.where(has_words, translation, ""),
            "source_tokens": _token_strings(self._source_vocab, source),
            "output_tokens": _token_strings(self._target_vocab, tokens),
            "attention": attention,
        }

    @tf.function(
        input_signature=[tf.TensorSpec([None], tf.string, name=SIGNATURE_INPUT)], autograph=False
    )
    def serve(self, text):
        """The `serving_default` signature: `{"translation": translate(text)}`."""
        return {SIGNATURE_OUTPUT: self.translate(text)}


def _token_strings(vocab, ids):
    """`[B, X]` ids → their token strings, `""` for padding."""
    return tf.where(ids == PAD_ID, "", tf.gather(vocab, ids))


def has_attention(model) -> bool:
    """Whether `model` has attention to show (its decoding state has `"attention"`)."""
    if hasattr(model, "cross_attention_weights"):
        return True
    return "attention" in model.encode(tf.constant([[START_ID, END_ID]], tf.int64))


def export_saved_model(
    trained: TrainedModel,
    out_dir: str | Path,
    *,
    beam_size: int = 4,
    alpha: float = 0.6,
    max_source_length: int | None = None,
    extra_length: int = 10,
    max_repeats: int | None = None,
) -> Path:
    """Write `trained` as a SavedModel with `translate` and a `serving_default` signature.

    The directory is written atomically: a failure leaves nothing behind (and an
    existing export at `out_dir` intact).

    Args:
        trained: the model and its tokenizers.
        out_dir: the SavedModel directory to create; an existing one must be empty or
            hold a previous export, which is replaced.
        beam_size: beam width; 1 decodes greedily. Defaults to 4.
        alpha: length-normalisation strength of beam search. Defaults to 0.6.
        max_source_length: sources are truncated to this many tokens (markers included).
            Defaults to the `max_length` the model was trained with (64 if unknown).
        extra_length: a translation may be this many tokens longer than its source.
            Defaults to 10.
        max_repeats: no token more than this many times in a row in a translation
            (`decoding.greedy_decode`). Defaults to `None`: no limit.

    Raises:
        S2SError: `out_dir` is a file or a non-empty directory that is not a SavedModel.
        ValueError: a setting is out of range.

    Returns:
        `out_dir` as a `Path`. Besides the SavedModel it holds `assets.extra/export.json`:
        these settings and the model's `trained.info` (corpus, direction, sizes).
    """
    beam_size = checks.positive_int("beam_size", beam_size)
    alpha = checks.non_negative_number("alpha", alpha)
    if max_source_length is None:
        max_source_length = int(trained.info.get("max_length", 64))
    # At least [START], a token, [END].
    max_source_length = checks.int_in_range("max_source_length", max_source_length, 3, 10**6)
    extra_length = checks.non_negative_int("extra_length", extra_length)
    if max_repeats is not None:
        max_repeats = checks.positive_int("max_repeats", max_repeats)
    out_dir = Path(out_dir)
    if out_dir.is_file() or (
        out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / "saved_model.pb").exists()
    ):
        # `--out` pointing at the model directory by mistake must not delete the model.
        raise S2SError(
            f"refusing to replace {str(out_dir)!r}: it is not a SavedModel directory; "
            "give --out a new or empty directory, or a previous export"
        )
    settings = {
        "beam_size": beam_size,
        "alpha": alpha,
        "max_source_length": max_source_length,
        "extra_length": extra_length,
        "max_repeats": max_repeats,
    }

    model = trained.model
    if not model.built:
        # The exported function may not create variables: build them here, eagerly.
        model.encode(tf.constant([[START_ID, END_ID]], tf.int64))
    translator = Translator(
        model,
        trained.source_tokenizer,
        trained.target_tokenizer,
        max_source_length=max_source_length,
        extra_length=extra_length,
        beam_size=beam_size,
        alpha=alpha,
        max_repeats=max_repeats,
        languages=trained.languages,
    )
    signatures = {"serving_default": translator.serve}
    if trained.languages:
        signatures[TRANSLATE_TO_SIGNATURE] = translator.translate_to
    if has_attention(model):
        signatures[ATTENTION_SIGNATURE] = translator.translate_with_attention
    # Written beside `out_dir`, then swapped in: an error keeps a previous export.
    with atomic.replacing(out_dir, directory=True) as tmp:
        tf.saved_model.save(translator, str(tmp), signatures=signatures)
        # `assets.extra/` holds files for people and tools, not for the graph (the place
        # TensorFlow Serving reads its warm-up requests from).
        (tmp / "assets.extra").mkdir()
        (tmp / "assets.extra" / METADATA).write_text(
            json.dumps(
                {**settings, "signature": [SIGNATURE_INPUT, SIGNATURE_OUTPUT], "run": trained.info},
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
    return out_dir


def load_translator(path: str | Path):
    """Load a SavedModel written by `export_saved_model` (tensorflow-text imported first).

    Returns:
        The restored object: `.translate(tf.constant([...]))` → `[B]` `tf.string`, and
        `.signatures["serving_default"]`.

    Raises:
        S2SError: the directory is missing, not a SavedModel, or corrupt (one line).
    """
    from s2s_keras.tf_text import tensorflow_text  # noqa: F401  (registers the text ops)

    path = Path(path)
    if not path.is_dir():
        problem = "is not a directory" if path.exists() else "does not exist"
        raise S2SError(
            f"SavedModel directory {str(path)!r} {problem}; "
            "create one with `s2s-keras export --model DIR --out SAVEDMODEL_DIR`"
        )
    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise S2SError(
            f"cannot load the SavedModel in {str(path)!r}: {type(e).__name__}: {first} "
            "(it may be truncated or incomplete; export it again)"
        ) from None
    if not hasattr(loaded, "translate"):
        raise S2SError(
            f"the SavedModel in {str(path)!r} has no `translate` function; "
            "it was not written by `s2s-keras export`"
        )
    return loaded
