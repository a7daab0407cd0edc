"""Atomic replacement (s2s_keras.atomic): the previous file or directory survives any
failure, and leftovers of killed writers are cleared by the next writer of the path."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from s2s_keras import atomic

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def dead_pid():
    """The PID of a process that has exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def files(root):
    """`{relative path: bytes}` of every file under `root`."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def fail_on_call(monkeypatch, number):
    """Make the `number`-th call of `os.replace` from now on fail; returns the calls."""
    real_replace, calls = os.replace, []

    def replace(source, target):
        calls.append((str(source), str(target)))
        if len(calls) == number:
            raise OSError(5, "Input/output error")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    return calls


def test_replacing_a_file_writes_the_new_content_and_leaves_no_temporary(tmp_path):
    (tmp_path / "out.txt").write_text("old")
    with atomic.replacing(tmp_path / "out.txt") as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(f".out.txt.tmp-{os.getpid()}-")
        assert not tmp.exists()  # the caller makes the file
        tmp.write_text("new")
        assert (tmp_path / "out.txt").read_text() == "old"  # until the block ends
    assert files(tmp_path) == {"out.txt": b"new"}


def test_an_error_while_writing_keeps_the_previous_file_and_removes_the_temporary(tmp_path):
    (tmp_path / "out.txt").write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic.replacing(tmp_path / "out.txt") as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert files(tmp_path) == {"out.txt": b"old"}


def test_a_directory_whose_swap_fails_midway_is_put_back_whole(tmp_path, monkeypatch):
    target = tmp_path / "model"
    target.mkdir()
    (target / "weights").write_text("old weights")
    calls = fail_on_call(monkeypatch, 2)
    with (
        pytest.raises(OSError, match="Input/output error"),
        atomic.replacing(target, directory=True) as tmp,
    ):
        (tmp / "weights").write_text("new weights")
    # Moved aside, the move of the new one in failed, moved back.
    assert [target_ for _, target_ in calls][1:] == [str(target), str(target)]
    assert files(tmp_path) == {"model/weights": b"old weights"}


def test_a_directory_replaces_a_directory_and_a_file(tmp_path):
    for previous in ("directory", "file"):
        target = tmp_path / previous
        if previous == "directory":
            target.mkdir()
            (target / "stale").write_text("x")
        else:
            target.write_text("x")
        with atomic.replacing(target, directory=True) as tmp:
            (tmp / "new").write_text("y")
        assert files(target) == {"new": b"y"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["directory", "file"]


def test_a_killed_writers_temporary_goes_with_the_next_write_and_a_live_ones_stays(tmp_path):
    target = tmp_path / "export"
    script = (
        "import sys, time\n"
        "from s2s_keras import atomic\n"
        "with atomic.replacing(sys.argv[1], directory=True) as tmp:\n"
        "    (tmp / 'part').write_text('unfinished')\n"
        "    print(tmp.name, flush=True)\n"
        "    time.sleep(120)\n"
    )
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(target)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    try:
        killed, live = [w.stdout.readline().strip() for w in writers]
        writers[0].send_signal(signal.SIGKILL)
        writers[0].wait()
        assert {killed, live} <= {p.name for p in tmp_path.iterdir()}
        with atomic.replacing(target, directory=True) as tmp:
            (tmp / "whole").write_text("done")
        assert sorted(p.name for p in tmp_path.iterdir()) == [live, "export"]
        assert files(target) == {"whole": b"done"}
    finally:
        for writer in writers:
            writer.kill()
            writer.wait()
            writer.stdout.close()


def test_an_old_copy_left_between_the_two_renames_goes_back_to_its_path(tmp_path):
    old = tmp_path / f".model.old-{dead_pid()}-abcd"
    old.mkdir()
    (old / "weights").write_text("the only copy")
    (tmp_path / f".model.tmp-{dead_pid()}-ef01").mkdir()  # the new one, unfinished
    assert len(atomic.clear_stale(tmp_path / "model")) == 2
    assert files(tmp_path) == {"model/weights": b"the only copy"}


def test_clear_stale_in_a_folder_removes_every_dead_writers_leftover_only(tmp_path):
    pid = dead_pid()
    (tmp_path / f".a.weights.h5.tmp-{pid}-00ff.weights.h5").write_text("x")
    (tmp_path / f".b.tmp-{pid}-00ff").mkdir()
    (tmp_path / f".c.tmp-{os.getpid()}-00ff").write_text("being written")
    (tmp_path / ".d.tmp-not-a-pid").write_text("not ours")
    (tmp_path / "e").write_text("kept")
    atomic.clear_stale_in(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f".c.tmp-{os.getpid()}-00ff",
        ".d.tmp-not-a-pid",
        "e",
    ]


def test_scratch_is_a_private_directory_beside_the_path_removed_at_the_end(tmp_path):
    with pytest.raises(RuntimeError), atomic.scratch(tmp_path / "cache" / "spa.txt") as tmp:
        assert tmp.is_dir() and tmp.parent == tmp_path / "cache"
        (tmp / "download").write_text("partial")
        raise RuntimeError
    assert list((tmp_path / "cache").iterdir()) == []


# --- The writers of the package ---------------------------------------------------------


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny trained model directory."""
    from s2s_keras.models import model_config
    from s2s_keras.toy import make_toy_corpus
    from s2s_keras.training import TrainSettings, train

    settings = TrainSettings(config=model_config("bahdanau", embedding_dim=8, units=8), epochs=1)
    trained, _ = train(make_toy_corpus(150, seed=2), settings, verbose=0)
    return trained.save(tmp_path_factory.mktemp("model") / "model")


@pytest.mark.slow
def test_an_export_whose_swap_fails_midway_keeps_the_previous_export_loadable(
    model_dir, tmp_path, monkeypatch
):
    import tensorflow as tf

    from s2s_keras.bundle import TrainedModel
    from s2s_keras.export import export_saved_model, load_translator

    trained = TrainedModel.load(model_dir)
    out = export_saved_model(trained, tmp_path / "saved", beam_size=1)
    before = files(out)
    fail_on_call(monkeypatch, 2)
    with pytest.raises(OSError, match="Input/output error"):
        export_saved_model(trained, out, beam_size=2)
    monkeypatch.undo()
    assert files(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["saved"]
    translator = load_translator(out)  # kept: its functions need its variables alive
    translations = translator.translate(tf.constant(["The cat."])).numpy()
    assert [t.decode() for t in translations] == trained.translate(["The cat."])


@pytest.mark.slow
def test_a_killed_exports_leftover_is_cleared_by_the_next_export(model_dir, tmp_path):
    from s2s_keras.bundle import TrainedModel
    from s2s_keras.export import export_saved_model

    out = tmp_path / "saved"
    command = [sys.executable, "-m", "s2s_keras.cli", "export", "--model", str(model_dir)]
    export = subprocess.Popen([*command, "--out", str(out)], env=ENV, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while not list(tmp_path.glob(".saved.tmp-*")):
            assert export.poll() is None, export.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the export never started writing"
            time.sleep(0.05)
        export.send_signal(signal.SIGKILL)
        export.wait()
    finally:
        export.kill()
        export.wait()
        export.stderr.close()
    (leftover,) = tmp_path.iterdir()
    assert leftover.name.startswith(f".saved.tmp-{export.pid}-") and not out.exists()

    export_saved_model(TrainedModel.load(model_dir), out, beam_size=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved"]
    assert json.loads((out / "assets.extra" / "export.json").read_text())["beam_size"] == 1
