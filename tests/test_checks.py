"""The argument checks of `s2s_keras.checks`: what each accepts, and its exact message."""

import re

import numpy as np
import pytest

from s2s_keras.checks import (
    boolean,
    fraction,
    int_in_range,
    int_or_none,
    non_negative_int,
    non_negative_number,
    one_of,
    positive_int,
    positive_number,
    without_removed_options,
)


@pytest.mark.parametrize(
    ("check", "value", "accepted"),
    [
        (positive_int, 1, 1),
        (positive_int, np.int64(8), 8),
        (non_negative_int, 0, 0),
        (non_negative_int, np.int32(3), 3),
        (positive_number, 1e-9, 1e-9),
        (positive_number, 3, 3.0),
        (fraction, 0, 0.0),
        (fraction, 0.5, 0.5),
        (fraction, np.float32(0.25), 0.25),
        (boolean, True, True),
        (boolean, False, False),
    ],
)
def test_a_check_returns_the_value_it_accepts_as_a_python_number(check, value, accepted):
    result = check("x", value)
    assert result == accepted and type(result) is type(accepted)


@pytest.mark.parametrize(
    ("check", "value", "message"),
    [
        (positive_int, True, "units must be a positive integer, got True"),
        (positive_int, 0, "units must be a positive integer, got 0"),
        (positive_int, -3, "units must be a positive integer, got -3"),
        (positive_int, 2.0, "units must be a positive integer, got 2.0"),
        (positive_int, "8", "units must be a positive integer, got '8'"),
        (positive_int, None, "units must be a positive integer, got None"),
        (non_negative_int, -1, "units must be a non-negative integer, got -1"),
        (non_negative_int, False, "units must be a non-negative integer, got False"),
        (positive_number, 0, "units must be a positive number, got 0"),
        (positive_number, True, "units must be a positive number, got True"),
        (positive_number, float("nan"), "units must be a positive number, got nan"),
        (fraction, 1.0, "units must be in [0, 1), got 1.0"),
        (fraction, -0.1, "units must be in [0, 1), got -0.1"),
        (fraction, False, "units must be in [0, 1), got False"),
        (fraction, "0.1", "units must be in [0, 1), got '0.1'"),
        (boolean, 1, "units must be True or False, got 1"),
        (boolean, "yes", "units must be True or False, got 'yes'"),
        (boolean, None, "units must be True or False, got None"),
    ],
)
def test_a_check_rejects_a_bad_value_and_echoes_it(check, value, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        check("units", value)


def test_one_of_returns_a_choice_and_lists_the_choices_otherwise():
    assert one_of("score", "dot", ("dot", "general", "concat")) == "dot"
    with pytest.raises(
        ValueError, match=r"^score must be 'dot', 'general' or 'concat', got 'additive'$"
    ):
        one_of("score", "additive", ("dot", "general", "concat"))
    with pytest.raises(ValueError, match=r"^positional must be 'sinusoidal' or 'learned', got 1$"):
        one_of("positional", 1, ("sinusoidal", "learned"))
    with pytest.raises(ValueError, match=r"^cell must be 'gru', got None$"):
        one_of("cell", None, ("gru",))


def test_without_removed_options_drops_defaults_and_rejects_anything_else():
    config = {"units": 4, "cell": "gru", "num_layers": 1}
    removed = {"cell": "gru", "num_layers": 1, "bidirectional": True}
    assert without_removed_options("RNNEncoder", config, removed) == {"units": 4}
    assert config == {"units": 4, "cell": "gru", "num_layers": 1}  # not modified
    message = (
        "RNNEncoder no longer has the option cell, so it cannot rebuild a config with "
        "cell='lstm' (only 'gru'); load it with the s2s_keras version that saved it"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        without_removed_options("RNNEncoder", {"cell": "lstm"}, removed)


@pytest.mark.parametrize(
    ("check", "args", "message"),
    [
        (non_negative_number, ("alpha", -0.5), "alpha must be a non-negative number, got -0.5"),
        (
            non_negative_number,
            ("alpha", float("inf")),
            "alpha must be a non-negative number, got inf",
        ),
        (non_negative_number, ("alpha", False), "alpha must be a non-negative number, got False"),
        (
            int_in_range,
            ("n_best", 5, 1, 4),
            "n_best must be an integer from 1 to 4, got 5",
        ),
        (int_or_none, ("seed", 1.5), "seed must be an integer or None, got 1.5"),
        (int_or_none, ("seed", True), "seed must be an integer or None, got True"),
    ],
)
def test_the_decoding_checks_say_what_they_got(check, args, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        check(*args)


def test_the_decoding_checks_return_what_they_accept():
    assert non_negative_number("alpha", 0) == 0.0
    assert int_in_range("n_best", 4, 1, 4, high_name="beam_size") == 4
    assert int_or_none("seed", None) is None
    assert int_or_none("seed", 7) == 7
    message = "n_best must be an integer from 1 to beam_size (2), got 3"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        int_in_range("n_best", 3, 1, 2, high_name="beam_size")
