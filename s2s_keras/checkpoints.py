"""Back up a training run as it goes, so that a killed run resumes where it was.

`training.train(..., backup_dir=...)` and `s2s-keras train` (`OUT.backup`) use it. A
backup folder holds the newest checkpoints of one run and the tokenizers it reads text
with:

    checkpoint-000007.weights.h5   weights, optimizer state and position in training
    checkpoint-000008.weights.h5
    tokenizers/source/, tokenizers/target/
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import keras

from s2s_keras import atomic
from s2s_keras.errors import S2SError
from s2s_keras.text import Tokenizer, load_tokenizer

_CKPT = re.compile(r"checkpoint-(\d+)\.weights\.h5")
_STATE_ATTR = "s2s_keras_training_state"
_BEST_GROUP = "s2s_keras_early_stopping_best"
_HISTORY = "s2s_keras_history"


class TrainingBackup(keras.callbacks.Callback):
    """Back up the training state atomically, so that a killed run can resume.

    At every epoch end, and every `every_batches` batches if set, the model's weights,
    the optimizer's state (step count and moments) and the position in training go into
    one new file, `checkpoint-NNNNNN.weights.h5`, written with `atomic.replacing`: under
    a temporary name in the same folder, flushed to disk, then renamed. A kill during a
    save leaves at worst a stray temporary file, never a half-written checkpoint.
    (`keras.callbacks.BackupAndRestore` overwrites its weights and then its epoch file in
    place: a kill between or during the two writes leaves them corrupt or out of step.)
    The `keep` newest checkpoints are kept, and `restore` falls back to an older one if
    the newest cannot be read. `save_tokenizers` stores the tokenizers beside them, so a
    resumed run reads its text exactly as the saved weights expect.

    Resume granularity: the weights and optimizer state of the last backup; training
    goes on from the epoch that backup was taken in, which restarts at its first batch.
    Each checkpoint also holds the run's history so far (`history()`: the metrics of
    every finished epoch and the `step_log`'s points), so that a resumed run's learning
    curve starts at its first step, not at the resume.

    Args:
        directory: the backup folder, created when first needed; one run per folder.
        fingerprint: JSON-serialisable settings of the run; a backup written under other
            settings is refused rather than loaded into a model it does not fit. `None`
            (the default) checks nothing.
        every_batches: also back up every this many batches within an epoch; `None`
            (the default) backs up at epoch ends only.
        keep: how many checkpoints to keep, at least 1. Defaults to 2.
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        *,
        fingerprint: dict | None = None,
        every_batches: int | None = None,
        keep: int = 2,
    ):
        super().__init__()
        if every_batches is not None and every_batches < 1:
            raise ValueError(f"every_batches must be >= 1 or None, got {every_batches!r}")
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep!r}")
        self.directory = Path(directory)
        self.fingerprint = None if fingerprint is None else json.loads(json.dumps(fingerprint))
        self.every_batches = every_batches
        self.keep = keep
        self._epoch = 0
        self._batches = 0
        # Seconds of training before this run (a resumed run sets it from the backup), and
        # when this run's training began: each checkpoint records the sum.
        self.seconds_before = 0.0
        self._started: float | None = None
        self._tokenizers: tuple[Tokenizer, Tokenizer] | None = None
        self._tokenizers_saved = False
        # The run's `training.ResumableEarlyStopping`, if any: its state and best weights
        # go into every checkpoint and come back on `restore`.
        self.early_stopping = None
        # The history of the calls before this one (a resumed run sets it from the
        # backup), this call's epoch metrics, and the run's `training.StepLog`, if any.
        self.history_before: dict[str, list] = {}
        self._epoch_logs: dict[str, list] = {}
        self.step_log = None

    def checkpoints(self) -> list[Path]:
        """The checkpoint files, oldest first (temporary files excluded)."""
        found = [p for p in self.directory.glob("checkpoint-*") if _CKPT.fullmatch(p.name)]
        return sorted(found, key=_index)

    def latest(self) -> dict | None:
        """What the newest readable checkpoint holds: `{"epoch", "batch", "path", ...}`.

        `epoch` counts the epochs completed, `batch` the batches of the next one done
        when the backup was taken; `unreadable` lists newer checkpoints that could not be
        read. `None` when there is no checkpoint.

        Raises:
            S2SError: the checkpoint was written under other settings, or there are
                checkpoints but none can be read.
        """
        return self._newest_usable(load_into=None)

    def restore(self, model: keras.Model) -> dict | None:
        """Load the newest loadable checkpoint into `model` (built and compiled).

        Temporary files that killed saves left in the folder are removed first.

        Returns:
            `latest()` of the checkpoint loaded, or `None` when there is none.

        Raises:
            S2SError: as `latest`.
        """
        atomic.clear_stale_in(self.directory)
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)  # its slots must exist to load
        return self._newest_usable(load_into=model)

    def _newest_usable(self, load_into: keras.Model | None) -> dict | None:
        unreadable = []
        for path in reversed(self.checkpoints()):
            try:
                state = _read_state(path)
            except Exception as e:  # h5py raises OSError, KeyError, ValueError ...
                unreadable.append(f"{path.name} ({type(e).__name__})")
                continue
            if self.fingerprint is not None:
                self._check_fingerprint(state.get("fingerprint") or {})
            if load_into is not None:
                try:
                    load_into.load_weights(path)
                    best_weights = _read_best_weights(path)
                except Exception as e:
                    unreadable.append(f"{path.name} ({type(e).__name__})")
                    continue
                if self.early_stopping is not None and state.get("early_stopping"):
                    self.early_stopping.resume_from(state["early_stopping"], best_weights)
            return {**state, "path": path, "unreadable": unreadable}
        if unreadable:
            raise S2SError(
                f"no readable backup in {str(self.directory)!r}: {', '.join(unreadable)}; "
                "delete that folder to start training again"
            )
        return None

    def _check_fingerprint(self, saved: dict) -> None:
        keys = {*saved, *self.fingerprint}
        differ = sorted(k for k in keys if saved.get(k) != self.fingerprint.get(k))
        if differ:
            raise S2SError(
                f"the backup in {str(self.directory)!r} is of a run with other settings "
                f"({', '.join(differ)} differ); rerun with the same settings to resume, or "
                "delete that folder to start again"
            )

    def save_tokenizers(self, source: Tokenizer, target: Tokenizer) -> None:
        """Store the run's tokenizers with its first checkpoint (atomically).

        Nothing is written before that: a run that fails earlier leaves no folder.
        """
        self._tokenizers, self._tokenizers_saved = (source, target), False

    def load_tokenizers(self) -> tuple[Tokenizer, Tokenizer] | None:
        """The tokenizers `save_tokenizers` stored, or `None` if there are none."""
        folder = self.directory / "tokenizers"
        if not folder.is_dir():
            return None
        self._tokenizers = load_tokenizer(folder / "source"), load_tokenizer(folder / "target")
        self._tokenizers_saved = True
        return self._tokenizers

    def delete(self) -> None:
        """Remove the backup folder (once the trained model is safely saved)."""
        shutil.rmtree(self.directory, ignore_errors=True)

    def on_train_begin(self, logs=None):
        self._started = time.monotonic()

    def train_seconds(self) -> float:
        """Seconds of training so far, over every run that resumed this backup."""
        now = 0.0 if self._started is None else time.monotonic() - self._started
        return self.seconds_before + now

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._batches = epoch, 0

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1
        if self.every_batches and self._batches % self.every_batches == 0:
            self.save(self._epoch, self._batches)

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self._epoch_logs.setdefault(key, []).append(float(value))
        self.save(epoch + 1, 0)

    def history(self) -> dict[str, list]:
        """The run's history so far: the calls before a resume, then this call's
        finished epochs and the `step_log`'s points (`training.StepLog.history`)."""
        now = dict(self._epoch_logs)
        if self.step_log is not None:
            now.update(self.step_log.history())
        return merge_history(self.history_before, now)

    def save(self, epoch: int, batch: int) -> Path:
        """Write a checkpoint of `self.model` at `epoch` epochs and `batch` batches done."""
        import h5py

        self.directory.mkdir(parents=True, exist_ok=True)
        if self._tokenizers is not None and not self._tokenizers_saved:
            # Before the checkpoint that needs them.
            with atomic.replacing(self.directory / "tokenizers", directory=True) as tmp:
                for side, tokenizer in zip(("source", "target"), self._tokenizers, strict=True):
                    tokenizer.save(tmp / side)
            self._tokenizers_saved = True
        existing = self.checkpoints()
        index = _index(existing[-1]) + 1 if existing else 1
        final = self.directory / f"checkpoint-{index:06d}.weights.h5"
        state = {
            "format": 1,
            "epoch": epoch,
            "batch": batch,
            "train_seconds": round(self.train_seconds(), 1),
            "fingerprint": self.fingerprint,
        }
        stopping = self.early_stopping
        best_weights = None
        if stopping is not None:
            state["early_stopping"] = stopping.state()
            best_weights = getattr(stopping, "best_weights", None)
        # Keras insists on the `.weights.h5` suffix, temporary files included.
        with atomic.replacing(final, suffix=".weights.h5") as tmp:
            self.model.save_weights(tmp)
            with h5py.File(tmp, "a") as f:
                f.attrs[_STATE_ATTR] = json.dumps(state)
                # a dataset, not an attribute: HDF5 keeps attributes under 64 KiB
                f.create_dataset(_HISTORY, data=json.dumps(self.history()))
                if best_weights is not None:  # the best epoch's weights, for the resume
                    group = f.create_group(_BEST_GROUP)
                    for i, array in enumerate(best_weights):
                        group.create_dataset(str(i), data=array)
        for old in self.checkpoints()[: -self.keep]:
            old.unlink(missing_ok=True)
        return final


def merge_history(before: dict[str, list], after: dict[str, list]) -> dict[str, list]:
    """Two histories of one run, one after the other, key by key.

    Example:
        >>> merge_history({"loss": [3.0], "step": [100]}, {"loss": [2.0], "val_loss": [2.5]})
        {'loss': [3.0, 2.0], 'step': [100], 'val_loss': [2.5]}
    """
    return {key: [*before.get(key, []), *after.get(key, [])] for key in {**before, **after}}


def resume_message(state: dict, directory: Path, epochs: int) -> str:
    """What a resumed run prints, e.g. `resuming from epoch 3 of 5 (backup in OUT.backup)`.

    Args:
        state: what `TrainingBackup.restore` returned.
        directory: the backup folder.
        epochs: the epochs the run was asked for.
    """
    epoch = state["epoch"] + 1  # 1-based, as Keras prints it
    where = f"epoch {epoch} of {epochs}" if epoch <= epochs else f"the end of epoch {epochs}"
    detail = ""
    if state["batch"]:
        detail = f", with the weights of its batch {state['batch']} (the epoch restarts)"
    if state["unreadable"]:
        detail += f"; skipped unreadable {', '.join(state['unreadable'])}"
    return f"resuming from {where}{detail} (backup in {directory})"


def _index(path: Path) -> int:
    return int(_CKPT.fullmatch(path.name).group(1))


def _read_best_weights(path: Path) -> list | None:
    """The early-stopping best weights stored with a checkpoint, or `None`."""
    import h5py

    with h5py.File(path, "r") as f:
        if _BEST_GROUP not in f:
            return None
        group = f[_BEST_GROUP]
        return [group[str(i)][()] for i in range(len(group))]


def _read_state(path: Path) -> dict:
    import h5py

    with h5py.File(path, "r") as f:
        state = json.loads(f.attrs[_STATE_ATTR])
        if _HISTORY in f:  # backups written before histories were kept have none
            state["history"] = json.loads(f[_HISTORY][()])
    if not isinstance(state.get("epoch"), int) or not isinstance(state.get("batch"), int):
        raise ValueError(f"{path.name} has no training position")
    return state
