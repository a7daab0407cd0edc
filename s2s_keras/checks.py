"""Argument checks shared by the layers and models: one wording for every error.

Each check returns the value it accepted (integers as `int`, rates as `float`), so that
`self.units = positive_int("units", units)` validates and stores in one line, and raises
a `ValueError` that names the argument, says what it must be and echoes what it got:
`units must be a positive integer, got True`. Booleans are never accepted as numbers
(`True` is an `int` in Python, but `units=True` is a mistake).

Example:

>>> positive_int("units", 8)
8
>>> one_of("score", "general", ("dot", "general", "concat"))
'general'
>>> fraction("dropout", 1.0)
Traceback (most recent call last):
...
ValueError: dropout must be in [0, 1), got 1.0
"""

import numbers


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def positive_int(name, value):
    """`value` as an `int` if it is an integer ≥ 1 (not a bool), else a `ValueError`."""
    if not (_is_int(value) and value >= 1):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def non_negative_int(name, value):
    """`value` as an `int` if it is an integer ≥ 0 (not a bool), else a `ValueError`."""
    if not (_is_int(value) and value >= 0):
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def positive_number(name, value):
    """`value` as a `float` if it is a finite real number > 0 (not a bool), else a `ValueError`."""
    if not (_is_number(value) and 0 < value < float("inf")):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def non_negative_number(name, value):
    """`value` as a `float` if it is a finite real number ≥ 0 (not a bool), else a `ValueError`."""
    if not (_is_number(value) and 0 <= value < float("inf")):
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    return float(value)


def int_in_range(name, value, low, high, *, high_name=None):
    """`value` as an `int` if it is an integer in `[low, high]`, else a `ValueError`.

    `high_name` names what bounds it, e.g. `n_best must be an integer from 1 to beam_size
    (4), got 5`.
    """
    if not (_is_int(value) and low <= value <= high):
        upper = f"{high_name} ({high})" if high_name else str(high)
        raise ValueError(f"{name} must be an integer from {low} to {upper}, got {value!r}")
    return int(value)


def int_or_none(name, value):
    """`value` as an `int`, or `None`; anything else (a bool included) is a `ValueError`."""
    if value is None:
        return None
    if not _is_int(value):
        raise ValueError(f"{name} must be an integer or None, got {value!r}")
    return int(value)


def fraction(name, value):
    """`value` as a `float` if it is a number in `[0, 1)`, as a dropout rate must be."""
    if not (_is_number(value) and 0 <= value < 1):
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return float(value)


def boolean(name, value):
    """`value` if it is `True` or `False` (not 0, 1 or a string), else a `ValueError`."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def one_of(name, value, choices):
    """`value` if it equals one of `choices` and has its type, else a `ValueError` listing them."""
    if not any(type(value) is type(choice) and value == choice for choice in choices):
        names = [repr(choice) for choice in choices]
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
        raise ValueError(f"{name} must be {listed}, got {value!r}")
    return value


def without_removed_options(owner, config, removed):
    """`config` without the keys of options `owner` no longer has, if they hold their default.

    A config saved when `owner` still took those options can then be loaded; one that
    set an option to anything but its default describes a layer that cannot be rebuilt.

    Args:
        owner: the class name, for the message.
        config: a `get_config()` dict, perhaps from an older save.
        removed: `{option: the only value it could take now}`.

    Raises:
        ValueError: `config` sets a removed option to another value.
    """
    config = dict(config)
    for option, default in removed.items():
        value = config.pop(option, default)
        if value != default:
            raise ValueError(
                f"{owner} no longer has the option {option}, so it cannot rebuild a config "
                f"with {option}={value!r} (only {default!r}); load it with the s2s_keras "
                "version that saved it"
            )
    return config
