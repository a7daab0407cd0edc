"""Token and position embeddings for the Transformer.

Introduced in notebook 06 (the Transformer). A Transformer has no recurrence, so the
order of the tokens enters only through a position signal added to the token
embeddings: fixed sinusoids (Vaswani et al. 2017, §3.5) or a learned table.
Shapes use the alphabet of `s2s_keras.layers`; both layers serve the source as well as
the target, so where they read `T` positions, read `S` on the source side.
"""

import math

import keras
from keras import ops

from s2s_keras.checks import one_of, positive_int, without_removed_options

POSITIONAL_KINDS = ("sinusoidal", "learned")
# The longest wavelength of the sinusoids, the paper's value.
MAX_WAVELENGTH = 10000.0


@keras.saving.register_keras_serializable(package="s2s_keras")
class SinusoidalPositionalEmbedding(keras.layers.Layer):
    """Fixed sinusoidal position encodings of Vaswani et al. (2017), §3.5.

    `PE[p, 2i] = sin(p / w^(2i/D))` and `PE[p, 2i+1] = cos(p / w^(2i/D))` with
    `w = 10000` (`MAX_WAVELENGTH`): each pair of dimensions is a rotation at its own
    frequency, so `PE[p + k]` is a linear function of `PE[p]` and the model can attend by
    relative position. Nothing is learned, and any position can be encoded, however long
    the sentence.

    Call arguments:
        inputs: `[B, T, D]` embeddings; only their shape and dtype are read. `D` must be
            even (sines and cosines come in pairs).
        start_index: int or scalar int tensor, the position of the first of the `T`
            inputs. Defaults to 0; incremental decoding passes the current step.

    Returns:
        `[B, T, D]` encodings of positions `start_index … start_index + T - 1`, in the
        dtype of `inputs`, to be added to them.

    Example:

    >>> encodings = SinusoidalPositionalEmbedding()(keras.ops.zeros((1, 3, 4)))
    >>> [round(float(x), 3) for x in encodings[0, 1]]  # position 1: sin 1, cos 1, ...
    [0.841, 0.54, 0.01, 1.0]
    """

    def build(self, inputs_shape):
        width = inputs_shape[-1]
        if width is not None and width % 2:
            raise ValueError(
                f"the embedding width must be even (sine and cosine pairs), got {width!r}"
            )

    def call(self, inputs, start_index=0):
        shape = ops.shape(inputs)
        length, width = shape[1], shape[-1]
        # float32 whatever the compute dtype: float16 cannot even represent position 2049.
        positions = ops.cast(ops.arange(length) + ops.cast(start_index, "int32"), "float32")
        pairs = ops.arange(width // 2, dtype="float32")  # [D/2]
        inverse_frequencies = ops.power(
            MAX_WAVELENGTH, -2.0 * pairs / ops.cast(width, "float32")
        )  # [D/2]
        angles = positions[:, None] * inverse_frequencies[None, :]  # [T, D/2]
        encodings = ops.stack([ops.sin(angles), ops.cos(angles)], axis=-1)  # [T, D/2, 2]
        encodings = ops.reshape(encodings, (length, width))  # [T, D]: sin, cos interleaved
        return ops.broadcast_to(ops.cast(encodings, inputs.dtype), shape)  # [B, T, D]

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    @classmethod
    def from_config(cls, config):
        removed = {"max_wavelength": MAX_WAVELENGTH}
        return cls(**without_removed_options(cls.__name__, config, removed))


@keras.saving.register_keras_serializable(package="s2s_keras")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Token embeddings scaled by `sqrt(D)` plus position embeddings.

    Vaswani et al. (2017), §3.4 and §3.5. The token table is initialised with standard
    deviation `D**-0.5`, so the scaled embeddings have unit variance, the scale of the
    sinusoids they are added to. The same table, transposed, can also turn decoder
    states back into logits (`reverse=True`): the tied output embedding of Press and
    Wolf (2017), which the paper uses too.

    Args:
        vocab_size: `V`, vocabulary size (id 0 is padding).
        d_model: `D`, the embedding width (even for sinusoidal positions).
        max_length: the most positions a learned table holds (sinusoids have no limit).
        positional: `"sinusoidal"` (fixed, §3.5) or `"learned"` (a trained
            `[max_length, D]` table). Defaults to `"sinusoidal"`.

    Call arguments:
        inputs: `[B, T]` int token ids; or, with `reverse=True`, `[B, T, D]` states.
        start_index: int or scalar int tensor, the position of the first token. Defaults
            to 0; incremental decoding passes the current step to embed one token at its
            position.
        reverse: project states onto the token table instead of embedding ids. Defaults
            to False.

    Returns:
        `[B, T, D]` embeddings in the compute dtype; with `reverse=True`, `[B, T, V]`
        float32 logits. Masks are explicit: build them with `padding_mask(ids)`.
    """

    def __init__(self, vocab_size, d_model, max_length, positional="sinusoidal", **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = positive_int("vocab_size", vocab_size)
        self.d_model = positive_int("d_model", d_model)
        self.max_length = positive_int("max_length", max_length)
        self.positional = one_of("positional", positional, POSITIONAL_KINDS)
        if positional == "sinusoidal" and d_model % 2:
            raise ValueError(f"d_model must be even for sinusoidal positions, got {d_model!r}")

    def build(self, inputs_shape):
        self.token_embedding = keras.layers.Embedding(
            self.vocab_size,
            self.d_model,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=self.d_model**-0.5),
            name="token_embedding",
            dtype=self.dtype_policy,
        )
        self.token_embedding.build(inputs_shape)
        if self.positional == "sinusoidal":
            self.position_embedding = SinusoidalPositionalEmbedding(
                name="position_embedding", dtype=self.dtype_policy
            )
            self.position_embedding.build((None, None, self.d_model))
        else:
            self.position_embedding = keras.layers.Embedding(
                self.max_length, self.d_model, name="position_embedding", dtype=self.dtype_policy
            )
            self.position_embedding.build((None,))

    def call(self, inputs, start_index=0, reverse=False):
        if reverse:
            # The table is read in the compute dtype (Keras autocasts variables inside a
            # mixed-precision layer); the product and the logits are float32.
            table = ops.cast(self.token_embedding.embeddings, "float32")  # [V, D]
            return ops.matmul(ops.cast(inputs, "float32"), ops.transpose(table))  # [B, T, V]
        tokens = self.token_embedding(inputs)  # [B, T, D]
        tokens = tokens * ops.cast(math.sqrt(self.d_model), tokens.dtype)
        if self.positional == "sinusoidal":
            return tokens + self.position_embedding(tokens, start_index=start_index)
        positions = ops.arange(ops.shape(inputs)[1]) + ops.cast(start_index, "int32")  # [T]
        return tokens + ops.expand_dims(self.position_embedding(positions), 0)  # [B, T, D]

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "d_model": self.d_model,
            "max_length": self.max_length,
            "positional": self.positional,
        }
