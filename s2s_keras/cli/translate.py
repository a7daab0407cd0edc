"""`s2s-keras translate`: translate arguments, a file or stdin, streamed and line-aligned."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from s2s_keras import streams
from s2s_keras.cli.options import add_decoding_options, decoding_kwargs, positive
from s2s_keras.errors import S2SError


def add_arguments(subparsers) -> None:
    parser = subparsers.add_parser("translate", help="translate text with a trained model")
    parser.add_argument("--model", type=Path, required=True, help="a model directory")
    parser.add_argument("--batch-size", type=positive(int), default=64)
    add_decoding_options(parser, default_beam=1)
    parser.add_argument(
        "--target-lang",
        default=None,
        metavar="LANG",
        help="the language to translate into (a multilingual model needs it), e.g. fr",
    )
    parser.add_argument(
        "--input",
        type=Path,
        default=None,
        metavar="FILE",
        help="read one sentence per line from FILE (default: stdin)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the translations to FILE (replaced once all are written; default: stdout)",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on stderr (default: when reading lines and stderr is a terminal)",
    )
    parser.add_argument(
        "text", nargs="*", help="sentences; none: read one per line from --input or stdin"
    )
    parser.set_defaults(run=run)


def run(args) -> int:
    """Translate in a stream: read a batch of lines, translate, write, flush, repeat.

    Memory stays bounded whatever the input size; a line that arrives alone (typed at a
    terminal, or sent by a slow producer) is translated at once rather than waiting for
    a full batch. Output is line-aligned: one line per input line, empty for empty.
    """
    from tqdm.auto import tqdm

    from s2s_keras.bundle import TrainedModel

    _check_paths(args)
    trained = TrainedModel.load(args.model)
    decoding = decoding_kwargs(args)
    if trained.languages:  # a multilingual model: fail before reading any input
        from s2s_keras.multilingual import check_language

        check_language(args.target_lang, trained.languages)
    if args.target_lang is not None:
        decoding["target_lang"] = args.target_lang
    with contextlib.ExitStack() as stack:
        if args.text:
            # Arguments the shell could not decode carry surrogate escapes: back to bytes.
            batches, total = [[os.fsencode(t) for t in args.text]], len(args.text)
            show = bool(args.progress)
        else:
            source = stack.enter_context(open(args.input, "rb")) if args.input else sys.stdin
            batches = streams.line_batches(source, max_lines=16 * args.batch_size)
            total = streams.count_lines(args.input) if args.input else None
            show = sys.stderr.isatty() if args.progress is None else args.progress
        out = stack.enter_context(streams.output(args.output))
        bar = stack.enter_context(
            tqdm(total=total, unit=" lines", desc="translate", disable=not show)
        )
        for lines in batches:
            texts = [streams.decode_line(line) for line in lines]
            for text in trained.translate(texts, batch_size=args.batch_size, **decoding):
                # A translation is one line, whatever the model emits.
                out.write(" ".join(text.splitlines()).encode("utf-8") + b"\n")
            out.flush()
            bar.update(len(lines))
    return 0


def _check_paths(args) -> None:
    """Refuse, before any work, what cannot be read or written, and an output that is
    the input (it would be replaced by its own translation, as `cp a a` refuses)."""
    if args.text and args.input:
        raise S2SError("give sentences as arguments or with --input FILE, not both")
    if args.input and not args.input.is_file():
        raise S2SError(f"input file {str(args.input)!r} does not exist or is not a file")
    output = args.output
    if output is None:
        return
    if output.is_dir() or (output.parent.exists() and not output.parent.is_dir()):
        raise S2SError(f"cannot write {str(output)!r}: it or its parent is not a file path")
    if not output.exists() or args.text:
        return
    if args.input is not None:
        same, where = os.path.samefile(args.input, output), repr(str(args.input))
    else:
        try:
            same = os.path.samestat(os.fstat(sys.stdin.fileno()), os.stat(output))
        except (OSError, ValueError):  # no stdin, or not a real file
            same = False
        where = "the file on stdin"
    if same:
        raise S2SError(
            f"--output {str(output)!r} is the input file ({where}): its text would be "
            "replaced by the translation; give another --output"
        )
