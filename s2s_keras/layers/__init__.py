"""Reusable Keras layers; each module names the notebook that introduces it.

Shapes. The docstrings and shape comments of `s2s_keras.layers` and `s2s_keras.models`
write tensor shapes with one alphabet, one meaning per letter:

- `B`: batch size.
- `S`: source length; the keys and values that attention reads.
- `T`: target length; the queries of attention.
- `L`: length of a decoding cache, the most decoding steps it holds.
- `V`: vocabulary size.
- `E`: width of the token embeddings.
- `H`: hidden units of a recurrent decoder: the width of its state.
- `D`: model width: the width of the encoder outputs (the memory attention reads), which
  is `2 * units` for the bidirectional recurrent encoder and `d_model` in the
  Transformer, where it is also the width of every block's inputs and outputs.
- `A`: units of the hidden layer of an additive attention score.
- `N`: attention heads.
- `K`: size of one head, `D / N`.
- `F`: hidden width of the Transformer's feed-forward network.

Masks are boolean, True where attention is allowed (`padding_mask` marks real tokens),
and passed as arguments; the attention layers also read the Keras mask of their values,
as `keras.layers.MultiHeadAttention` does.
"""

from s2s_keras.layers.attention import BahdanauAttention, LuongAttention
from s2s_keras.layers.decoders import AttentionDecoder, ContextDecoder
from s2s_keras.layers.embeddings import SinusoidalPositionalEmbedding, TokenAndPositionEmbedding
from s2s_keras.layers.encoders import RNNEncoder
from s2s_keras.layers.masking import masked_softmax, padding_mask
from s2s_keras.layers.transformer import (
    MultiHeadAttention,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
    causal_mask,
    copy_keras_attention_weights,
    merge_masks,
)

__all__ = [
    "AttentionDecoder",
    "BahdanauAttention",
    "ContextDecoder",
    "LuongAttention",
    "MultiHeadAttention",
    "RNNEncoder",
    "SinusoidalPositionalEmbedding",
    "TokenAndPositionEmbedding",
    "TransformerDecoderBlock",
    "TransformerEncoderBlock",
    "causal_mask",
    "copy_keras_attention_weights",
    "masked_softmax",
    "merge_masks",
    "padding_mask",
]
