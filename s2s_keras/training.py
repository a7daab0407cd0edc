"""Training helpers: tokenizers for a corpus, compilation, callbacks.

Introduced in notebook 02 (training a seq2seq model); the command line and every
notebook train through these functions.
"""

from __future__ import annotations

import json
import os
import platform
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import keras

from s2s_keras.bundle import TrainedModel
from s2s_keras.evaluation import MaskedAccuracy, MaskedLoss, WarmupSchedule
from s2s_keras.models import build_model, model_config
from s2s_keras.pipeline import make_dataset
from s2s_keras.text import Tokenizer, WordPieceTokenizer, WordTokenizer
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
    tensorboard_dir: str | os.PathLike | None = None,
    seed: int = 0,
    verbose: int | str = "auto",
    callbacks: Sequence[keras.callbacks.Callback] = (),
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
        backup_dir: back up the training state at every epoch end (`BackupAndRestore`);
            a run killed midway and started again with the same arguments resumes from
            its last completed epoch. Keras deletes the backup when training ends.
        tensorboard_dir: write TensorBoard logs there.
        seed: seeds Python, NumPy and TensorFlow (weights and shuffling).
        verbose: Keras `fit` verbosity (`2`: one line per epoch).
        callbacks: extra Keras callbacks.

    Returns:
        `(trained_model, history)` where `history` is Keras' `History.history` dict (the
        epochs of this call only, after a resume).
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs!r}")
    config = config or model_config(model)
    recipe = RECIPES["transformer" if model == "transformer" else "rnn"]
    learning_rate = learning_rate or recipe.learning_rate
    label_smoothing = recipe.label_smoothing if label_smoothing is None else label_smoothing
    keras.utils.set_random_seed(seed)
    source_tokenizer, target_tokenizer = fit_tokenizers(
        corpus.train, kind=recipe.tokenizer, vocab_size=vocab_size
    )
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
    network = build_model(config, source_tokenizer.vocab_size, target_tokenizer.vocab_size)
    # Build the weights now: BackupAndRestore must restore into existing variables.
    (source, target_in), _ = next(iter(datasets[1]))
    network((source[:1], target_in[:1]))
    compile_model(
        network,
        learning_rate=learning_rate,
        clipnorm=recipe.clipnorm,
        label_smoothing=label_smoothing,
        warmup_steps=warmup_steps,
    )
    callbacks = list(callbacks)
    if max_minutes is not None:
        callbacks.append(TimeBudget(max_minutes))
    if patience is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True)
        )
    if backup_dir is not None:
        callbacks.append(keras.callbacks.BackupAndRestore(os.fspath(backup_dir)))
    if tensorboard_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(os.fspath(tensorboard_dir)))
    start = time.monotonic()
    with warnings.catch_warnings():
        # Bucketed tf.data has no known length and shuffles itself: Keras's notes about
        # both ("ran out of data", "shuffle ... ignored") are expected here, not problems.
        warnings.filterwarnings("ignore", message=".*ran out of data.*")
        warnings.filterwarnings("ignore", message=".*`shuffle=True` was passed.*")
        history = network.fit(
            datasets[0],
            validation_data=datasets[1],
            epochs=epochs,
            verbose=verbose,
            callbacks=callbacks,
        )
    seconds = time.monotonic() - start
    info = {
        "corpus": corpus.name,
        "source_lang": corpus.source_lang,
        "target_lang": corpus.target_lang,
        "model": model,
        "config": asdict(config),
        "tokenizer": recipe.tokenizer,
        "params": network.count_params(),
        "epochs_run": len(history.history.get("loss", [])),
        "batch_size": batch_size,
        "max_length": max_length,
        "learning_rate": learning_rate,
        "label_smoothing": label_smoothing,
        "warmup_steps": warmup_steps,
        "seed": seed,
        "train_seconds": round(seconds, 1),
        "hardware": hardware_description(),
        "split_sizes": corpus.sizes(),
    }
    return TrainedModel(network, source_tokenizer, target_tokenizer, info), history.history


def _settings_record(corpus: Corpus, kwargs: dict) -> dict:
    """What decides a training run's result, as JSON (the key `train_or_load` compares)."""
    from s2s_keras import __version__

    record = {"s2s_keras": __version__, "corpus": corpus.name, "split_sizes": corpus.sizes()}
    for key, value in sorted(kwargs.items()):
        if key in ("verbose", "callbacks", "backup_dir", "tensorboard_dir"):
            continue  # how a run reports or protects itself does not change its result
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
