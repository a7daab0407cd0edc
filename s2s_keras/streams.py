"""Line streams for `s2s-keras translate`: read lines as they come, write atomically.

Input is read as bytes and split on `"\\n"` only, so that `"\\r"` or U+2028 inside a line
cannot misalign the output; a batch of lines is handed on as soon as it is full or the
input pauses, so a line typed at a terminal is translated at once. Output goes to stdout,
or to a file that replaces its previous content only once everything is written.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from s2s_keras import atomic


def decode_line(line: bytes) -> str:
    """One input line as text: a CRLF file's CR dropped, invalid UTF-8 replaced by U+FFFD."""
    return line.removesuffix(b"\r").decode("utf-8", errors="replace")


def line_batches(stream: BinaryIO, max_lines: int) -> Iterator[list[bytes]]:
    """Lines (bytes, without "\\n") of a binary stream, in lists of at most `max_lines`.

    Reads with `os.read`, which returns what is available: a batch is handed on as soon
    as it is full, or as soon as the input pauses (nothing more is waiting to be read).
    A last line without a newline is a line too.
    """
    fd = stream.fileno()
    pending, lines = b"", []
    while wait_readable(fd) and (data := os.read(fd, 1 << 16)):
        *complete, pending = (pending + data).split(b"\n")
        lines.extend(complete)
        while len(lines) >= max_lines:
            yield lines[:max_lines]
            del lines[:max_lines]
        if lines and not more_waiting(fd):
            yield lines
            lines = []
    if pending:
        lines.append(pending)  # the last line had no newline
    if lines:
        yield lines


def wait_readable(fd: int) -> bool:
    """Block until `fd` can be read, waking every 0.2 s so that Ctrl-C is handled.

    A SIGINT that the kernel delivers to one of TensorFlow's threads does not interrupt
    the main thread's blocking `read`; Python runs its handler only when the main thread
    next executes bytecode. Waiting in short `select` calls gives it that chance.

    Returns:
        `True` (so that it can lead a `while` condition).
    """
    try:
        while not select.select([fd], [], [], 0.2)[0]:
            pass
    except (OSError, ValueError):  # no select() on this kind of file (Windows pipes)
        pass
    return True


def more_waiting(fd: int) -> bool:
    """Whether more input can be read from `fd` at once (always true for a file)."""
    try:
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):  # no select() on this kind of file (Windows pipes)
        return True


def count_lines(path: str | os.PathLike) -> int:
    """Lines in a file, as `line_batches` counts them (read in blocks: any size)."""
    count, last = 0, b"\n"
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


@contextlib.contextmanager
def output(path: str | os.PathLike | None) -> Iterator[BinaryIO]:
    """stdout's binary stream, or a temporary file that replaces `path` on success.

    The file is written beside `path` (`atomic.replacing`); an error or Ctrl-C before
    the end leaves `path` as it was.
    """
    if path is None:
        yield sys.stdout.buffer
        return
    with atomic.replacing(Path(path)) as tmp, open(tmp, "wb") as f:
        yield f
