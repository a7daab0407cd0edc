"""The analytic FLOP model of the benchmark suite: matmul FLOPs per sentence pair.

`s2s-keras bench` divides these counts by the measured training throughput to report
the FLOP utilisation of every model; `docs/performance.md` (Definitions) states the same
formulas, and notebook 08 reads the table they produce.

Only matrix multiplications are counted, at 2 FLOPs per multiply-add; gathers
(embedding lookups), biases and element-wise work (gates, tanh, softmax, layer
normalisation) are left out. For one sentence pair with `S` real source tokens and `T`
real target tokens (markers included, padding not), the forward pass costs:

- bidirectional GRU encoder (embedding `E`, `U` units per direction, a GRU step is
  `x W` with `W` `[in, 3U]` plus `h R` with `R` `[U, 3U]`):
  `S * 2 * 6U(E + U)`, plus the bridge to the decoder's first state `2 D H` once
  (`D = H = 2U`);
- `seq2seq` decoder (`ContextDecoder`, GRU input `[e; c]`, readout `[s; c; e]`):
  `T * (6H(E + D + H) + 2(H + D + E) V)`;
- attention decoder (`AttentionDecoder`): per target token the GRU `6H(E + H)` (input
  feeding: `6H(E + 2H)`), the context `2 S D`, the combine layer `2(D + H) H` and the
  logits `2 H V`; plus the score: Bahdanau / Luong concat `2 H A + 2 A S` per target
  token and `2 D A` per source token for the keys (`A = H`); Luong general `2 H S` per
  target token and `2 D H` per source token; Luong dot `2 H S` per target token;
- Transformer (`L` layers, width `d`, feed-forward `f`, tied output of `V`): per encoder
  layer `S * (8d² + 4 S d + 4 d f)` (Q, K, V, O projections; scores and context; FFN);
  per decoder layer `T * (8d² + 4 T d)` (self-attention over the whole target, as
  computed), `4 d² S` (cross-attention keys and values), `T * (4d² + 4 S d + 4 d f)`
  (cross-attention queries, output, scores and context; FFN); plus `2 d V T` for the
  logits.

Training costs 3x the forward pass (the backward pass computes two matmuls for each
forward one): `training_flops_per_token = 3 * sum(forward(S_i, T_i)) / sum(T_i)`, so
padding is not counted as useful work.
"""

from __future__ import annotations

import numpy as np

from s2s_keras.models import AttentionSeq2SeqConfig, Seq2SeqConfig, TransformerConfig


def forward_flops(config, target_vocab_size, source_length, target_length):
    """Matmul FLOPs of one forward pass over one sentence pair (see the module docstring).

    Args:
        config: a `Seq2SeqConfig`, `AttentionSeq2SeqConfig` or `TransformerConfig`.
        target_vocab_size: `V`.
        source_length, target_length: `S` and `T`, real tokens (ints or NumPy int arrays,
            one entry per sentence).

    Returns:
        FLOPs (2 per multiply-add), of the type of the lengths.
    """
    S, T, V = source_length, target_length, target_vocab_size  # noqa: N806 (paper names)
    if isinstance(config, TransformerConfig):
        d, f, layers = config.d_model, config.ff_dim, config.num_layers
        encoder = S * (8 * d * d + 4 * S * d + 4 * d * f)
        decoder = (
            T * (8 * d * d + 4 * T * d) + 4 * d * d * S + T * (4 * d * d + 4 * S * d + 4 * d * f)
        )
        return layers * (encoder + decoder) + 2 * d * V * T
    if not isinstance(config, (Seq2SeqConfig, AttentionSeq2SeqConfig)):
        raise TypeError(
            f"forward_flops expects a Seq2SeqConfig, AttentionSeq2SeqConfig or "
            f"TransformerConfig, got {config!r}; build one with `models.model_config(name)`"
        )
    E, U = config.embedding_dim, config.units  # noqa: N806
    D = H = 2 * U  # noqa: N806
    flops = S * 2 * 6 * U * (E + U) + 2 * D * H  # bi-GRU encoder, bridge
    if isinstance(config, Seq2SeqConfig):
        return flops + T * (6 * H * (E + D + H) + 2 * (H + D + E) * V)
    gru_input = E + H if config.input_feeding else E
    per_target = 6 * H * (gru_input + H) + 2 * S * D + 2 * (D + H) * H + 2 * H * V
    if config.attention in ("bahdanau", "concat"):
        A = H  # noqa: N806 (AttentionDecoder's attention_units default)
        flops = flops + 2 * D * A * S
        per_target = per_target + 2 * H * A + 2 * A * S
    elif config.attention == "general":
        flops = flops + 2 * D * H * S
        per_target = per_target + 2 * H * S
    else:  # "dot"
        per_target = per_target + 2 * H * S
    return flops + T * per_target


def training_flops_per_token(config, target_vocab_size, source_lengths, target_lengths) -> float:
    """Training FLOPs per real target token: `3 * sum(forward_flops) / sum(target_lengths)`.

    Args:
        config, target_vocab_size: as for `forward_flops`.
        source_lengths, target_lengths: real lengths, one entry per sentence pair.

    Returns:
        A float.
    """
    source_lengths = np.asarray(source_lengths, np.int64)
    target_lengths = np.asarray(target_lengths, np.int64)
    total = forward_flops(config, target_vocab_size, source_lengths, target_lengths).sum()
    return 3.0 * float(total) / float(target_lengths.sum())
