"""Reusable Keras layers; each module names the notebook that introduces it."""

from s2s_keras.layers.attention import BahdanauAttention
from s2s_keras.layers.decoders import AttentionDecoder
from s2s_keras.layers.encoders import RNNEncoder
from s2s_keras.layers.masking import masked_softmax, padding_mask

__all__ = ["AttentionDecoder", "BahdanauAttention", "RNNEncoder", "masked_softmax", "padding_mask"]
