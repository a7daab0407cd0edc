"""Seq2seq models behind one interface (DESIGN §3).

Every model offers:

- `call((source_ids, target_in), training=...)` → logits `[B, T, V]` (teacher forcing);
- `encode(source_ids)` → a state dict;
- `decode_step(state, last_ids, step)` → `(logits [B, V], new_state)`,

so one decoding module (`s2s_keras.decoding`) serves every architecture.
"""

from s2s_keras.models.rnn import AttentionSeq2Seq, AttentionSeq2SeqConfig

__all__ = ["AttentionSeq2Seq", "AttentionSeq2SeqConfig"]
