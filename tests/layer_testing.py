"""The checks every layer of `s2s_keras.layers` must pass, in one helper.

After keras-hub's `TestCase.run_layer_test`: `run_layer_test` builds a layer from its
arguments and checks the whole Keras contract on tiny inputs. The layer's own tests add
what only they can: hand-computed outputs, masks, argument errors.
"""

import tempfile
from pathlib import Path

import keras
import numpy as np
from keras import ops, tree


def _is_shape(value):
    return isinstance(value, tuple) and all(d is None or isinstance(d, int) for d in value)


def _shapes(structure):
    """The shapes of a structure of tensors, as a structure of tuples."""
    if isinstance(structure, tuple | list):
        return tuple(_shapes(x) for x in structure)
    return tuple(structure.shape)


def _dtypes(structure):
    if isinstance(structure, tuple | list):
        return tuple(_dtypes(x) for x in structure)
    return keras.backend.standardize_dtype(structure.dtype)


def _with_unknown_batch(shapes):
    if _is_shape(shapes):
        return (None, *shapes[1:])
    return tuple(_with_unknown_batch(s) for s in shapes)


def _in_float32(dtypes):
    if isinstance(dtypes, tuple):
        return tuple(_in_float32(d) for d in dtypes)
    return "float32" if dtypes == "float16" else dtypes


def _numpy(structure):
    return [ops.convert_to_numpy(x) for x in tree.flatten(structure)]


def _assert_finite(outputs):
    for x in _numpy(outputs):
        if np.issubdtype(x.dtype, np.floating):
            assert np.all(np.isfinite(x)), "the layer gives non-finite outputs"


def _assert_same_outputs(actual, expected, atol=0.0):
    actual, expected = _numpy(actual), _numpy(expected)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(a, e, rtol=0, atol=atol)


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_data,
    expected_output_shape,
    mixed_precision_output_dtype,
    call_kwargs=None,
    run_training_check=True,
):
    """Check a layer's config, eager and symbolic calls, training, saving, mixed precision.

    1. `get_config` round-trips through `from_config`, and calling the layer does not
       change its config.
    2. An eager call on `input_data` gives outputs of `expected_output_shape`, finite, in
       float32 (where `mixed_precision_output_dtype` says float16) or the dtype given.
    3. A symbolic call on `keras.Input`s of the same shapes, with an unknown batch, gives
       the shapes with the batch left unknown; the functional model it makes computes the
       eager outputs.
    4. One training step of that model (SGD, eagerly) gives a finite loss and moves the
       weights.
    5. After every weight is moved off its initial value, the model saved as `.keras`
       and loaded back gives identical outputs.
    6. The layer made with `dtype="mixed_float16"` gives finite outputs in
       `mixed_precision_output_dtype`.

    Args:
        layer_cls: the layer class.
        init_kwargs: its constructor arguments.
        input_data: `{call argument: array or tuple of arrays}`, every tensor the call
            takes; each becomes a `keras.Input` in the symbolic call.
        expected_output_shape: the shape of the output, a tuple of ints, or a tuple of
            shapes (nested like the outputs) for several outputs.
        mixed_precision_output_dtype: the dtype of the output under `mixed_float16`, or
            a tuple of dtypes nested like the outputs: `"float16"` for what is computed
            in the compute dtype, `"float32"` for softmaxed weights and logits, `"bool"`
            for masks.
        call_kwargs: the call's other arguments (Python values, not tensors).
        run_training_check: whether to run the training step (4). Defaults to True;
            layers without weights have nothing to train.
    """
    call_kwargs = call_kwargs or {}

    # 1. Config round trip, before and after building.
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    assert layer_cls.from_config(config).get_config() == config

    # 2. Eager call.
    eager = layer(**input_data, **call_kwargs)
    assert layer.get_config() == config
    assert _shapes(eager) == expected_output_shape
    assert _dtypes(eager) == _in_float32(mixed_precision_output_dtype)
    _assert_finite(eager)

    # 3. Symbolic call: the functional model of the same layer computes the same.
    flat_data = tree.flatten(input_data)
    flat_inputs = [
        keras.Input(shape=x.shape[1:], dtype=keras.backend.standardize_dtype(x.dtype))
        for x in flat_data
    ]
    symbolic = layer(**tree.pack_sequence_as(input_data, flat_inputs), **call_kwargs)
    assert _shapes(symbolic) == _with_unknown_batch(expected_output_shape)
    model = keras.Model(flat_inputs, symbolic)
    _assert_same_outputs(model(flat_data), eager, atol=1e-6)

    # 4. One training step on a scalar per sentence that reads every float output.
    if run_training_check:
        floats = [x for x in tree.flatten(symbolic) if "float" in str(x.dtype)]
        summary = sum(ops.mean(ops.cast(x, "float32"), axis=range(1, len(x.shape))) for x in floats)
        trainer = keras.Model(flat_inputs, summary)
        trainer.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", run_eagerly=True)
        before = [w.numpy() for w in layer.trainable_weights]
        assert before, "the layer has no trainable weights: pass run_training_check=False"
        batch = len(flat_data[0])
        loss = trainer.train_on_batch(flat_data, np.full((batch,), 10.0, "float32"))
        assert np.isfinite(loss)
        after = [w.numpy() for w in layer.trainable_weights]
        assert any(not np.array_equal(b, a) for b, a in zip(before, after, strict=True))

    # 5. Save and load: the same outputs, every weight included.
    rng = np.random.default_rng(0)
    for weight in model.weights:
        if "float" not in weight.dtype:
            continue  # a dropout layer's seed
        noise = rng.standard_normal(weight.shape).astype(weight.dtype) * 0.1
        weight.assign(weight.numpy() + noise)
    expected = model(flat_data)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "model.keras"
        model.save(path)
        reloaded = keras.saving.load_model(path)
    _assert_same_outputs(reloaded(flat_data), expected)

    # 6. Mixed precision.
    mixed = layer_cls(**init_kwargs, dtype="mixed_float16")
    outputs = mixed(**input_data, **call_kwargs)
    assert mixed.compute_dtype == "float16"
    assert _dtypes(outputs) == mixed_precision_output_dtype
    _assert_finite(outputs)
