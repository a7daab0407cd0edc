"""The `s2s-keras` command (its contract: the README's *Command line*).

    s2s-keras demo                        offline: toy corpus, attention model, BLEU,
                                          samples and an attention heatmap
    s2s-keras train --corpus C --out DIR  train and save a model directory
    s2s-keras translate --model DIR [--beam K] [--alpha A] [TEXT ...]   (no TEXT: stdin lines)
                        [--input FILE] [--output FILE]      streamed, line-aligned
    s2s-keras evaluate --model DIR --corpus C [--split test] [--beam K] [--json]
    s2s-keras export --model DIR --out SAVEDMODEL_DIR [--beam K] [--alpha A]
    s2s-keras bench [--quick] [--levers] [--out DIR] [--models NAME ...]   (docs/performance.md)

Each command is a module of this package with `add_arguments(subparsers)`, which declares
its options, and `run(args)`, which carries it out and returns the exit status. Bad input
gives one line on stderr and exit status 2, never a traceback; so does a file that cannot
be read or written, with status 1.
"""

from __future__ import annotations

import argparse
import os
import sys

from s2s_keras import import_tensorflow
from s2s_keras.cli import bench, demo, evaluate, export, train, translate
from s2s_keras.cli.options import MODELS, STRATEGIES
from s2s_keras.errors import S2SError

COMMANDS = (demo, train, translate, evaluate, export, bench)  # in the order of --help

__all__ = ["COMMANDS", "MODELS", "STRATEGIES", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command; `args.run` is the chosen command's `run`."""
    parser = argparse.ArgumentParser(
        prog="s2s-keras",
        description="Sequence-to-sequence translation with Keras 3: train, translate, evaluate.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_arguments(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line `argv` (default: `sys.argv[1:]`); returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command != "train":  # train checks its corpus before paying for TF
            import_tensorflow()
        return args.run(args)
    except S2SError as e:
        print(f"s2s-keras: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("s2s-keras: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`s2s-keras translate < big.txt | head`): stop quietly,
        # and keep Python from failing again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as e:  # a file that cannot be read or written, a full disk, ...
        where = f": {os.fsdecode(e.filename)!r}" if e.filename else ""
        print(f"s2s-keras: error: {e.strerror or e}{where}", file=sys.stderr)
        return 1
