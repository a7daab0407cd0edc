"""What several commands share: argument types, decoding options, corpus loading."""

from __future__ import annotations

import argparse
import json

from s2s_keras.corpora import CORPORA

# The same names as s2s_keras.models.MODEL_NAMES (a test checks), kept here so that
# argument errors are reported before TensorFlow loads.
MODELS = ("seq2seq", "bahdanau", "luong-dot", "luong-general", "luong-concat", "transformer")
STRATEGIES = ("default", "mirrored", "multiworker", "tpu")  # s2s_keras.distribute's (tested)


def _number(kind, *, allow_zero=False):
    """An argparse type: a `kind` (int or float) > 0, or >= 0 with `allow_zero`."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if value < 0 or (value == 0 and not allow_zero):
            bound = ">= 0" if allow_zero else "> 0"
            raise argparse.ArgumentTypeError(f"expected a number {bound}, got {text!r}")
        return value

    parse.__name__ = kind.__name__
    return parse


def positive(kind):
    """An argparse type: a `kind` (int or float) > 0."""
    return _number(kind)


def non_negative(kind):
    """An argparse type: a `kind` (int or float) >= 0."""
    return _number(kind, allow_zero=True)


def config_override(text):
    """`KEY=VALUE` with VALUE read as JSON when it parses (numbers, true/false), else a string."""
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, e.g. units=256, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def add_corpus_option(parser) -> None:
    """`--corpus NAME`, required, one of `s2s_keras.corpora.CORPORA`."""
    parser.add_argument(
        "--corpus",
        required=True,
        choices=CORPORA,
        metavar="CORPUS",
        help=f"one of: {', '.join(CORPORA)}",
    )


def add_decoding_options(parser, default_beam: int) -> None:
    """`--beam K`, `--alpha A` and `--max-repeats N`."""
    parser.add_argument(
        "--beam",
        type=positive(int),
        default=default_beam,
        help=f"beam size; 1 is greedy decoding (default: {default_beam})",
    )
    parser.add_argument(
        "--alpha",
        type=non_negative(float),
        default=0.6,
        help="GNMT length normalisation exponent for beam search (default: 0.6)",
    )
    parser.add_argument(
        "--max-repeats",
        type=positive(int),
        default=None,
        metavar="N",
        help="no token more than N times in a row, against decoder loops (default: no limit)",
    )


def decoding_kwargs(args) -> dict:
    """The keyword arguments of `TrainedModel.translate` for the decoding options."""
    repeats = {"max_repeats": args.max_repeats}
    if args.beam == 1:
        return {"method": "greedy", **repeats}
    return {"method": "beam", "beam_size": args.beam, "alpha": args.alpha, **repeats}


def decoding_name(args) -> str:
    """E.g. `"greedy"`, `"beam 4, alpha 0.6"` or `"greedy, max 2 repeats"`."""
    name = "greedy" if args.beam == 1 else f"beam {args.beam}, alpha {args.alpha}"
    return name if args.max_repeats is None else f"{name}, max {args.max_repeats} repeats"


def load_corpus(name, data_dir):
    """`corpora.load_corpus` (imported when needed)."""
    from s2s_keras.corpora import load_corpus

    return load_corpus(name, data_dir=data_dir)
