"""Training helpers: tokenizers for a corpus, compilation, callbacks.

Introduced in notebook 02 (training a seq2seq model); the command line and every
notebook train through these functions.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import tensorflow as tf

from s2s_keras import distribute
from s2s_keras.bundle import TrainedModel
from s2s_keras.errors import S2SError
from s2s_keras.evaluation import MaskedAccuracy, MaskedLoss, WarmupSchedule
from s2s_keras.models import build_model, model_config
from s2s_keras.pipeline import make_dataset
from s2s_keras.text import Tokenizer, WordPieceTokenizer, WordTokenizer, load_tokenizer
from s2s_keras.types import Corpus, ParallelText


def fit_tokenizers(
    train: ParallelText, *, kind: str = "word", vocab_size: int | None = None
) -> tuple[Tokenizer, Tokenizer]:
    """Learn source and target tokenizers on the training split only.

    Args:
        train: the training pairs (never the validation or test split: that would leak).
        kind: `"word"` or `"wordpiece"`.
        vocab_size: per side; `None` keeps every training word (`"word"` only).
    """
    if kind == "word":
        return (
            WordTokenizer.from_texts(train.source, max_size=vocab_size),
            WordTokenizer.from_texts(train.target, max_size=vocab_size),
        )
    if kind == "wordpiece":
        size = vocab_size or 8000
        return (
            WordPieceTokenizer.from_texts(train.source, vocab_size=size),
            WordPieceTokenizer.from_texts(train.target, vocab_size=size),
        )
    raise ValueError(f"kind must be 'word' or 'wordpiece', got {kind!r}")


def compile_model(
    model: keras.Model,
    *,
    learning_rate: float = 3e-3,
    clipnorm: float | None = 1.0,
    label_smoothing: float = 0.0,
    warmup_steps: int | None = None,
):
    """Adam, the masked loss and masked accuracy.

    Args:
        model: any model of `s2s_keras.models`.
        learning_rate: Adam's step size; with `warmup_steps`, the peak of the schedule.
        clipnorm: clip each gradient's norm (RNNs' exploding gradients, Pascanu et al.
            2013); `None` for no clipping.
        label_smoothing: ε of `MaskedLoss` (Vaswani et al. 2017 use 0.1).
        warmup_steps: if set, the Transformer's schedule (`WarmupSchedule`): a linear
            warm-up over this many steps, then inverse square-root decay, scaled so that
            it peaks at `learning_rate`.
    """
    if learning_rate <= 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
    rate = learning_rate
    if warmup_steps:
        # WarmupSchedule peaks at d_model^-0.5 * warmup^-0.5; scale that to learning_rate.
        rate = WarmupSchedule(1, warmup_steps, scale=learning_rate * warmup_steps**0.5)
    model.compile(
        optimizer=keras.optimizers.Adam(rate, clipnorm=clipnorm),
        loss=MaskedLoss(label_smoothing),
        metrics=[MaskedAccuracy()],
    )
    return model


class TimeBudget(keras.callbacks.Callback):
    """Stop training once `minutes` of wall time have passed (checked after each batch)."""

    def __init__(self, minutes: float):
        super().__init__()
        if minutes <= 0:
            raise ValueError(f"minutes must be > 0, got {minutes!r}")
        self.seconds = 60.0 * minutes
        self.stopped_early = False

    def on_train_begin(self, logs=None):
        self._start = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        if time.monotonic() - self._start > self.seconds:
            self.model.stop_training = True
            self.stopped_early = True


class TrainingBackup(keras.callbacks.Callback):
    """Back up the training state atomically, so that a killed run can resume.

    At every epoch end, and every `every_batches` batches if set, the model's weights,
    the optimizer's state (step count and moments) and the position in training go into
    one new file, `checkpoint-NNNNNN.weights.h5`: written under a temporary name in the
    same folder, flushed to disk, then renamed with `os.replace` (atomic). A kill during
    a save leaves at worst a stray temporary file, never a half-written checkpoint.
    (`keras.callbacks.BackupAndRestore` overwrites its weights and then its epoch file in
    place: a kill between or during the two writes leaves them corrupt or out of step.)
    The `keep` newest checkpoints are kept, and `restore` falls back to an older one if
    the newest cannot be read. `save_tokenizers` stores the tokenizers beside them, so a
    resumed run reads its text exactly as the saved weights expect.

    Resume granularity: the weights and optimizer state of the last backup; training
    goes on from the epoch that backup was taken in, which restarts at its first batch.

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
        self._tokenizers: tuple[Tokenizer, Tokenizer] | None = None
        self._tokenizers_saved = False

    def checkpoints(self) -> list[Path]:
        """The checkpoint files, oldest first (temporary files excluded)."""
        found = [p for p in self.directory.glob("checkpoint-*") if _CKPT.fullmatch(p.name)]
        return sorted(found, key=lambda p: int(_CKPT.fullmatch(p.name).group(1)))

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

        Stray temporary files of interrupted saves are removed first.

        Returns:
            `latest()` of the checkpoint loaded, or `None` when there is none.

        Raises:
            S2SError: as `latest`.
        """
        for leftover in self.directory.glob(".tmp-*"):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)  # its slots must exist to load
        return self._newest_usable(load_into=model)

    def _newest_usable(self, load_into: keras.Model | None) -> dict | None:
        unreadable = []
        for path in reversed(self.checkpoints()):
            try:
                state = _read_checkpoint_state(path)
            except Exception as e:  # h5py raises OSError, KeyError, ValueError ...
                unreadable.append(f"{path.name} ({type(e).__name__})")
                continue
            if self.fingerprint is not None:
                self._check_fingerprint(state.get("fingerprint") or {})
            if load_into is not None:
                try:
                    load_into.load_weights(path)
                except Exception as e:
                    unreadable.append(f"{path.name} ({type(e).__name__})")
                    continue
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

    def _write_tokenizers(self) -> None:
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-tokenizers-", dir=self.directory))
        try:
            for side, tokenizer in zip(("source", "target"), self._tokenizers, strict=True):
                tokenizer.save(tmp / side)
            final = self.directory / "tokenizers"
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._tokenizers_saved = True

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

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._batches = epoch, 0

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1
        if self.every_batches and self._batches % self.every_batches == 0:
            self.save(self._epoch, self._batches)

    def on_epoch_end(self, epoch, logs=None):
        self.save(epoch + 1, 0)

    def save(self, epoch: int, batch: int) -> Path:
        """Write a checkpoint of `self.model` at `epoch` epochs and `batch` batches done."""
        import h5py

        self.directory.mkdir(parents=True, exist_ok=True)
        if self._tokenizers is not None and not self._tokenizers_saved:
            self._write_tokenizers()  # before the checkpoint that needs them
        existing = self.checkpoints()
        index = int(_CKPT.fullmatch(existing[-1].name).group(1)) + 1 if existing else 1
        final = self.directory / f"checkpoint-{index:06d}.weights.h5"
        # Keras insists on the `.weights.h5` suffix; the leading ".tmp-" marks it unfinished.
        tmp = self.directory / f".tmp-{os.getpid()}-{final.name}"
        state = {"format": 1, "epoch": epoch, "batch": batch, "fingerprint": self.fingerprint}
        try:
            self.model.save_weights(tmp)
            with h5py.File(tmp, "a") as f:
                f.attrs[_STATE_ATTR] = json.dumps(state)
            _fsync(tmp)
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync(self.directory)  # make the rename itself durable
        for old in self.checkpoints()[: -self.keep]:
            old.unlink(missing_ok=True)
        return final


_CKPT = re.compile(r"checkpoint-(\d+)\.weights\.h5")
_STATE_ATTR = "s2s_keras_training_state"


def _read_checkpoint_state(path: Path) -> dict:
    import h5py

    with h5py.File(path, "r") as f:
        state = json.loads(f.attrs[_STATE_ATTR])
    if not isinstance(state.get("epoch"), int) or not isinstance(state.get("batch"), int):
        raise ValueError(f"{path.name} has no training position")
    return state


def _fsync(path: Path) -> None:
    """Flush a file or a folder to disk (folders cannot be opened on Windows: skipped)."""
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


@dataclass(frozen=True)
class Recipe:
    """How one family of models is trained by default (each field can be overridden)."""

    tokenizer: str = "word"  # RNNs of the course read words (notebooks 02–05)
    learning_rate: float = 3e-3  # Adam; fast on small corpora, gradients clipped
    label_smoothing: float = 0.0
    clipnorm: float | None = 1.0


RECIPES = {
    "rnn": Recipe(),
    # Subwords (Vaswani et al. 2017 §5.1), label smoothing 0.1 (§5.4); pre-norm blocks
    # train at a constant 1e-3 (Xiong et al. 2020), so no warm-up by default.
    "transformer": Recipe(tokenizer="wordpiece", learning_rate=1e-3, label_smoothing=0.1),
}


def train(
    corpus: Corpus,
    *,
    model: str = "bahdanau",
    config=None,
    epochs: int = 10,
    batch_size: int = 64,
    max_length: int = 64,
    vocab_size: int | None = None,
    learning_rate: float | None = None,
    label_smoothing: float | None = None,
    warmup_steps: int | None = None,
    max_minutes: float | None = None,
    patience: int | None = None,
    backup_dir: str | os.PathLike | None = None,
    backup_every: int | None = None,
    keep_backup: bool = False,
    tensorboard_dir: str | os.PathLike | None = None,
    seed: int = 0,
    verbose: int | str = "auto",
    callbacks: Sequence[keras.callbacks.Callback] = (),
    strategy: str | tf.distribute.Strategy | None = None,
    deterministic: bool = False,
) -> tuple[TrainedModel, dict]:
    """Train a model on `corpus.train`, validating on `corpus.validation`.

    Args:
        corpus: the parallel corpus (direction as named).
        model: an architecture of `s2s_keras.models.MODEL_NAMES`, e.g. `"bahdanau"`.
        config: its config dataclass; the architecture's default when `None`.
        epochs: passes over the training split.
        batch_size: sentences per batch.
        max_length: longest sequence in tokens; longer ones are truncated.
        vocab_size: per-side vocabulary size (word: a cap, `None` keeps every training
            word; WordPiece: the target size, 8000 when `None`).
        learning_rate, label_smoothing: override the architecture's `Recipe`.
        warmup_steps: linear warm-up then inverse square-root decay (`compile_model`).
        max_minutes: stop after this much training time, whatever `epochs` says.
        patience: stop when the validation loss has not improved for this many epochs,
            and keep the best epoch's weights (`EarlyStopping`).
        backup_dir: back up the training state there (`TrainingBackup`: atomic, at
            every epoch end). A run killed midway and started again with the same
            arguments (`epochs` may differ) resumes from its last backup: the epoch it
            was taken in restarts at its first batch, with the saved weights and
            optimizer state. The backup is deleted when training ends.
        backup_every: also back up every this many batches within an epoch.
        keep_backup: keep the backup when training ends; the caller deletes it once
            the model is saved, so that no kill loses the finished training.
        tensorboard_dir: write TensorBoard logs there.
        seed: seeds Python, NumPy and TensorFlow (weights and shuffling).
        verbose: Keras `fit` verbosity (`2`: one line per epoch).
        callbacks: extra Keras callbacks.
        strategy: a `tf.distribute.Strategy` or a name of `distribute.STRATEGIES`
            (`None`: the default strategy); `batch_size` is the global batch, split
            across replicas. `"mirrored"` and `"multiworker"` train with
            `distribute.train_loop` (Keras 3 `fit` fails under them). With
            `"multiworker"`, only the chief (worker 0) writes TensorBoard logs and
            `backup_dir`; worker N backs up to `backup_dir` + `.worker-N`.
        deterministic: call `tf.config.experimental.enable_op_determinism()` (for the
            rest of the process): with the same `seed`, the same weights on every run,
            or an error from an op that has no deterministic implementation.

    Returns:
        `(trained_model, history)` where `history` is Keras' `History.history` dict (the
        epochs of this call only, after a resume; `info["resumed_from"]` then says from
        where).
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs!r}")
    # First: the multi-worker strategy must exist before TensorFlow runs any op.
    strategy = distribute.resolve_strategy(strategy)
    custom_loop = distribute.uses_train_loop(strategy)
    if not distribute.is_chief(strategy):  # a multi-worker cluster's other workers
        tensorboard_dir = None
        if backup_dir is not None:
            backup_dir = f"{os.fspath(backup_dir)}.worker-{strategy.cluster_resolver.task_id}"
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    config = config or model_config(model)
    recipe = RECIPES["transformer" if model == "transformer" else "rnn"]
    learning_rate = learning_rate or recipe.learning_rate
    label_smoothing = recipe.label_smoothing if label_smoothing is None else label_smoothing
    keras.utils.set_random_seed(seed)
    backup = resume = None
    if backup_dir is not None:
        fingerprint = {
            "corpus": corpus.name,
            "split_sizes": corpus.sizes(),
            "model": model,
            "config": asdict(config),
            "batch_size": batch_size,
            "max_length": max_length,
            "vocab_size": vocab_size,
            "learning_rate": learning_rate,
            "label_smoothing": label_smoothing,
            "warmup_steps": warmup_steps,
            "seed": seed,
        }
        backup = TrainingBackup(backup_dir, fingerprint=fingerprint, every_batches=backup_every)
        resume = backup.latest()
    # A resumed run reuses the tokenizers its weights were trained with.
    tokenizers = backup.load_tokenizers() if resume else None
    if tokenizers is None:
        tokenizers = fit_tokenizers(corpus.train, kind=recipe.tokenizer, vocab_size=vocab_size)
        if backup is not None:
            backup.save_tokenizers(*tokenizers)
    source_tokenizer, target_tokenizer = tokenizers
    datasets = [
        make_dataset(
            split,
            source_tokenizer,
            target_tokenizer,
            batch_size=batch_size,
            max_length=max_length,
            shuffle=shuffle,
            seed=seed,
        )
        for split, shuffle in ((corpus.train, True), (corpus.validation, False))
    ]
    with strategy.scope():  # variables (model and optimizer) are made once per replica
        network = build_model(config, source_tokenizer.vocab_size, target_tokenizer.vocab_size)
        # Build the weights now: a backup must be restored into existing variables.
        (source, target_in), _ = next(iter(datasets[1]))
        network((source[:1], target_in[:1]))
        compile_model(
            network,
            learning_rate=learning_rate,
            # train_loop clips the gradients summed over replicas itself.
            clipnorm=None if custom_loop else recipe.clipnorm,
            label_smoothing=label_smoothing,
            warmup_steps=warmup_steps,
        )
        network.optimizer.build(network.trainable_variables)
    callbacks = list(callbacks)
    budget = TimeBudget(max_minutes) if max_minutes is not None else None
    if budget is not None:
        callbacks.append(budget)
    if patience is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True)
        )
    initial_epoch = 0
    if backup is not None:
        resume = backup.restore(network)
        if resume is not None:
            initial_epoch = resume["epoch"]
            if verbose:
                print(_resume_message(resume, backup.directory, epochs), flush=True)
        callbacks.append(backup)
    if tensorboard_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(os.fspath(tensorboard_dir)))
    start = time.monotonic()
    with warnings.catch_warnings():
        # Bucketed tf.data has no known length and shuffles itself: Keras's notes about
        # both ("ran out of data", "shuffle ... ignored") are expected here, not problems.
        warnings.filterwarnings("ignore", message=".*ran out of data.*")
        warnings.filterwarnings("ignore", message=".*`shuffle=True` was passed.*")
        if custom_loop:
            history, out_of_time = distribute.train_loop(
                network,
                strategy,
                datasets[0],
                datasets[1],
                epochs=epochs,
                initial_epoch=initial_epoch,
                label_smoothing=label_smoothing,
                clipnorm=recipe.clipnorm,
                max_minutes=max_minutes,  # checked on every worker, not by TimeBudget
                callbacks=[c for c in callbacks if c is not budget],
                verbose=verbose,
            )
            if budget is not None:
                budget.stopped_early = out_of_time
        else:
            history = network.fit(
                datasets[0],
                validation_data=datasets[1],
                epochs=epochs,
                initial_epoch=initial_epoch,
                verbose=verbose,
                callbacks=callbacks,
            ).history
    seconds = time.monotonic() - start
    if backup is not None and not keep_backup:
        backup.delete()
    info = {
        "corpus": corpus.name,
        "source_lang": corpus.source_lang,
        "target_lang": corpus.target_lang,
        "model": model,
        "config": asdict(config),
        "tokenizer": recipe.tokenizer,
        "params": network.count_params(),
        "epochs_run": len(history.get("loss", [])),
        "resumed_from": (
            None if resume is None else {"epoch": resume["epoch"], "batch": resume["batch"]}
        ),
        # An epoch cut short by `max_minutes` still counts in `epochs_run`: these say so.
        "steps_run": int(network.optimizer.iterations.numpy()),  # int() fails on replicas
        "stopped_by_time_budget": bool(budget is not None and budget.stopped_early),
        "batch_size": batch_size,
        "max_length": max_length,
        "learning_rate": learning_rate,
        "label_smoothing": label_smoothing,
        "warmup_steps": warmup_steps,
        "seed": seed,
        "strategy": distribute.strategy_name(strategy),
        "replicas": strategy.num_replicas_in_sync,
        "deterministic": deterministic,
        "train_seconds": round(seconds, 1),
        "hardware": hardware_description(),
        "split_sizes": corpus.sizes(),
    }
    return TrainedModel(network, source_tokenizer, target_tokenizer, info), history


def _resume_message(state: dict, directory: Path, epochs: int) -> str:
    """E.g. `resuming from epoch 3 of 5 (backup in OUT.backup)`."""
    epoch = state["epoch"] + 1  # 1-based, as Keras prints it
    where = f"epoch {epoch} of {epochs}" if epoch <= epochs else f"the end of epoch {epochs}"
    detail = ""
    if state["batch"]:
        detail = f", with the weights of its batch {state['batch']} (the epoch restarts)"
    if state["unreadable"]:
        detail += f"; skipped unreadable {', '.join(state['unreadable'])}"
    return f"resuming from {where}{detail} (backup in {directory})"


def _settings_record(corpus: Corpus, kwargs: dict) -> dict:
    """What decides a training run's result, as JSON (the key `train_or_load` compares)."""
    from s2s_keras import __version__

    record = {"s2s_keras": __version__, "corpus": corpus.name, "split_sizes": corpus.sizes()}
    for key, value in sorted(kwargs.items()):
        if key in (
            "verbose",
            "callbacks",
            "backup_dir",
            "backup_every",
            "keep_backup",
            "tensorboard_dir",
        ):
            continue  # how a run reports or protects itself does not change its result
        if key == "strategy" and not (value is None or isinstance(value, str)):
            # A Strategy object is not JSON: its kind and replica count decide the run.
            value = f"{distribute.strategy_name(value)} x{value.num_replicas_in_sync}"
        record[key] = asdict(value) if hasattr(value, "__dataclass_fields__") else value
    return json.loads(json.dumps(record))  # tuples → lists, as they come back from disk


def train_or_load(
    directory: str | os.PathLike, corpus: Corpus, *, retrain: bool = False, **kwargs
) -> tuple[TrainedModel, dict]:
    """`train(corpus, **kwargs)` once and save the result; later calls load it.

    The notebooks use this so that a model trained in one notebook (say the seq2seq
    model of notebook 02) is reused, not retrained, by a later one (notebooks 03 and 07).
    The saved run is reused only when it was trained on the same corpus with the same
    settings (every keyword argument except reporting ones such as `verbose`) by the
    same version of `s2s_keras`; otherwise the model is trained again and the directory
    replaced atomically.

    Args:
        directory: where the trained model is saved (`TrainedModel.save`).
        corpus: the corpus to train on.
        retrain: train even when a matching saved run exists.
        **kwargs: the arguments of `train`.

    Returns:
        `(trained_model, history)` as `train` returns them; `trained_model.info` holds
        `"reused": True` when the model was loaded rather than trained.
    """
    directory = Path(directory)
    settings = _settings_record(corpus, kwargs)
    run_file = directory / "run.json"
    if not retrain and run_file.is_file():
        try:
            saved = json.loads(run_file.read_text())
        except (OSError, ValueError):
            saved = {}
        if saved.get("settings") == settings:
            trained = TrainedModel.load(directory)
            trained.info["reused"] = True
            return trained, trained.info.get("history", {})
    trained, history = train(corpus, **kwargs)
    trained.info["settings"] = settings
    trained.info["history"] = {k: [float(x) for x in v] for k, v in history.items()}
    trained.save(directory)
    trained.info["reused"] = False
    return trained, history


def hardware_description() -> str:
    """E.g. `"CPU x2 (Intel Xeon ...), TensorFlow 2.21.0"` or the GPU names."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        names = [
            tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus
        ]
        device = ", ".join(names)
    else:
        cpu = platform.processor() or platform.machine()
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                names = [
                    line.split(":", 1)[1].strip() for line in f if line.startswith("model name")
                ]
            cpu = names[0] if names else cpu
        except OSError:
            pass
        device = f"CPU x{os.cpu_count()} ({cpu})"
    return f"{device}, TensorFlow {tf.__version__}, Keras {keras.__version__}"
