"""Atomic replacement of files and directories: a reader sees the old one or the new one.

Every writer of the package that replaces something a person keeps (a model directory,
an export, a translation output, a training checkpoint, a downloaded corpus file) writes
it under a temporary name beside its final path, flushes it to disk, then swaps it in
with `os.replace`, which is atomic on one file system:

    with atomic.replacing(path, directory=True) as tmp:
        write_everything_into(tmp)  # an error here leaves `path` as it was

Temporaries are named `.NAME.tmp-PID-RANDOM` (`PID`: the writing process), so a writer
can tell what a killed process left behind from what a live one is still writing: each
writer removes the leftovers of its own path whose process no longer runs, and leaves
those of running processes alone. (A PID reused by an unrelated process keeps a leftover
until that process ends: the safe side.) Replacing a non-empty directory takes two
renames, the old one moved aside to `.NAME.old-PID-RANDOM` first; if the second rename
fails, the old directory is moved back, and if the process is killed between the two,
the next writer (or `clear_stale`) moves it back.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

_LEFTOVER = r"\.(?P<name>{name})\.(?P<kind>tmp|old)-(?P<pid>\d+)-[0-9a-f]+(\..*)?"


def temporary_name(path: str | os.PathLike, kind: str = "tmp", suffix: str = "") -> Path:
    """A fresh temporary path beside `path`: `.NAME.tmp-PID-RANDOM` + `suffix`.

    Args:
        path: the final path.
        kind: `"tmp"` for something being written, `"old"` for a copy being replaced.
        suffix: appended to the name (Keras insists that weights files end in
            `.weights.h5`).
    """
    path = Path(path)
    return path.with_name(f".{path.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}{suffix}")


@contextlib.contextmanager
def replacing(
    path: str | os.PathLike, *, directory: bool = False, suffix: str = ""
) -> Iterator[Path]:
    """A temporary path to write to; on success it replaces `path`, on error it goes.

    Leftovers of `path` from killed processes are removed first (`clear_stale`), and
    the parent folder is created if needed.

    Args:
        path: the file or directory to (re)place.
        directory: create the temporary path as an empty directory; otherwise nothing
            exists at it and the caller creates a file there.
        suffix: of the temporary name (`temporary_name`).

    Yields:
        The temporary path. When the `with` block ends without an error, it is flushed
        to disk and moved to `path` (`replace`); when it raises, it is removed and
        `path` keeps what it had.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clear_stale(path)
    tmp = temporary_name(path, suffix=suffix)
    if directory:
        tmp.mkdir()
    try:
        yield tmp
        replace(tmp, path)
    finally:
        _remove(tmp)  # gone already after a successful replace


@contextlib.contextmanager
def scratch(path: str | os.PathLike) -> Iterator[Path]:
    """A private directory beside `path` for intermediate files, removed at the end.

    It is on the same file system as `path`, so a file made in it can be moved to
    `path` with `replace`. Named like the temporaries of `replacing`, so a killed
    process's scratch directory is cleared by the next writer of `path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clear_stale(path)
    tmp = temporary_name(path)
    tmp.mkdir()
    try:
        yield tmp
    finally:
        _remove(tmp)


def replace(source: str | os.PathLike, path: str | os.PathLike) -> None:
    """Move the file or directory `source` to `path`, flushed to disk, atomically.

    A file, or a directory where there is nothing, takes one `os.replace`. A directory
    over something takes two (a directory cannot be renamed over a non-empty one): the
    old one is moved aside, then `source` is moved in; if that fails, the old one is put
    back before the error propagates. Either way something complete is at `path`, except
    in the instant between the two renames.
    """
    source, path = Path(source), Path(path)
    _fsync_tree(source)  # the data on disk before the name points at it
    if not (source.is_dir() and os.path.lexists(path)):
        os.replace(source, path)
    else:
        old = temporary_name(path, kind="old")
        os.replace(path, old)
        try:
            os.replace(source, path)
        except BaseException:
            os.replace(old, path)
            raise
        _remove(old)
    _fsync(path.parent)  # make the rename itself durable


def clear_stale(path: str | os.PathLike) -> list[Path]:
    """Remove the temporaries of `path` that processes no longer running left behind.

    A killed writer's temporary is deleted; an old copy it moved aside (`replace`) goes
    back to `path` if nothing is there, and is deleted otherwise. Temporaries of live
    processes, this one included, are left alone.

    Returns:
        The leftovers found and dealt with.
    """
    path = Path(path)
    return _clear(path.parent, re.escape(path.name))


def clear_stale_in(folder: str | os.PathLike) -> list[Path]:
    """`clear_stale` for every path in `folder`."""
    return _clear(Path(folder), r".+?")


def _clear(folder: Path, name: str) -> list[Path]:
    pattern = re.compile(_LEFTOVER.format(name=name))
    try:
        entries = sorted(folder.iterdir())
    except OSError:  # no folder yet: nothing left over
        return []
    found = []
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or _is_running(int(match["pid"])):
            continue
        target = folder / match["name"]
        if match["kind"] == "old" and not os.path.lexists(target):
            os.replace(entry, target)  # killed between the two renames: the old one is whole
        else:
            _remove(entry)
        found.append(entry)
    return found


def _is_running(pid: int) -> bool:
    """Whether a process `pid` exists (this one always does)."""
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill(pid, 0) would terminate it: assume it runs
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except OverflowError:  # not a PID of this system
        return False
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _fsync_tree(path: Path) -> None:
    """Flush a file, or every file and folder of a directory, to disk."""
    if path.is_dir():
        for folder, _, files in os.walk(path):
            for name in files:
                _fsync(Path(folder, name))
            _fsync(Path(folder))
    elif path.exists():
        _fsync(path)


def _fsync(path: Path) -> None:
    """Flush one file or folder to disk (folders cannot be opened on Windows: skipped)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
