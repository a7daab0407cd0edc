"""Reusable Keras layers; each module names the notebook that introduces it."""

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
