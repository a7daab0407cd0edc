"""Fixtures shared by the test modules."""

import keras
import pytest


@pytest.fixture
def mixed_float16():
    """Run a test under the `mixed_float16` dtype policy, restoring the previous one after."""
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(previous)
