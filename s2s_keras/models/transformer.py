"""The Transformer encoder-decoder (Vaswani et al. 2017) behind the seq2seq interface.

Introduced in notebook 06 (the Transformer). Decoding uses a key/value cache: `encode`
preallocates, per decoder layer, the self-attention keys and values for `max_length`
positions and computes the cross-attention keys and values of the source once;
`decode_step` embeds one token, writes its keys and values at position `step` and
attends to positions `≤ step`. Every state entry keeps its shape from step to step, so
decoding runs in a `tf.while_loop` and beam search can reorder the state row by row.

Shapes use the alphabet of `s2s_keras.layers`.
"""

from dataclasses import asdict, dataclass

import keras
from keras import ops

from s2s_keras.checks import one_of, positive_int
from s2s_keras.layers.embeddings import POSITIONAL_KINDS, TokenAndPositionEmbedding
from s2s_keras.layers.masking import padding_mask
from s2s_keras.layers.transformer import (
    LAYER_NORM_EPSILON,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
)


@dataclass(frozen=True)
class TransformerConfig:
    """Sizes of a `Transformer`. Defaults train on a laptop CPU (the paper's base model
    is 6+6 layers of width 512, with 8 heads and a 2048-wide feed-forward network)."""

    num_layers: int = 2  # per stack: course corpora are 10^4-10^5 pairs, not WMT's 4.5M
    d_model: int = 128  # one quarter of the paper's width: ~2M weights with 8k vocabularies
    num_heads: int = 4  # heads of size 32, the paper's 64 halved along with the width
    ff_dim: int = 512  # 4 x d_model, the paper's ratio
    dropout: float = 0.1  # the paper's rate: small corpora are memorised without it
    max_length: int = 64  # learned positions and the default cache; the pipeline's cut-off
    norm_first: bool = True  # pre-norm trains without warm-up (Xiong et al. 2020)
    positional: str = "sinusoidal"  # no weights, and sentences may outgrow max_length


@keras.saving.register_keras_serializable(package="s2s_keras")
class Transformer(keras.Model):
    """Transformer encoder-decoder for translation, with a key/value decoding cache.

    Vaswani et al. (2017), "Attention Is All You Need": token embeddings scaled by
    `sqrt(D)` plus positions, `num_layers` encoder blocks, `num_layers` decoder blocks,
    and an output layer tied to the target embedding (§3.4; Press and Wolf 2017): the
    `V x D` table, the largest matrix of a small model, is learned once for both ends
    of the decoder, which also regularises it on small corpora. Pre-norm blocks
    (`norm_first=True`, Xiong et al. 2020) get a final layer normalisation per stack.

    Args:
        source_vocab_size, target_vocab_size: vocabulary sizes (id 0 is padding).
        num_layers: blocks in each of the encoder and decoder. Defaults to 2.
        d_model: `D`. Defaults to 128.
        num_heads: `N`, must divide `d_model`. Defaults to 4.
        ff_dim: `F`, the feed-forward width. Defaults to 512.
        dropout: residual, attention and embedding dropout. Defaults to 0.1.
        max_length: positions of a learned position table and the default cache length
            of `encode`. Defaults to 64.
        norm_first: pre-norm blocks if True, the paper's post-norm if False. Defaults to
            True.
        positional: `"sinusoidal"` or `"learned"`. Defaults to `"sinusoidal"`.

    Call arguments:
        inputs: `(source_ids [B, S], target_in [B, T])` int ids, padded with 0.
        training: Python bool.

    Returns:
        Logits `[B, T, V]` float32.
    """

    def __init__(
        self,
        source_vocab_size,
        target_vocab_size,
        num_layers=2,
        d_model=128,
        num_heads=4,
        ff_dim=512,
        dropout=0.1,
        max_length=64,
        norm_first=True,
        positional="sinusoidal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.source_vocab_size = positive_int("source_vocab_size", source_vocab_size)
        self.target_vocab_size = positive_int("target_vocab_size", target_vocab_size)
        self.num_layers = positive_int("num_layers", num_layers)
        self.d_model = positive_int("d_model", d_model)
        self.num_heads = positive_int("num_heads", num_heads)
        if d_model % num_heads:
            raise ValueError(
                f"d_model must be divisible by num_heads, got d_model={d_model!r} and "
                f"num_heads={num_heads!r}"
            )
        self.positional = one_of("positional", positional, POSITIONAL_KINDS)
        # The blocks and embeddings check the rest.
        self.ff_dim = ff_dim
        self.dropout = dropout
        self.max_length = max_length
        self.norm_first = norm_first
        policy = self.dtype_policy
        embedding = {"max_length": max_length, "positional": positional, "dtype": policy}
        self.source_embedding = TokenAndPositionEmbedding(
            source_vocab_size, d_model, name="source_embedding", **embedding
        )
        self.target_embedding = TokenAndPositionEmbedding(
            target_vocab_size, d_model, name="target_embedding", **embedding
        )
        block = {
            "num_heads": num_heads,
            "ff_dim": ff_dim,
            "dropout": dropout,
            "norm_first": norm_first,
            "dtype": policy,
        }
        self.encoder_blocks = [
            TransformerEncoderBlock(name=f"encoder_block_{i}", **block) for i in range(num_layers)
        ]
        self.decoder_blocks = [
            TransformerDecoderBlock(name=f"decoder_block_{i}", **block) for i in range(num_layers)
        ]
        # Pre-norm blocks add unnormalised updates to the residual stream: normalise it
        # once at the end of each stack. Post-norm blocks end normalised already.
        if norm_first:
            self.encoder_norm = keras.layers.LayerNormalization(
                epsilon=LAYER_NORM_EPSILON, name="encoder_norm", dtype=policy
            )
            self.decoder_norm = keras.layers.LayerNormalization(
                epsilon=LAYER_NORM_EPSILON, name="decoder_norm", dtype=policy
            )
        self.embedding_dropout = keras.layers.Dropout(
            dropout, name="embedding_dropout", dtype=policy
        )

    @classmethod
    def from_config_object(cls, config: TransformerConfig, source_vocab_size, target_vocab_size):
        return cls(source_vocab_size, target_vocab_size, **asdict(config))

    def build(self, input_shape):
        source_shape, target_shape = input_shape
        width = (None, None, self.d_model)
        self.source_embedding.build(source_shape)
        self.target_embedding.build(target_shape)
        for block in self.encoder_blocks:
            block.build(width)
        for block in self.decoder_blocks:
            block.build(width, width)
        if self.norm_first:
            self.encoder_norm.build(width)
            self.decoder_norm.build(width)

    def _encode(self, source_ids, training):
        """`[B, S]` ids → `(memory [B, S, D], memory_mask [B, S])`."""
        memory_mask = padding_mask(source_ids)  # [B, S]
        x = self.embedding_dropout(self.source_embedding(source_ids), training=training)
        for block in self.encoder_blocks:
            x = block(x, padding_mask=memory_mask, training=training)  # [B, S, D]
        if self.norm_first:
            x = self.encoder_norm(x)
        return x, memory_mask

    def _logits(self, x):
        if self.norm_first:
            x = self.decoder_norm(x)
        return self.target_embedding(x, reverse=True)  # [B, T, V] float32

    def call(self, inputs, training=None):
        source_ids, target_in = inputs
        memory, memory_mask = self._encode(source_ids, training)
        x = self.embedding_dropout(self.target_embedding(target_in), training=training)
        target_mask = padding_mask(target_in)  # [B, T]
        for block in self.decoder_blocks:
            x = block(
                x,
                memory,
                padding_mask=target_mask,
                memory_mask=memory_mask,
                training=training,
            )  # [B, T, D]
        return self._logits(x)

    def encode(self, source_ids, max_length=None):
        """Encode the source and preallocate the decoding cache.

        Args:
            source_ids: `[B, S]` int ids, padded with 0.
            max_length: `L`, int or scalar int tensor, the most `decode_step` calls the
                state serves (steps `0 … L-1`). Defaults to the model's `max_length`.
                Decoding past it would overwrite the last cache slot: pass the decoding
                length.

        Returns:
            The state dict; every entry has the batch as its leading dim:
            `memory_mask [B, S]` bool; `self_attention_cache`, per decoder layer a
            `(keys, values)` pair of zeros `[B, L, N, K]`; `cross_attention_cache`, per
            decoder layer the `(keys, values)` of the encoder output `[B, S, N, K]`;
            `attention [B, S]` float32, filled by each step.
        """
        if max_length is None:
            max_length = self.max_length
        elif (
            self.positional == "learned"
            and isinstance(max_length, int)
            and max_length > self.max_length
        ):
            raise ValueError(
                f"max_length must be at most the model's max_length={self.max_length} with "
                f"learned positions, got {max_length!r}; decode fewer steps or train with "
                "sinusoidal positions"
            )
        if not self.built:
            # `encode` reaches into the decoder's sublayers, which only `build` creates.
            self.build(((None, None), (None, None)))
        memory, memory_mask = self._encode(source_ids, training=False)
        batch = ops.shape(source_ids)[0]
        head_size = self.d_model // self.num_heads
        cache_shape = (batch, max_length, self.num_heads, head_size)  # [B, L, N, K]
        dtype = self.compute_dtype
        return {
            "memory_mask": memory_mask,  # [B, S]
            "self_attention_cache": [
                (ops.zeros(cache_shape, dtype), ops.zeros(cache_shape, dtype))
                for _ in self.decoder_blocks
            ],
            "cross_attention_cache": [
                block.cross_attention.compute_key_value(memory)  # [B, S, N, K] twice
                for block in self.decoder_blocks
            ],
            "attention": ops.zeros(ops.shape(memory_mask), "float32"),  # [B, S]
        }

    def decode_step(self, state, last_ids, step):
        """One decoding step with the key/value cache.

        Args:
            state: from `encode` or a previous `decode_step`.
            last_ids: `[B]` int ids of the previous token (`[START]` at step 0).
            step: int or scalar int tensor, the position of `last_ids` (0 at the first
                step); must be below the cache length `L`.

        Returns:
            `(logits [B, V] float32, new_state)`; `new_state` has the structure and
            shapes of `state`, with this step's keys and values written at `step` and
            `attention [B, S]` the last layer's cross-attention averaged over heads.
        """
        step = ops.cast(step, "int32")
        x = self.target_embedding(ops.expand_dims(last_ids, 1), start_index=step)  # [B, 1, D]
        self_attention_cache = []
        for block, self_cache, cross_cache in zip(
            self.decoder_blocks,
            state["self_attention_cache"],
            state["cross_attention_cache"],
            strict=True,
        ):
            x, self_cache, weights = block(
                x,
                memory_mask=state["memory_mask"],
                self_attention_cache=self_cache,
                cache_update_index=step,
                cross_attention_cache=cross_cache,
                return_attention_scores=True,
                training=False,
            )  # [B, 1, D], ([B, L, N, K], [B, L, N, K]), [B, N, 1, S]
            self_attention_cache.append(self_cache)
        new_state = {
            **state,
            "self_attention_cache": self_attention_cache,
            "attention": ops.mean(weights[:, :, 0, :], axis=1),  # [B, N, S] → [B, S]
        }
        return self._logits(x)[:, 0, :], new_state  # [B, V]

    def cross_attention_weights(self, source_ids, target_in):
        """Every decoder layer's cross-attention, head by head, from a teacher-forced pass.

        Notebook 06 draws one map per head. `decode_step` keeps only the last layer's
        weights averaged over heads (`state["attention"]`); this runs the decoder as
        `call(..., training=False)` does and keeps them all.

        Args:
            source_ids: `[B, S]` int ids, padded with 0.
            target_in: `[B, T]` int ids starting with `[START]`, padded with 0.

        Returns:
            A list with one `[B, N, T, S]` float32 tensor per decoder layer, first layer
            first: how much each head looked at each source token for each position.
        """
        if not self.built:
            self.build(((None, None), (None, None)))
        memory, memory_mask = self._encode(source_ids, training=False)
        x = self.target_embedding(target_in)  # [B, T, D]
        target_mask = padding_mask(target_in)  # [B, T]
        weights = []
        for block in self.decoder_blocks:
            x, layer_weights = block(
                x,
                memory,
                padding_mask=target_mask,
                memory_mask=memory_mask,
                return_attention_scores=True,
                training=False,
            )  # [B, T, D], [B, N, T, S]
            weights.append(layer_weights)
        return weights

    def get_config(self):
        return {
            **super().get_config(),
            "source_vocab_size": self.source_vocab_size,
            "target_vocab_size": self.target_vocab_size,
            "num_layers": self.num_layers,
            "d_model": self.d_model,
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "dropout": self.dropout,
            "max_length": self.max_length,
            "norm_first": self.norm_first,
            "positional": self.positional,
        }
