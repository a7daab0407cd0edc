"""Reliability: resume after SIGKILL, atomic backups, one-line errors that lose nothing,
and streaming translation that keeps its output line-aligned with its input.

The command line is run as a user runs it: in a subprocess, reading stdout and stderr.
"""

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import keras
import numpy as np
import pytest

from s2s_keras import training
from s2s_keras.bundle import TrainedModel
from s2s_keras.checkpoints import TrainingBackup, resume_message
from s2s_keras.errors import S2SError
from s2s_keras.models import model_config
from s2s_keras.toy import make_toy_corpus
from s2s_keras.training import TrainSettings, train

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
CLI = [sys.executable, "-m", "s2s_keras.cli"]
# A model small enough that an epoch of the toy corpus (90 batches) takes a few seconds.
TINY = ["--set", "embedding_dim=8", "--set", "units=8", "--batch-size", "128"]


def run_cli(*args, stdin=None, timeout=300):
    return subprocess.run(
        [*CLI, *map(str, args)],
        input=stdin,
        capture_output=True,
        env=ENV,
        timeout=timeout,
    )


def dead_pid():
    """The PID of a process that has exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def assert_one_line_error(result, *fragments):
    """Non-zero exit, no traceback, and the last stderr line is our one-line message."""
    stderr = result.stderr.decode() if isinstance(result.stderr, bytes) else result.stderr
    assert result.returncode not in (0, None), stderr
    assert "Traceback" not in stderr, stderr
    message = stderr.strip().splitlines()[-1]
    assert message.startswith("s2s-keras: error: "), stderr
    for fragment in fragments:
        assert fragment in message, message
    return message


# --- Resume after a crash --------------------------------------------------------------


def _mid_epoch_backup(directory):
    """The newest backup if it was taken inside the second epoch or later, else None."""
    try:
        state = TrainingBackup(directory).latest()
    except (S2SError, OSError):  # a checkpoint pruned while we read it
        return None
    return state if state and state["epoch"] >= 1 and state["batch"] > 0 else None


@pytest.mark.slow
def test_a_training_killed_mid_epoch_resumes_from_its_last_backup(tmp_path):
    out, backup = tmp_path / "model", tmp_path / "model.backup"
    command = [*CLI, "train", "--corpus", "toy", "--out", str(out), "--epochs", "3"]
    command += ["--backup-every", "10", *TINY]
    with open(tmp_path / "first.log", "wb") as log:
        first = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=ENV)
        try:
            deadline = time.monotonic() + 400
            while _mid_epoch_backup(backup) is None:
                assert first.poll() is None, (tmp_path / "first.log").read_text()
                assert time.monotonic() < deadline, "no mid-epoch backup appeared"
                time.sleep(0.05)
            first.send_signal(signal.SIGKILL)
        finally:
            first.kill()
            first.wait()
    assert first.returncode == -signal.SIGKILL
    assert not out.exists()
    # What the kill left on disk, plus a save it cut short: a half-written temporary file.
    killed_at = TrainingBackup(backup).latest()
    epoch, batch = killed_at["epoch"], killed_at["batch"]
    stray = backup / f".checkpoint-999999.weights.h5.tmp-{first.pid}-0bad.weights.h5"
    stray.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))

    second = subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert (
        f"resuming from epoch {epoch + 1} of 3, with the weights of its batch {batch} "
        f"(the epoch restarts) (backup in {backup})"
    ) in second.stdout
    assert f"Epoch {epoch}/3" not in second.stdout and "Epoch 3/3" in second.stdout
    info = json.loads((out / "run.json").read_text())
    assert info["resumed_from"] == {"epoch": epoch, "batch": batch}
    assert info["epochs_run"] == 3  # the whole run: the epochs before the kill count too
    # The optimizer's state came back too: its step count adds this run's steps to the
    # `epoch` epochs and `batch` batches done before the kill. (Keras may print one step
    # fewer per epoch than it runs, hence >=; a run from zero would count 3 epochs only.)
    per_epoch = int(re.search(r"^(\d+)/\1 - ", second.stdout, re.MULTILINE).group(1))
    assert info["steps_run"] >= 3 * per_epoch + batch
    assert not backup.exists()  # deleted once the model was saved
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first.log", "model"]
    trained = TrainedModel.load(out)
    (translation,) = trained.translate(["The red cat sleeps."])
    assert isinstance(translation, str) and translation


def _tiny_compiled_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.Adam(), "mse")
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), verbose=0)
    return model


def _backup_with_two_checkpoints(directory):
    """Checkpoints after epochs 1 and 2, with different weights; returns both weights."""
    backup = TrainingBackup(directory, fingerprint={"units": 8})
    model = _tiny_compiled_model()
    backup.set_model(model)
    backup.save(1, 0)
    first = [w.copy() for w in model.get_weights()]
    model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    backup.save(2, 0)
    return first, model.get_weights()


def test_a_truncated_newest_checkpoint_and_stray_temporary_files_do_not_break_resume(tmp_path):
    first, _ = _backup_with_two_checkpoints(tmp_path)
    newest = tmp_path / "checkpoint-000002.weights.h5"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    killed = dead_pid()
    (tmp_path / f".checkpoint-000003.weights.h5.tmp-{killed}-1a2b.weights.h5").write_bytes(
        b"half a checkpoint"
    )
    (tmp_path / f".tokenizers.tmp-{killed}-3c4d").mkdir()
    being_written = tmp_path / f".tokenizers.tmp-{os.getpid()}-5e6f"  # by a live process
    being_written.mkdir()

    model = _tiny_compiled_model()
    state = TrainingBackup(tmp_path, fingerprint={"units": 8}).restore(model)
    assert (state["epoch"], state["batch"]) == (1, 0)
    assert state["unreadable"] == ["checkpoint-000002.weights.h5 (OSError)"]
    for restored, saved in zip(model.get_weights(), first, strict=True):
        np.testing.assert_array_equal(restored, saved)
    assert int(model.optimizer.iterations) == 1  # the optimizer's state, not a fresh one
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        being_written.name,
        "checkpoint-000001.weights.h5",
        "checkpoint-000002.weights.h5",
    ]
    message = resume_message(state, tmp_path, epochs=5)
    assert message == (
        "resuming from epoch 2 of 5; skipped unreadable checkpoint-000002.weights.h5 "
        f"(OSError) (backup in {tmp_path})"
    )


def test_a_save_cut_short_leaves_no_file_and_the_previous_checkpoints_intact(tmp_path):
    _backup_with_two_checkpoints(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    backup = TrainingBackup(tmp_path, fingerprint={"units": 8})
    model = _tiny_compiled_model()

    def disk_full(path, **kwargs):
        with open(path, "wb") as f:
            f.write(b"\x89HDF partial")
        raise OSError(28, "No space left on device")

    model.save_weights = disk_full
    backup.set_model(model)
    with pytest.raises(OSError, match="No space left"):
        backup.save(3, 0)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_only_the_newest_checkpoints_are_kept(tmp_path):
    backup = TrainingBackup(tmp_path, every_batches=2, keep=2)
    backup.set_model(_tiny_compiled_model())
    for epoch in range(4):
        backup.on_epoch_begin(epoch)
        for batch in range(5):
            backup.on_train_batch_end(batch)
        backup.on_epoch_end(epoch)
    assert [p.name for p in backup.checkpoints()] == [
        "checkpoint-000011.weights.h5",
        "checkpoint-000012.weights.h5",
    ]
    assert (backup.latest()["epoch"], backup.latest()["batch"]) == (4, 0)


def test_a_backup_of_a_run_with_other_settings_is_refused_in_one_line(tmp_path):
    _backup_with_two_checkpoints(tmp_path)
    with pytest.raises(S2SError, match=r"other settings \(units differ\)") as error:
        TrainingBackup(tmp_path, fingerprint={"units": 16}).restore(_tiny_compiled_model())
    assert "\n" not in str(error.value)


def test_a_backup_with_no_readable_checkpoint_is_a_one_line_error(tmp_path):
    _backup_with_two_checkpoints(tmp_path)
    for checkpoint in tmp_path.glob("checkpoint-*"):
        checkpoint.write_bytes(b"")
    with pytest.raises(S2SError, match="no readable backup") as error:
        TrainingBackup(tmp_path, fingerprint={"units": 8}).latest()
    assert "\n" not in str(error.value) and "delete that folder" in str(error.value)


class _CrashInSecondEpoch(keras.callbacks.Callback):
    """A crash at the end of the second epoch, before its backup (callbacks run in order)."""

    def __init__(self):
        super().__init__()
        self.first_loss = None

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            self.first_loss = logs["loss"]
        if epoch == 1:
            raise RuntimeError("simulated crash")


@pytest.mark.slow
def test_a_resumed_run_reads_text_with_the_tokenizers_it_was_trained_with(tmp_path, monkeypatch):
    corpus = make_toy_corpus(150, seed=2)
    settings = TrainSettings(config=model_config("bahdanau", embedding_dim=8, units=8), epochs=3)
    options = dict(verbose=0, backup_dir=tmp_path / "backup")
    crash = _CrashInSecondEpoch()
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(corpus, settings, callbacks=[crash], **options)
    saved = TrainingBackup(tmp_path / "backup").load_tokenizers()

    def must_not_refit(*args, **kwargs):
        raise AssertionError("a resumed run must reuse the backed-up tokenizers")

    monkeypatch.setattr(training, "fit_tokenizers", must_not_refit)
    trained, history = train(corpus, settings, **options)
    assert trained.info["resumed_from"] == {"epoch": 1, "batch": 0}
    # the history is the whole run's: the backed-up first epoch, then the two trained now
    assert len(history["loss"]) == 3 and history["loss"][0] == pytest.approx(crash.first_loss)
    assert trained.info["epochs_run"] == 3
    assert trained.source_tokenizer.vocab == saved[0].vocab
    assert trained.target_tokenizer.vocab == saved[1].vocab
    assert not (tmp_path / "backup").exists()


def test_a_run_that_fails_before_its_first_backup_leaves_no_backup_folder(tmp_path):
    class Fail(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            raise RuntimeError("failed early")

    with pytest.raises(RuntimeError, match="failed early"):
        train(
            make_toy_corpus(120, seed=3),
            TrainSettings(
                model="seq2seq", config=model_config("seq2seq", embedding_dim=8, units=8), epochs=1
            ),
            verbose=0,
            backup_dir=tmp_path / "backup",
            callbacks=[Fail()],
        )
    assert not (tmp_path / "backup").exists()


# --- Clear errors, nothing lost --------------------------------------------------------


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny trained model directory (one epoch on 300 toy pairs)."""
    settings = TrainSettings(
        config=model_config("bahdanau", embedding_dim=16, units=16), epochs=1, batch_size=8
    )
    trained, _ = train(make_toy_corpus(300), settings, verbose=0)
    return trained.save(tmp_path_factory.mktemp("model") / "model")


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


def _tokenizer_of_another_run(directory):
    (directory / "target_tokenizer" / "vocab.txt").write_text("\n[UNK]\n[START]\n[END]\nuno\n")
    (directory / "target_tokenizer" / "tokenizer.json").write_text(
        '{"kind": "word", "vocab_size": 5}'
    )


DAMAGE = {
    "a file, not a directory": (lambda d: (shutil.rmtree(d), d.write_text("x")), "not a directory"),
    "run.json missing": (lambda d: (d / "run.json").unlink(), "missing run.json"),
    "run.json not JSON": (lambda d: (d / "run.json").write_text("{"), "cannot load the model"),
    "model.keras empty": (lambda d: (d / "model.keras").write_bytes(b""), "cannot load the model"),
    "model.keras truncated": (lambda d: _truncate(d / "model.keras"), "cannot load the model"),
    "vocab.txt truncated": (
        lambda d: _truncate(d / "source_tokenizer" / "vocab.txt"),
        "cannot load a tokenizer",
    ),
    "tokenizers of another run": (
        _tokenizer_of_another_run,
        "the target tokenizer has 5 tokens but the model expects",
    ),
}


@pytest.mark.parametrize("damage, expected", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_model_directory_is_a_one_line_error(model_dir, tmp_path, damage, expected):
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    damage(broken)
    with pytest.raises(S2SError, match=expected) as error:
        TrainedModel.load(broken)
    assert "\n" not in str(error.value) and str(broken) in str(error.value)


def test_cli_bad_config_value_is_a_one_line_error_before_training(tmp_path):
    # (A damaged model directory on the command line: tests/test_cli.py.)
    result = run_cli("train", "--corpus", "toy", "--out", tmp_path / "m", "--set", "units=-2")
    assert_one_line_error(result, "--set: units must be a positive integer, got -2")
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_cli_damaged_corpus_file_is_a_one_line_error_and_writes_nothing(tmp_path):
    data = tmp_path / "data" / "anki-spa-eng"
    data.mkdir(parents=True)
    (data / "spa.txt").write_bytes(b"Go.\tVe.\nbad line without a tab\n\xff\xfe\tx\n")
    env = {"S2S_OFFLINE": "1", "S2S_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run(
        [*CLI, "train", "--corpus", "spa-eng", "--out", str(tmp_path / "m")],
        capture_output=True,
        text=True,
        env={**ENV, **env, "S2S_DATA_DIR": str(tmp_path / "data")},
        timeout=120,
    )
    assert_one_line_error(result, str(data / "spa.txt"), "sha256")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_no_network_is_a_one_line_error_that_leaves_no_file(tmp_path, monkeypatch):
    import dataclasses
    import socket

    from s2s_keras import corpora
    from s2s_keras.errors import DataNotFoundError

    with socket.socket() as s:  # a local port that nothing listens on: refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    relpath = "anki-spa-eng/spa.txt"
    url = f"http://127.0.0.1:{port}/spa-eng.zip"
    monkeypatch.setitem(
        corpora.REGISTRY, relpath, dataclasses.replace(corpora.REGISTRY[relpath], url=url)
    )
    monkeypatch.setenv("S2S_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("S2S_OFFLINE", raising=False)
    with pytest.raises(DataNotFoundError, match="download of .* failed") as error:
        corpora.fetch(relpath, data_dir=tmp_path / "empty")
    assert "\n" not in str(error.value) and url in str(error.value)
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []


def test_cli_unreadable_input_and_unwritable_output_are_one_line_errors(model_dir, tmp_path):
    result = run_cli("translate", "--model", model_dir, "--input", tmp_path / "nope.txt")
    assert_one_line_error(result, "nope.txt", "does not exist")
    (tmp_path / "in.txt").write_text("The cat.\n")
    (tmp_path / "file").write_text("a file, not a folder")
    result = run_cli(
        "translate", "--model", model_dir, "--input", tmp_path / "in.txt",
        "--output", tmp_path / "file" / "out.txt",
    )  # fmt: skip
    assert_one_line_error(result, "cannot write", str(tmp_path / "file" / "out.txt"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "in.txt"]


# --- Streaming translation -------------------------------------------------------------


def _reader(stream):
    """Lines of `stream` in a queue, read by a thread (a pipe read cannot time out)."""
    lines = queue.Queue()

    def pump():
        for line in iter(stream.readline, b""):
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_translate_streams_stdin_and_keeps_lines_aligned(model_dir, tmp_path):
    hostile = [
        b"the cat\rsleeps",  # a CR inside a line
        "the cat\u2028sleeps".encode(),  # a Unicode line separator
        b"bad \xff\xfe utf-8",
        b"nul \x00 inside",
        b"   ",
        b"",
        b" ".join([b"the red cat"] * 700),  # 2,100 words
        b"windows line\r",
        b"last line, without a newline",
    ]
    with (
        open(tmp_path / "stderr.log", "wb") as stderr,
        subprocess.Popen(
            [*CLI, "translate", "--model", str(model_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=ENV,
        ) as process,
    ):
        try:
            out = _reader(process.stdout)
            process.stdin.write(b"The red cat sleeps.\n\nA small dog.\n")
            process.stdin.flush()
            # Translated while stdin is still open: the command does not read it all first.
            first = [out.get(timeout=240) for _ in range(3)]
            process.stdin.write(b"\n".join(hostile))
            process.stdin.close()
            rest = []
            while (line := out.get(timeout=240)) is not None:
                rest.append(line)
            assert process.wait(timeout=60) == 0, (tmp_path / "stderr.log").read_text()[-3000:]
        finally:
            process.kill()
    assert [line == b"\n" for line in first] == [False, True, False]
    assert len(rest) == len(hostile)
    texts = [line.decode("utf-8") for line in rest]  # valid UTF-8, one line each
    assert [t == "\n" for t in texts] == [not line.strip() for line in hostile]


def test_translate_input_file_to_output_file_is_aligned_with_a_progress_bar(model_dir, tmp_path):
    lines = [("" if i % 7 == 3 else f"The cat number {i} sleeps.") for i in range(300)]
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "out.txt").write_text("an older output\n")
    result = run_cli(
        "translate", "--model", model_dir, "--batch-size", 8, "--progress",
        "--input", tmp_path / "in.txt", "--output", tmp_path / "out.txt",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    assert result.stdout == b""  # stdout stays clean
    assert "300/300" in result.stderr.decode()
    out = (tmp_path / "out.txt").read_text(encoding="utf-8").split("\n")
    assert out[-1] == "" and len(out) == 301
    assert [o == "" for o in out[:-1]] == [line == "" for line in lines]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "out.txt"]


def test_an_interrupted_translation_keeps_the_previous_output_file(model_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "out.txt").write_text("an older output\n")
    with (
        open(tmp_path / "stderr.log", "wb") as stderr,
        subprocess.Popen(
            [*CLI, "translate", "--model", str(model_dir), "--batch-size", "1"]
            + ["--output", str(out / "out.txt")],
            stdin=subprocess.PIPE,
            stderr=stderr,
            env=ENV,
            # A test run started in the background (`make test &`) inherits SIGINT ignored,
            # and Python keeps an ignored SIGINT ignored: give the child Ctrl-C as a
            # terminal would.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        ) as process,
    ):
        try:
            process.stdin.write(b"The cat.\n" * 5)
            process.stdin.flush()
            deadline = time.monotonic() + 240
            # Translations are flushed batch by batch into a temporary file beside out.txt.
            while not any(p.stat().st_size for p in out.glob(".out.txt.*")):
                assert process.poll() is None, (tmp_path / "stderr.log").read_text()[-3000:]
                assert time.monotonic() < deadline
                time.sleep(0.05)
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=120) == 130
        finally:
            process.kill()
    last = (tmp_path / "stderr.log").read_text().strip().splitlines()[-1]
    assert last == "s2s-keras: interrupted"
    assert (out / "out.txt").read_text() == "an older output\n"
    assert sorted(p.name for p in out.iterdir()) == ["out.txt"]
