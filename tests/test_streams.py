"""Line streams of `s2s-keras translate` (s2s_keras.streams), on pipes and files."""

import os
import sys

import pytest

from s2s_keras import streams


@pytest.fixture
def pipe():
    """`(reader, writer)`: binary file objects of one OS pipe."""
    read_fd, write_fd = os.pipe()
    with open(read_fd, "rb", buffering=0) as reader, open(write_fd, "wb", buffering=0) as writer:
        yield reader, writer


def test_decode_line_drops_a_crlf_files_cr_and_replaces_invalid_utf8():
    assert streams.decode_line(b"windows\r") == "windows"
    assert streams.decode_line(b"a\rb") == "a\rb"  # only a final CR
    assert streams.decode_line(b"bad \xff!") == "bad \ufffd!"


def test_a_batch_is_handed_on_as_soon_as_the_input_pauses(pipe):
    reader, writer = pipe
    batches = streams.line_batches(reader, max_lines=100)
    writer.write(b"one\ntwo\n")
    assert next(batches) == [b"one", b"two"]  # the writer is still open
    writer.write(b"three\nfour, without a newline")
    writer.close()
    assert list(batches) == [[b"three", b"four, without a newline"]]


def test_batches_hold_at_most_max_lines_and_only_newline_ends_a_line(tmp_path):
    (tmp_path / "in.txt").write_bytes(b"a\rb\nc\xe2\x80\xa8d\n\ne\nf\n")  # CR, U+2028 inside
    with open(tmp_path / "in.txt", "rb") as f:
        batches = list(streams.line_batches(f, max_lines=2))
    assert batches == [[b"a\rb", "c\u2028d".encode()], [b"", b"e"], [b"f"]]


def test_an_empty_input_gives_no_batch(pipe):
    reader, writer = pipe
    writer.close()
    assert list(streams.line_batches(reader, max_lines=4)) == []


def test_more_waiting_tells_whether_a_read_would_return_at_once(pipe, tmp_path):
    reader, writer = pipe
    assert streams.more_waiting(reader.fileno()) is False
    writer.write(b"x")
    assert streams.more_waiting(reader.fileno()) is True
    (tmp_path / "f").write_bytes(b"")
    with open(tmp_path / "f", "rb") as f:
        assert streams.more_waiting(f.fileno()) is True  # a file never blocks


@pytest.mark.parametrize(
    "content, lines",
    [(b"", 0), (b"a\n", 1), (b"a\nb", 2), (b"\n\n", 2), (b"x\n" * 600_000, 600_000)],
)
def test_count_lines_counts_as_line_batches_reads(tmp_path, content, lines):
    (tmp_path / "in.txt").write_bytes(content)
    assert streams.count_lines(tmp_path / "in.txt") == lines
    with open(tmp_path / "in.txt", "rb") as f:
        assert sum(len(b) for b in streams.line_batches(f, max_lines=1000)) == lines


def test_output_none_is_stdout():
    with streams.output(None) as out:
        assert out is sys.stdout.buffer


def test_output_replaces_the_file_only_once_everything_is_written(tmp_path):
    path = tmp_path / "sub" / "out.txt"
    with streams.output(path) as out:
        out.write(b"first\n")
        out.flush()
        assert not path.exists()
    assert path.read_bytes() == b"first\n"
    with pytest.raises(KeyboardInterrupt), streams.output(path) as out:
        out.write(b"half of the second")
        raise KeyboardInterrupt
    assert path.read_bytes() == b"first\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.txt"]


def test_an_output_file_whose_rename_fails_keeps_the_previous_one(tmp_path, monkeypatch):
    path = tmp_path / "out.txt"
    path.write_bytes(b"previous translations\n")

    def fail(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="No space left"), streams.output(path) as out:
        out.write(b"new translations\n")
    assert path.read_bytes() == b"previous translations\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
