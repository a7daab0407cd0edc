"""A trained model together with its tokenizers and settings, saved as one directory.

Introduced in notebook 02. The directory that `s2s-keras train` writes, and that
`translate`, `evaluate` and `export` read:

    model.keras          the Keras model (architecture + weights)
    source_tokenizer/    vocab.txt + tokenizer.json
    target_tokenizer/    vocab.txt + tokenizer.json
    run.json             corpus, direction, settings, seed, training time, hardware
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import keras

from s2s_keras import atomic, decoding, models  # noqa: F401  (models registers the classes load_model needs)
from s2s_keras.errors import S2SError
from s2s_keras.text import Tokenizer, load_tokenizer

SIDES = ("source", "target")


@dataclass
class TrainedModel:
    """A model, the tokenizers it was trained with, and a record of how.

    Args:
        model: a seq2seq model with the interface of `s2s_keras.models`.
        source_tokenizer, target_tokenizer: its tokenizers.
        info: JSON-serialisable facts about the run (corpus, settings, timings).
    """

    model: keras.Model
    source_tokenizer: Tokenizer
    target_tokenizer: Tokenizer
    info: dict = field(default_factory=dict)

    @property
    def languages(self) -> tuple[str, ...]:
        """The target languages of a multilingual model (notebook 10); `()` for others."""
        return tuple(self.info.get("languages") or ())

    def translate(self, sentences, *, target_lang: str | None = None, **kwargs) -> list[str]:
        """Translations of raw sentences (greedy unless `method=` says otherwise).

        Args:
            sentences: raw source sentences.
            target_lang: the language to translate into, for a multilingual model (each
                sentence gets its token, `"<2fr>"`); `None` for a bilingual model, or for
                sentences that carry their token already.
            **kwargs: go to `s2s_keras.decoding.translate` (`method`, `beam_size`,
                `alpha`, `batch_size`, `progress`, ...).

        Raises:
            UnknownLanguageError: `target_lang` is not one the model translates into.
        """
        from s2s_keras import multilingual

        if target_lang is not None:
            if self.languages:
                multilingual.check_language(target_lang, self.languages)
                sentences = multilingual.add_language_token(list(sentences), target_lang)
            elif target_lang != self.info.get("target_lang"):
                raise multilingual.UnknownLanguageError(
                    f"target language {target_lang!r}: this model translates only into "
                    f"{self.info.get('target_lang')!r}"
                )
        kwargs.setdefault("max_source_length", self.info.get("max_length", 64))
        return decoding.translate(
            self.model, self.source_tokenizer, self.target_tokenizer, sentences, **kwargs
        )

    def save(self, directory: str | Path) -> Path:
        """Write the directory atomically (`atomic.replacing`): a crash or an error
        mid-save leaves the previous directory, if any, readable at its path."""
        directory = Path(directory)
        with atomic.replacing(directory, directory=True) as tmp:
            self.model.save(tmp / "model.keras")
            self.source_tokenizer.save(tmp / "source_tokenizer")
            self.target_tokenizer.save(tmp / "target_tokenizer")
            (tmp / "run.json").write_text(json.dumps(self.info, indent=2) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> TrainedModel:
        """Load a directory written by `save`.

        Raises:
            S2SError: the directory is missing, incomplete or corrupt (one line saying which).
        """
        directory = Path(directory)
        if not directory.is_dir():
            problem = "is not a directory" if directory.exists() else "does not exist"
            raise S2SError(
                f"model directory {str(directory)!r} {problem}; "
                "create one with `s2s-keras train --out DIR` or `s2s-keras demo`"
            )
        missing = [
            name
            for name in ("model.keras", "source_tokenizer", "target_tokenizer", "run.json")
            if not (directory / name).exists()
        ]
        if missing:
            raise S2SError(
                f"{str(directory)!r} is not a complete model directory: missing "
                f"{', '.join(missing)}"
            )
        try:
            info = json.loads((directory / "run.json").read_text())
            model = keras.saving.load_model(directory / "model.keras", compile=False)
        except Exception as e:
            raise S2SError(
                f"cannot load the model in {str(directory)!r}: {type(e).__name__}: "
                f"{str(e).splitlines()[0] if str(e) else ''} (the file may be truncated or "
                "from an incompatible version; train it again)"
            ) from None
        tokenizers = {side: load_tokenizer(directory / f"{side}_tokenizer") for side in SIDES}
        for side, tokenizer in tokenizers.items():
            expected = getattr(model, f"{side}_vocab_size", tokenizer.vocab_size)
            if tokenizer.vocab_size != expected:
                # Files of two runs mixed up: decoding would index past the embeddings.
                raise S2SError(
                    f"{str(directory)!r}: the {side} tokenizer has {tokenizer.vocab_size} "
                    f"tokens but the model expects {expected}; the directory mixes files "
                    "of different runs, train or copy it again"
                )
        return cls(model, tokenizers["source"], tokenizers["target"], info)
