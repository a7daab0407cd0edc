"""Seq2seq models behind one interface, and the registry the CLI uses.

Every model offers:

- `call((source_ids, target_in), training=...)` → logits `[B, T, V]` (teacher forcing);
- `encode(source_ids, max_length=None)` → a state dict, every entry batch-major;
- `decode_step(state, last_ids, step)` → `(logits [B, V], new_state)`,

so one decoding module (`s2s_keras.decoding`) serves every architecture. The
encoder-only `DualEncoder` of notebook 01 (translation retrieval) is here too, with its
training loss; it has no decoder, so the `--model` registry does not offer it. Its
dataset is in `s2s_keras.pipeline`, its metrics in `s2s_keras.evaluation`. Nothing here
imports tensorflow-text: the models take token ids.
"""

from dataclasses import replace

from s2s_keras.models.encoder_only import DualEncoder, DualEncoderConfig, in_batch_softmax_loss
from s2s_keras.models.rnn import AttentionSeq2Seq, AttentionSeq2SeqConfig, Seq2Seq, Seq2SeqConfig
from s2s_keras.models.transformer import Transformer, TransformerConfig

# The architectures of the course, by the names the command line takes. Luong's models
# use input feeding, as in his paper (§3.3); notebook 05 measures what it costs.
DEFAULT_CONFIGS = {
    "seq2seq": Seq2SeqConfig(),
    "bahdanau": AttentionSeq2SeqConfig(),
    "luong-dot": AttentionSeq2SeqConfig(attention="dot", input_feeding=True),
    "luong-general": AttentionSeq2SeqConfig(attention="general", input_feeding=True),
    "luong-concat": AttentionSeq2SeqConfig(attention="concat", input_feeding=True),
    "transformer": TransformerConfig(),
}
MODEL_NAMES = tuple(DEFAULT_CONFIGS)
_CLASSES = {
    Seq2SeqConfig: Seq2Seq,
    AttentionSeq2SeqConfig: AttentionSeq2Seq,
    TransformerConfig: Transformer,
}


def model_config(name: str, **overrides):
    """The default config of a named architecture, with `overrides` applied.

    Raises:
        ValueError: unknown `name` (the message lists the valid ones) or override field.
    """
    if name not in DEFAULT_CONFIGS:
        raise ValueError(f"unknown model {name!r}; expected one of: {', '.join(MODEL_NAMES)}")
    return replace(DEFAULT_CONFIGS[name], **overrides)


def build_model(config, source_vocab_size: int, target_vocab_size: int):
    """A fresh, unbuilt model for a config dataclass from this module."""
    try:
        cls = _CLASSES[type(config)]
    except KeyError:
        raise TypeError(
            f"expected one of {[c.__name__ for c in _CLASSES]}, got {config!r}"
        ) from None
    return cls.from_config_object(config, source_vocab_size, target_vocab_size)


__all__ = [
    "DEFAULT_CONFIGS",
    "DualEncoder",
    "DualEncoderConfig",
    "in_batch_softmax_loss",
    "MODEL_NAMES",
    "AttentionSeq2Seq",
    "AttentionSeq2SeqConfig",
    "Seq2Seq",
    "Seq2SeqConfig",
    "Transformer",
    "TransformerConfig",
    "build_model",
    "model_config",
]
