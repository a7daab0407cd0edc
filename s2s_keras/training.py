"""Training: tokenizers for a corpus, compilation, callbacks, and `train` itself.

Introduced in notebook 02 (training a seq2seq model); the command line and every
notebook train through `train(corpus, TrainSettings(...))`. Backups of a run in
progress live in `s2s_keras.checkpoints`.
"""

from __future__ import annotations

import json
import os
import platform
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf
from keras import ops

from s2s_keras import checks, distribute, multilingual
from s2s_keras.bundle import TrainedModel
from s2s_keras.checkpoints import TrainingBackup, merge_history, resume_message
from s2s_keras.errors import S2SError
from s2s_keras.evaluation import MaskedAccuracy, MaskedLoss
from s2s_keras.models import MODEL_NAMES, build_model, model_config
from s2s_keras.pipeline import make_dataset, make_sampled_dataset
from s2s_keras.text import TOKENIZER_KINDS, Tokenizer, learn_tokenizer
from s2s_keras.types import Corpus, ParallelText


def fit_tokenizers(
    train: ParallelText,
    *,
    kind: str = "word",
    vocab_size: int | None = None,
    source_lang: str | None = None,
    target_lang: str | None = None,
) -> tuple[Tokenizer, Tokenizer]:
    """Learn source and target tokenizers on the training split only.

    Each side's tokenizer suits its language (`text.learn_tokenizer`): a Chinese side
    gets the `"zh"` standardization, and `"word"` means characters there.

    Args:
        train: the training pairs (never the validation or test split: that would leak).
        kind: `"word"`, `"character"` or `"wordpiece"`.
        vocab_size: per side; `None` keeps every training word (`"word"`, `"character"`)
            or means 8000 (`"wordpiece"`).
        source_lang, target_lang: ISO 639-1 codes of the two sides, e.g. `"zh"`.
    """
    return (
        learn_tokenizer(train.source, kind=kind, vocab_size=vocab_size, language=source_lang),
        learn_tokenizer(train.target, kind=kind, vocab_size=vocab_size, language=target_lang),
    )


@keras.saving.register_keras_serializable(package="s2s_keras")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The Transformer's learning rate: linear warm-up, then inverse square-root decay.

    `lr(step) = scale · d_model^-0.5 · min(step^-0.5, step · warmup^-1.5)` (Vaswani et
    al. 2017, eq. 3), peaking at `step = warmup`.

    Args:
        d_model: the model width.
        warmup_steps: steps of linear warm-up. Defaults to 4000.
        scale: multiplies the whole schedule. Defaults to 1.
    """

    def __init__(self, d_model, warmup_steps=4000, scale=1.0):
        if d_model < 1 or warmup_steps < 1 or scale <= 0:
            raise ValueError(
                f"d_model and warmup_steps must be >= 1 and scale > 0, got "
                f"d_model={d_model!r}, warmup_steps={warmup_steps!r}, scale={scale!r}"
            )
        self.d_model = d_model
        self.warmup_steps = warmup_steps
        self.scale = scale

    def __call__(self, step):
        step = ops.maximum(ops.cast(step, "float32") + 1.0, 1.0)  # Keras counts from 0
        decay = ops.minimum(ops.rsqrt(step), step * self.warmup_steps**-1.5)
        return self.scale * self.d_model**-0.5 * decay

    def get_config(self):
        return {"d_model": self.d_model, "warmup_steps": self.warmup_steps, "scale": self.scale}


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


class StepBudget(keras.callbacks.Callback):
    """Stop training once the optimizer has taken `steps` steps, counted over the whole
    run (a resumed run restores the count with the optimizer's state)."""

    def __init__(self, steps: int):
        super().__init__()
        self.steps = checks.positive_int("steps", steps)

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) >= self.steps:
            self.model.stop_training = True


class SnapshotAt(keras.callbacks.Callback):
    """Save the model's weights once the optimizer has taken `steps` steps.

    Notebook 10 compares two runs at the same step count, one of which trains longer:
    this keeps the longer run's weights at the shorter run's budget. The file is written
    atomically (`atomic.replacing`); a resumed run that already passed `steps` leaves it.

    Args:
        steps: the step count to keep (>= 1).
        path: the `.weights.h5` file to write.
    """

    def __init__(self, steps: int, path: str | os.PathLike):
        super().__init__()
        self.steps = checks.positive_int("steps", steps)
        self.path = Path(path)
        if not self.path.name.endswith(".weights.h5"):
            raise ValueError(f"path must end in .weights.h5, got {str(path)!r}")

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.steps:
            from s2s_keras import atomic

            with atomic.replacing(self.path, suffix=".weights.h5") as tmp:
                self.model.save_weights(tmp)


class EpochSnapshots(keras.callbacks.Callback):
    """Save the model's weights at the end of every epoch, as `epoch-N.weights.h5`.

    Notebook 06 asks how the Transformer's loops change with training length: these are
    the same run's weights after 1, 2, ... epochs. Each file is written atomically
    (`atomic.replacing`); a resumed run rewrites only the epochs it trains.

    Args:
        directory: the folder to write into (created when missing).
    """

    def __init__(self, directory: str | os.PathLike):
        super().__init__()
        self.directory = Path(directory)

    def on_epoch_end(self, epoch, logs=None):
        from s2s_keras import atomic

        self.directory.mkdir(parents=True, exist_ok=True)
        with atomic.replacing(
            self.directory / epoch_weights_name(epoch + 1), suffix=".weights.h5"
        ) as tmp:
            self.model.save_weights(tmp)


def epoch_weights_name(epoch: int) -> str:
    """The file `EpochSnapshots` writes for `epoch` (counted from 1)."""
    return f"epoch-{checks.positive_int('epoch', epoch)}.weights.h5"


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


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """Keras' `EarlyStopping` whose state survives a resume from a training backup.

    Keras resets the best value, the epochs waited and the best weights when `fit`
    begins, so a run resumed from a backup would start counting its patience again and
    forget the best epoch before the kill: it can stop at another epoch, with other
    weights, than the run that was never interrupted. `TrainingBackup` stores `state()`
    and the best weights with every checkpoint; `resume_from` puts them back before `fit`.
    """

    def state(self) -> dict:
        """`{"best", "wait", "best_epoch"}`, JSON-serialisable (`best` None before any epoch)."""
        best = getattr(self, "best", None)
        return {
            "best": None if best is None else float(best),
            "wait": int(getattr(self, "wait", 0)),
            "best_epoch": int(getattr(self, "best_epoch", 0)),
        }

    def resume_from(self, state: dict, best_weights: list | None) -> None:
        """Continue from a saved `state()` and best weights when `fit` begins."""
        self._resumed = (state, best_weights)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        resumed = getattr(self, "_resumed", None)
        if resumed is not None:
            state, best_weights = resumed
            self.best, self.wait = state["best"], state["wait"]
            self.best_epoch = state["best_epoch"]
            self.best_weights = best_weights


# `train` records the training metrics every this many steps (`StepLog`).
LOG_EVERY = 100


class StepLog(keras.callbacks.Callback):
    """Training metrics every `every` steps, for learning curves with more than a point.

    Keras reports a training metric once per epoch, as its mean over the epoch; a run of
    two or three epochs then draws a curve of two or three points. This callback records
    the mean of each metric over every `every` steps instead (and over the steps left at
    the end of an epoch), from the running means Keras passes to `on_train_batch_end`,
    and the global step of every epoch end, where the validation metrics are computed.

    Args:
        every: steps per point (>= 1). Defaults to 100.
        metrics: the training metrics recorded. Defaults to loss and masked accuracy.
    """

    def __init__(self, every: int = 100, metrics: Sequence[str] = ("loss", "masked_accuracy")):
        super().__init__()
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be an integer >= 1, got {every!r}")
        self.every = every
        self.metrics = tuple(metrics)
        self.steps: list[int] = []
        self.values: dict[str, list[float]] = {m: [] for m in self.metrics}
        self.epoch_end_steps: list[int] = []

    def on_train_begin(self, logs=None):
        self._step = self._iterations()  # a resumed run goes on from its step

    def _iterations(self) -> int:
        return int(self.model.optimizer.iterations.numpy())

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self._step
        self._mark = (0, dict.fromkeys(self.metrics, 0.0))  # (batches, sums) at the last point

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self._step % self.every == 0:
            self._point(self._step - self._epoch_start, logs or {})

    def _point(self, batches: int, logs: dict):
        count, sums = self._mark
        if batches <= count or not all(m in logs for m in self.metrics):
            return
        # Keras' running mean over the epoch times its batches is the epoch's sum so far.
        totals = {m: float(logs[m]) * batches for m in self.metrics}
        for m in self.metrics:
            self.values[m].append((totals[m] - sums[m]) / (batches - count))
        self.steps.append(self._epoch_start + batches)
        self._mark = (batches, totals)

    def on_epoch_end(self, epoch, logs=None):
        # Keras may skip the batch hook of an epoch's last step (the one that finds the
        # data exhausted): the optimizer's step count and the epoch's means are exact.
        self._step = self._iterations()
        self._point(self._step - self._epoch_start, logs or {})
        self.epoch_end_steps.append(self._step)

    def history(self) -> dict[str, list]:
        """`{"step": [...], "step_<metric>": [...], "val_step": [...]}` (`val_step`: the
        global step of each epoch end, aligned with Keras' `val_*` lists)."""
        out: dict[str, list] = {"step": list(self.steps), "val_step": list(self.epoch_end_steps)}
        out.update({f"step_{m}": list(v) for m, v in self.values.items()})
        return out


@dataclass(frozen=True)
class Recipe:
    """How one family of models is trained by default.

    `TrainSettings` overrides each field but `clipnorm`; its `None` means the recipe's.
    """

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


TOKENIZERS = TOKENIZER_KINDS  # "word", "character", "wordpiece"
# What a resumed run may change (`--epochs 5` after `--epochs 3`): not checked on resume.
_MAY_CHANGE_ON_RESUME = ("epochs", "steps", "max_minutes", "patience", "strategy", "deterministic")
# Settings added later, recorded only when set: a record written before they existed is
# the record of the same settings today (`TrainSettings.from_record` reads it back).
_RECORDED_WHEN_SET = ("steps", "temperature")
# A run counted in steps is validated (and backed up) every this many steps.
STEPS_PER_EPOCH = 1000
DEFAULT_TEMPERATURE = 5.0  # of a multilingual corpus (Arivazhagan et al. 2019)


@dataclass(frozen=True)
class TrainSettings:
    """Everything that decides the result of a training run (`train`), in one object.

    How a run reports on itself or protects itself (verbosity, callbacks, TensorBoard
    logs, backups) is not a setting: those are arguments of `train`. `None` in
    `config`, `tokenizer`, `learning_rate` and `label_smoothing` means the default of
    the architecture (`model_config`) or of its `Recipe` (`resolved()` fills them in).
    Every value is checked here: a bad one is a `ValueError` naming it.

    Example:

        settings = TrainSettings(model="transformer", epochs=2, vocab_size=4000)
        trained, history = train(corpus, settings)

    Args:
        model: an architecture of `s2s_keras.models.MODEL_NAMES`. Defaults to
            `"bahdanau"`.
        config: its config dataclass (of that architecture: a `Seq2SeqConfig` for
            `"seq2seq"`, ...); `None` for the architecture's default.
        epochs: passes over the training split, at least 1. Defaults to 10.
        batch_size: sentences per batch (the global batch under a strategy with several
            replicas). Defaults to 64.
        max_length: longest sequence in tokens; longer ones are truncated. Defaults to 64.
        vocab_size: per-side vocabulary size (word: a cap, `None` keeps every training
            word; WordPiece: the target size, 8000 when `None`).
        tokenizer: `"word"`, `"character"` or `"wordpiece"`; `None` for the recipe's
            (`"word"` is characters for a Chinese side).
        learning_rate: Adam's step size, > 0; `None` for the recipe's.
        label_smoothing: ε in `[0, 1)` (`MaskedLoss`); `None` for the recipe's.
        warmup_steps: linear warm-up then inverse square-root decay (`compile_model`);
            `None` (the default) for a constant rate.
        max_minutes: stop after this much training time, whatever `epochs` says.
        patience: stop when the validation loss has not improved for this many epochs,
            and keep the best epoch's weights (`EarlyStopping`).
        seed: seeds Python, NumPy and TensorFlow (weights and shuffling), >= 0.
        strategy: a `tf.distribute.Strategy` or a name of `distribute.STRATEGIES`;
            `None` for the default strategy. `"mirrored"` and `"multiworker"` train with
            `distribute.train_loop` (Keras 3 `fit` fails under them).
        deterministic: call `tf.config.experimental.enable_op_determinism()` (for the
            rest of the process): with the same `seed`, the same weights on every run,
            or an error from an op that has no deterministic implementation.
        steps: train for this many optimizer steps instead of `epochs` passes; the
            training data repeats, and an "epoch" (validation, backup, early stopping)
            is `STEPS_PER_EPOCH` steps (fewer for a smaller budget). `None` (the
            default) counts epochs. A multilingual corpus is best counted in steps.
        temperature: `T` of the sampling over the directions of a multilingual corpus
            (`multilingual.sampling_probabilities`, p ∝ size^(1/T)); `None` means
            `DEFAULT_TEMPERATURE` (5) there. Other corpora ignore it.
    """

    model: str = "bahdanau"
    config: Any = None
    epochs: int = 10
    batch_size: int = 64
    max_length: int = 64
    vocab_size: int | None = None
    tokenizer: str | None = None
    learning_rate: float | None = None
    label_smoothing: float | None = None
    warmup_steps: int | None = None
    max_minutes: float | None = None
    patience: int | None = None
    seed: int = 0
    strategy: str | tf.distribute.Strategy | None = None
    deterministic: bool = False
    steps: int | None = None
    temperature: float | None = None

    def __post_init__(self):
        if self.model not in MODEL_NAMES:
            raise ValueError(f"model must be one of {', '.join(MODEL_NAMES)}, got {self.model!r}")
        if self.config is not None:
            _check_config(self.model, self.config)
        for name in ("epochs", "batch_size", "max_length"):
            checks.positive_int(name, getattr(self, name))
        for name in ("vocab_size", "warmup_steps", "patience", "steps"):
            if getattr(self, name) is not None:
                checks.positive_int(name, getattr(self, name))
        checks.non_negative_int("seed", self.seed)
        if self.tokenizer is not None and self.tokenizer not in TOKENIZERS:
            raise ValueError(
                f"tokenizer must be one of {', '.join(map(repr, TOKENIZERS))} or None, "
                f"got {self.tokenizer!r}"
            )
        for name in ("learning_rate", "max_minutes", "temperature"):
            if getattr(self, name) is not None:
                checks.positive_number(name, getattr(self, name))
        if self.label_smoothing is not None:
            checks.fraction("label_smoothing", self.label_smoothing)
        if not (
            self.strategy is None
            or self.strategy in distribute.STRATEGIES
            or isinstance(self.strategy, tf.distribute.Strategy)
        ):
            raise ValueError(
                f"strategy must be one of {', '.join(distribute.STRATEGIES)}, a "
                f"tf.distribute.Strategy or None, got {self.strategy!r}"
            )
        checks.boolean("deterministic", self.deterministic)

    @property
    def recipe(self) -> Recipe:
        """The `Recipe` of the architecture's family."""
        return RECIPES["transformer" if self.model == "transformer" else "rnn"]

    def resolved(self) -> TrainSettings:
        """These settings with every `None` that means a default replaced by that default."""
        recipe = self.recipe
        return replace(
            self,
            config=model_config(self.model) if self.config is None else self.config,
            tokenizer=recipe.tokenizer if self.tokenizer is None else self.tokenizer,
            learning_rate=(
                recipe.learning_rate if self.learning_rate is None else self.learning_rate
            ),
            label_smoothing=(
                recipe.label_smoothing if self.label_smoothing is None else self.label_smoothing
            ),
        )

    def record(self) -> dict:
        """The settings as JSON, defaults filled in (`resolved`).

        What a run records in its `info`, what a backup is checked against on resume and
        what `train_or_load` compares all come from here. A `Strategy` object is recorded
        by kind and replica count, e.g. `"mirrored x2"`.
        """
        resolved = self.resolved()
        record = {f.name: getattr(resolved, f.name) for f in fields(resolved)}
        record["config"] = asdict(resolved.config)
        if isinstance(self.strategy, tf.distribute.Strategy):
            kind = distribute.strategy_name(self.strategy)
            record["strategy"] = f"{kind} x{self.strategy.num_replicas_in_sync}"
        elif self.strategy is None:
            record["strategy"] = "default"
        for name in _RECORDED_WHEN_SET:
            if record[name] is None:
                del record[name]
        return json.loads(json.dumps(record))  # tuples → lists, as they come back from disk

    @classmethod
    def from_record(cls, record: dict) -> TrainSettings:
        """The settings of a `record()` (a run's `info` will do), strategy left default.

        A record written before a setting existed gets that setting's default; keys
        that are not settings (`corpus`, `params`, ...) are ignored.

        Raises:
            ValueError: a recorded value is not a valid setting.
        """
        names = {f.name for f in fields(cls)} - {"strategy"}
        values = {k: v for k, v in record.items() if k in names}
        if isinstance(values.get("config"), dict):
            default = model_config(values.get("model", cls.model))
            config = {
                k: tuple(v) if isinstance(getattr(default, k, None), tuple) else v
                for k, v in values["config"].items()
            }
            values["config"] = replace(default, **config)
        return cls(**values)


def _check_config(model: str, config) -> None:
    """Refuse a config that would train another architecture than `model` says."""
    default = model_config(model)
    if type(config) is not type(default):
        raise ValueError(
            f"config {config!r} is not a config of model {model!r}, which takes a "
            f"{type(default).__name__}; pass the model that config is for, or config=None"
        )
    attention = getattr(default, "attention", None)
    if getattr(config, "attention", None) != attention:
        raise ValueError(
            f"model {model!r} has attention={attention!r}, but its config has "
            f"attention={config.attention!r}; pick the model of that attention "
            f"(MODEL_NAMES: {', '.join(MODEL_NAMES)})"
        )


def train(
    corpus: Corpus,
    settings: TrainSettings | None = None,
    *,
    backup_dir: str | os.PathLike | None = None,
    backup_every: int | None = None,
    keep_backup: bool = False,
    tensorboard_dir: str | os.PathLike | None = None,
    verbose: int | str = "auto",
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> tuple[TrainedModel, dict]:
    """Train a model on `corpus.train`, validating on `corpus.validation`.

    Args:
        corpus: the parallel corpus (direction as named).
        settings: what to train and how (`TrainSettings`); `None` for the defaults.
        backup_dir: back up the training state there (`checkpoints.TrainingBackup`:
            atomic, at every epoch end). A run killed midway and started again with the
            same settings (`epochs` may differ) resumes from its last backup: the epoch
            it was taken in restarts at its first batch, with the saved weights and
            optimizer state. The backup is deleted when training ends. Under
            `"multiworker"`, worker N other than the chief backs up to `backup_dir` +
            `.worker-N`.
        backup_every: also back up every this many batches within an epoch.
        keep_backup: keep the backup when training ends; the caller deletes it once
            the model is saved, so that no kill loses the finished training.
        tensorboard_dir: write TensorBoard logs there (the chief only).
        verbose: Keras `fit` verbosity (`2`: one line per epoch).
        callbacks: extra Keras callbacks.

    Returns:
        `(trained_model, history)` where `history` is Keras' `History.history` dict plus
        `StepLog`'s per-`LOG_EVERY`-steps means (`step`, `step_loss`, ..., `val_step`)
        when `fit` trained; after a resume, the history the backup kept comes first
        (`info["resumed_from"]` says from where). `info`'s `epochs_run`, `steps_run` and `train_seconds` count the whole
        run, the calls before a resume included (a resumed epoch's redone batches count
        twice in the seconds).
    """
    settings = (TrainSettings() if settings is None else settings).resolved()
    for split in ("train", "validation"):
        if len(corpus.split(split)) == 0:
            raise S2SError(
                f"{corpus.name} has no {split} pairs ({corpus.sizes()}): training needs "
                "both a training and a validation split"
            )
    strategy = _start(settings)  # first: before TensorFlow runs any op
    if distribute.uses_train_loop(strategy) and (
        settings.steps or isinstance(corpus, multilingual.MultilingualCorpus)
    ):
        raise S2SError(
            "the mirrored and multi-worker strategies train by epochs of one corpus; "
            "train a step budget or a multilingual corpus with the default strategy"
        )
    if not distribute.is_chief(strategy):  # a multi-worker cluster's other workers
        tensorboard_dir = None
        if backup_dir is not None:
            backup_dir = f"{os.fspath(backup_dir)}.worker-{strategy.cluster_resolver.task_id}"
    backup = None if backup_dir is None else _backup(corpus, settings, backup_dir, backup_every)
    resume = None if backup is None else backup.latest()  # other settings fail here, early
    tokenizers = _tokenizers(corpus, settings, backup, resume)
    train_data, validation_data = _datasets(corpus, settings, tokenizers)
    network = _build_model(settings, strategy, tokenizers, validation_data)
    callbacks = _callbacks(settings, callbacks, tensorboard_dir)
    epochs, steps_per_epoch = _schedule(corpus, settings)
    initial_epoch = 0
    step_log = StepLog(LOG_EVERY)
    callbacks.append(step_log)  # before the backup, which saves its points
    if backup is not None:
        backup.early_stopping = next(
            (c for c in callbacks if isinstance(c, ResumableEarlyStopping)), None
        )
        backup.step_log = step_log
        resume = backup.restore(network)
        if resume is not None:
            initial_epoch = resume["epoch"]
            backup.seconds_before = float(resume.get("train_seconds", 0.0))  # older backups: 0
            backup.history_before = resume.get("history", {})  # older backups: none
            if verbose:
                print(resume_message(resume, backup.directory, epochs), flush=True)
        callbacks.append(backup)
    seconds_before = 0.0 if backup is None else backup.seconds_before
    start = time.monotonic()
    history, out_of_time = _fit(
        network,
        strategy,
        settings,
        train_data,
        validation_data,
        initial_epoch,
        callbacks,
        verbose,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
    )
    if step_log.steps:  # the training loop of the mirrored strategies calls no batch hooks
        history = {**history, **step_log.history()}
    epochs_this_call = len(history.get("loss", []))
    if backup is not None:
        history = merge_history(backup.history_before, history)
    info = {
        **_run_record(corpus, settings, strategy),
        **_mixture_record(corpus, settings),
        "params": network.count_params(),
        # Counted over the whole run: a resumed run adds the epochs and seconds before.
        "epochs_run": initial_epoch + epochs_this_call,
        "resumed_from": None if resume is None else {k: resume[k] for k in ("epoch", "batch")},
        # An epoch cut short by `max_minutes` still counts in `epochs_run`: these say so.
        "steps_run": int(network.optimizer.iterations.numpy()),  # int() fails on replicas
        "stopped_by_time_budget": out_of_time,
        "train_seconds": round(time.monotonic() - start + seconds_before, 1),
        "hardware": hardware_description(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if backup is not None and not keep_backup:
        backup.delete()
    return TrainedModel(network, *tokenizers, info), history


def _start(settings: TrainSettings) -> tf.distribute.Strategy:
    """The run's strategy, op determinism and seeds; a multi-worker strategy must come
    before any TensorFlow op."""
    strategy = distribute.resolve_strategy(settings.strategy)
    if settings.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(settings.seed)
    return strategy


def _run_record(corpus: Corpus, settings: TrainSettings, strategy) -> dict:
    """The corpus and the settings of a run, as its `info` records them."""
    return {
        "corpus": corpus.name,
        "source_lang": corpus.source_lang,
        "target_lang": corpus.target_lang,
        "split_sizes": corpus.sizes(),
        **settings.record(),
        "strategy": distribute.strategy_name(strategy),
        "replicas": strategy.num_replicas_in_sync,
    }


def _mixture_record(corpus: Corpus, settings: TrainSettings) -> dict:
    """The directions and sampling probabilities of a multilingual corpus; `{}` otherwise."""
    if not isinstance(corpus, multilingual.MultilingualCorpus):
        return {}
    temperature = _temperature(settings)
    sizes = corpus.direction_sizes("train")
    return {
        "languages": list(corpus.languages),
        "directions": list(corpus.direction_names()),
        "sampling_temperature": temperature,
        "sampling_probabilities": multilingual.sampling_probabilities(
            {d: n for d, n in sizes.items() if n}, temperature
        ),
    }


def _temperature(settings: TrainSettings) -> float:
    return DEFAULT_TEMPERATURE if settings.temperature is None else settings.temperature


def _backup(corpus: Corpus, settings: TrainSettings, directory, every: int | None):
    """A `TrainingBackup` that refuses a backup of a run with other settings."""
    fingerprint = {"corpus": corpus.name, "split_sizes": corpus.sizes(), **settings.record()}
    for key in _MAY_CHANGE_ON_RESUME:
        fingerprint.pop(key, None)
    return TrainingBackup(directory, fingerprint=fingerprint, every_batches=every)


def _tokenizers(
    corpus: Corpus, settings: TrainSettings, backup: TrainingBackup | None, resume: dict | None
) -> tuple[Tokenizer, Tokenizer]:
    """The backup's tokenizers when resuming (its weights expect them), else new ones,
    which the backup stores with its first checkpoint."""
    saved = backup.load_tokenizers() if resume else None
    if saved is not None:
        return saved
    if isinstance(corpus, multilingual.MultilingualCorpus):
        # One vocabulary for every language, on both sides (Johnson et al. 2017). Both
        # directions of each pair are in the corpus, so the targets hold every sentence.
        shared = learn_tokenizer(
            corpus.train.target,
            kind=settings.tokenizer,
            vocab_size=settings.vocab_size,
            language="mul",
        )
        tokenizers = (shared, shared)
        if backup is not None:
            backup.save_tokenizers(*tokenizers)
        return tokenizers
    tokenizers = fit_tokenizers(
        corpus.train,
        kind=settings.tokenizer,
        vocab_size=settings.vocab_size,
        source_lang=corpus.source_lang,
        target_lang=corpus.target_lang,
    )
    if backup is not None:
        backup.save_tokenizers(*tokenizers)
    return tokenizers


def _datasets(corpus: Corpus, settings: TrainSettings, tokenizers) -> list[tf.data.Dataset]:
    """The training batches (shuffled; endless when counted in steps or sampled from the
    directions of a multilingual corpus) and the validation batches."""
    sizes = dict(batch_size=settings.batch_size, max_length=settings.max_length)
    validation = make_dataset(corpus.validation, *tokenizers, shuffle=False, **sizes)
    if isinstance(corpus, multilingual.MultilingualCorpus):
        parts = multilingual.direction_parts(corpus, "train")
        probabilities = multilingual.sampling_probabilities(
            {d: len(p) for d, p in parts.items()}, _temperature(settings)
        )
        train_data = make_sampled_dataset(
            list(parts.values()),
            list(probabilities.values()),
            *tokenizers,
            seed=settings.seed,
            **sizes,
        )
    else:
        train_data = make_dataset(corpus.train, *tokenizers, seed=settings.seed, **sizes)
        if settings.steps:
            train_data = train_data.repeat()
    return [train_data, validation]


def _schedule(corpus: Corpus, settings: TrainSettings) -> tuple[int, int | None]:
    """`(epochs, steps_per_epoch)` of `fit`; `steps_per_epoch` is `None` for one pass.

    A step budget is cut into epochs of `STEPS_PER_EPOCH` steps (`StepBudget` stops the
    last one on time); a multilingual corpus without one has epochs of as many steps as
    one pass over its training pairs would take.
    """
    if settings.steps:
        per_epoch = min(settings.steps, STEPS_PER_EPOCH)
        return -(-settings.steps // per_epoch), per_epoch
    if isinstance(corpus, multilingual.MultilingualCorpus):
        return settings.epochs, -(-len(corpus.train) // settings.batch_size)
    return settings.epochs, None


def _build_model(settings: TrainSettings, strategy, tokenizers, validation_data) -> keras.Model:
    """The model, built (weights made) and compiled under `strategy`'s scope."""
    source_tokenizer, target_tokenizer = tokenizers
    with strategy.scope():  # variables (model and optimizer) are made once per replica
        network = build_model(
            settings.config, source_tokenizer.vocab_size, target_tokenizer.vocab_size
        )
        # Build the weights now: a backup must be restored into existing variables.
        (source, target_in), _ = next(iter(validation_data))
        network((source[:1], target_in[:1]))
        compile_model(
            network,
            learning_rate=settings.learning_rate,
            # train_loop clips the gradients summed over replicas itself.
            clipnorm=None if distribute.uses_train_loop(strategy) else settings.recipe.clipnorm,
            label_smoothing=settings.label_smoothing,
            warmup_steps=settings.warmup_steps,
        )
        network.optimizer.build(network.trainable_variables)
    return network


def _callbacks(settings: TrainSettings, extra, tensorboard_dir) -> list[keras.callbacks.Callback]:
    """The caller's callbacks, then the time budget, early stopping and TensorBoard."""
    callbacks = list(extra)
    if settings.steps is not None:
        callbacks.append(StepBudget(settings.steps))
    if settings.max_minutes is not None:
        callbacks.append(TimeBudget(settings.max_minutes))
    if settings.patience is not None:
        callbacks.append(
            ResumableEarlyStopping(patience=settings.patience, restore_best_weights=True)
        )
    if tensorboard_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(os.fspath(tensorboard_dir)))
    return callbacks


def _fit(
    network,
    strategy,
    settings,
    train_data,
    validation_data,
    initial_epoch,
    callbacks,
    verbose,
    *,
    epochs: int,
    steps_per_epoch: int | None = None,
) -> tuple[dict, bool]:
    """Keras `fit`, or `distribute.train_loop` under the mirrored strategies.

    Returns:
        `(history, stopped_by_time_budget)`.
    """
    budget = next((c for c in callbacks if isinstance(c, TimeBudget)), None)
    with warnings.catch_warnings():
        # Bucketed tf.data has no known length and shuffles itself: Keras's notes about
        # both ("ran out of data", "shuffle ... ignored") are expected here, not problems.
        warnings.filterwarnings("ignore", message=".*ran out of data.*")
        warnings.filterwarnings("ignore", message=".*`shuffle=True` was passed.*")
        if distribute.uses_train_loop(strategy):
            return distribute.train_loop(
                network,
                strategy,
                train_data,
                validation_data,
                epochs=settings.epochs,
                initial_epoch=initial_epoch,
                label_smoothing=settings.label_smoothing,
                clipnorm=settings.recipe.clipnorm,
                max_minutes=settings.max_minutes,  # checked on every worker, not by TimeBudget
                callbacks=[c for c in callbacks if c is not budget],
                verbose=verbose,
            )
        history = network.fit(
            train_data,
            validation_data=validation_data,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            initial_epoch=initial_epoch,
            verbose=verbose,
            callbacks=callbacks,
        ).history
    return history, bool(budget is not None and budget.stopped_early)


def train_or_load(
    directory: str | os.PathLike,
    corpus: Corpus,
    settings: TrainSettings | None = None,
    *,
    retrain: bool = False,
    **options,
) -> tuple[TrainedModel, dict]:
    """`train(corpus, settings, **options)` once and save the result; later calls load it.

    The notebooks use this so that a model trained in one notebook (say the seq2seq
    model of notebook 02) is reused, not retrained, by a later one (notebooks 03 and 07).
    The saved run is reused only when it was trained on the same corpus with the same
    settings (`settings.record()`; not `options` such as `verbose`) by the same version
    of `s2s_keras`; otherwise the model is trained again and the directory replaced
    atomically.

    Args:
        directory: where the trained model is saved (`TrainedModel.save`).
        corpus: the corpus to train on.
        settings: the run's `TrainSettings`; `None` for the defaults.
        retrain: train even when a matching saved run exists.
        **options: the other arguments of `train` (`verbose`, `callbacks`, ...).

    Returns:
        `(trained_model, history)` as `train` returns them; `trained_model.info` holds
        `"reused": True` when the model was loaded rather than trained.
    """
    from s2s_keras import __version__

    directory = Path(directory)
    settings = TrainSettings() if settings is None else settings
    key = {
        "s2s_keras": __version__,
        "corpus": corpus.name,
        "split_sizes": corpus.sizes(),
        **settings.record(),
    }
    run_file = directory / "run.json"
    if not retrain and run_file.is_file():
        try:
            saved = json.loads(run_file.read_text())
        except (OSError, ValueError):
            saved = {}
        if saved.get("settings") == key:
            trained = TrainedModel.load(directory)
            trained.info["reused"] = True
            return trained, trained.info.get("history", {})
    trained, history = train(corpus, settings, **options)
    trained.info["settings"] = key
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
