"""The course's training settings, kept in one place so the notebooks share models.

Notebook 02 trains `seq2seq`, 04 `bahdanau`, 05 the Luong models, 06 the `transformer`;
03 decodes with 02's model and 07 evaluates all of them. Each notebook calls
`course.train(name, corpus)`, which trains with the settings below and saves the model
under `runs_dir()`, or loads it when a previous notebook already trained it with the same
settings (`training.train_or_load`). A learner who changes a setting gets a new model.

Full runs use the Spanish→English corpus (notebook 09: Chinese ↔ English; 10: the
multilingual `tatoeba-multi`); smoke runs (`S2S_SMOKE=1`, what CI executes) use the toy
corpus (09: a slice of cmn-eng; 10: `toy-multi`) and tiny models.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from s2s_keras.models import MODEL_NAMES, model_config
from s2s_keras.training import STEPS_PER_EPOCH, TrainSettings, train_or_load

# Fields of `TrainSettings`: four passes over the 114,227 training pairs of spa-eng per
# model, counted in epochs and never cut by a clock, so a slow or busy machine changes the
# wall time, never the model. RNNs: embeddings of 128, 256 GRU units per direction, 5,000
# words per side, Adam at 1e-3; the Transformer: the package's default (2+2 layers,
# d_model 128) on 8,000 WordPieces per side, its recipe (label smoothing 0.1) at Adam 2e-3
# and, like the RNNs, without dropout: four epochs are too few to memorise the training
# pairs (its validation loss still falls in the fourth), so dropout mostly slows learning.
# With the recipe's dropout of 0.1 its four-epoch runs scored 45.13 and 44.76 greedy BLEU
# at 1e-3 and 45.02 and 44.74 at 2e-3, the edge of the course's 45; batches of 32 did no
# better (validation loss 2.301 after three epochs against 2.289;
# docs/measurements/course-sizing).
FULL = {
    "epochs": 4,
    "batch_size": 64,
    "max_length": 64,
    "seed": 0,
}
RNN_SIZES = {"embedding_dim": 128, "units": 256}
WORD_VOCAB = 5000
RNN_LEARNING_RATE = 1e-3
TRANSFORMER_LEARNING_RATE = 2e-3
TRANSFORMER_DROPOUT = 0.0

# Notebook 01's dual encoder (translation retrieval, trained in the notebook itself): this
# many steps of 128 pairs, about one pass over spa-eng's training pairs, counted in steps
# and never cut by a clock (900 steps took about 5 minutes on a 2-core CPU). Smoke runs
# take 20 steps on the toy corpus.
DUAL_ENCODER_STEPS = 900
DUAL_ENCODER_SMOKE_STEPS = 20

# A course training backs itself up this often (and at every epoch end): a run killed
# midway, by a closed laptop or a Colab runtime recycled, resumes when called again.
BACKUP_EVERY = 500

SMOKE = {"epochs": 1, "batch_size": 64, "max_length": 32, "seed": 0}
SMOKE_SIZES = {"embedding_dim": 16, "units": 16}
SMOKE_TRANSFORMER = {"num_layers": 1, "d_model": 32, "num_heads": 2, "ff_dim": 64}


# Notebook 09's Chinese models train until the validation loss stops improving (3 epochs
# without a better one; the best weights are kept), at most 40 epochs: cmn-eng has a
# quarter of spa-eng's pairs, so an epoch is short and the models need many.
CHINESE = {"epochs": 40, "patience": 3, "batch_size": 64, "max_length": 64, "seed": 0}
CHINESE_CORPORA = ("cmn-eng", "eng-cmn")
# Smoke runs of notebook 09 take the first pairs of each split of the real corpus.
CHINESE_SMOKE_PAIRS = {"train": 1500, "validation": 60, "test": 60}


# Notebook 10's multilingual Transformer: the package's default Transformer on one
# shared vocabulary of 16,000 WordPieces, trained for a budget of steps on the mixture
# of six directions, sampled at temperature 5 (Arivazhagan et al. 2019). 5,000 steps of
# 64 pairs see 320,000 pairs, about half of the 605,354 training pairs: a budget sized so
# that the model and its baselines train in about two hours on a 2-core CPU (about 1.3
# steps a second, two trainings side by side), far from converged.
MULTILINGUAL = {
    "steps": 5_000,
    "batch_size": 64,
    "max_length": 64,
    "seed": 0,
    "temperature": 5.0,
    "vocab_size": 16_000,
}
MULTILINGUAL_SMOKE = {
    "steps": 30,
    "batch_size": 32,
    "max_length": 32,
    "seed": 0,
    "temperature": 5.0,
    "vocab_size": 500,
}
# Notebook 10 compares temperature 1 with 5 at this many steps: the T = 1 run stops there,
# and the course's run keeps its weights when it passes it (`training.SnapshotAt`).
MULTILINGUAL_COMPARE_AT = 2_500
MULTILINGUAL_SMOKE_COMPARE_AT = 10
# Back up a multilingual run this often, so a run that spans sessions loses little.
MULTILINGUAL_BACKUP_EVERY = 500


def multilingual_corpus_name(smoke: bool) -> str:
    """Notebook 10's corpus: `tatoeba-multi`, `toy-multi` when smoking."""
    return "toy-multi" if smoke else "tatoeba-multi"


def multilingual_compare_at(smoke: bool = False) -> int:
    """The step count at which notebook 10 compares sampling temperatures."""
    return MULTILINGUAL_SMOKE_COMPARE_AT if smoke else MULTILINGUAL_COMPARE_AT


def multilingual_settings(smoke: bool = False, **overrides) -> TrainSettings:
    """The `TrainSettings` of notebook 10's multilingual Transformer.

    Args:
        smoke: the tiny settings of CI's smoke runs.
        **overrides: fields to change, e.g. `temperature=1.0` or `steps=10_000` for the
            comparisons of notebook 10.
    """
    budget = {**(MULTILINGUAL_SMOKE if smoke else MULTILINGUAL), **overrides}
    config = model_config("transformer", **(SMOKE_TRANSFORMER if smoke else {}))
    return TrainSettings(model="transformer", config=config, **budget)


def _snapshot_name(steps: int) -> str:
    return f"step-{steps}.weights.h5"


def train_multilingual(corpus, smoke: bool = False, *, name: str = "transformer", **overrides):
    """Train (or load) notebook 10's multilingual model on `corpus`, backed up as it goes.

    A run killed midway resumes from its backup when called again with the same
    settings (`training.train`'s `backup_dir`). A run longer than
    `multilingual_compare_at(smoke)` steps keeps its weights at that step in its folder
    (`multilingual_at_step` loads them).

    Args:
        corpus: a multilingual corpus (`corpora.load_corpus("tatoeba-multi")`).
        smoke: the tiny settings of CI's smoke runs.
        name: the run's folder under `runs_dir() / corpus.name`; give each variant its own.
        **overrides: as in `multilingual_settings`.

    Returns:
        `(trained_model, history)` as `training.train_or_load` returns them.
    """
    from s2s_keras.training import SnapshotAt

    directory = runs_dir() / corpus.name / name
    chosen = multilingual_settings(smoke, **overrides)
    compare_at = multilingual_compare_at(smoke)
    snapshot = directory.with_name(f"{name}.{_snapshot_name(compare_at)}")
    callbacks = [SnapshotAt(compare_at, snapshot)] if chosen.steps > compare_at else []
    trained, history = train_or_load(
        directory,
        corpus,
        chosen,
        verbose=2,
        backup_dir=directory.with_name(f"{name}.backup"),
        backup_every=MULTILINGUAL_BACKUP_EVERY,
        callbacks=callbacks,
    )
    if not trained.info["reused"] and snapshot.is_file():
        snapshot.replace(directory / _snapshot_name(compare_at))  # kept with its run
    return trained, history


def multilingual_at_step(corpus, steps: int, *, name: str = "transformer"):
    """Run `name` of `train_multilingual` on `corpus` as it was after `steps` steps (a
    run keeps its weights at `multilingual_compare_at`).

    Raises:
        S2SError: the run kept no weights at that step.
    """
    from s2s_keras.bundle import TrainedModel
    from s2s_keras.errors import S2SError

    directory = runs_dir() / corpus.name / name
    snapshot = directory / _snapshot_name(steps)
    if not snapshot.is_file():
        raise S2SError(f"{str(directory)!r} kept no weights at step {steps:,}")
    earlier = TrainedModel.load(directory)
    earlier.model.load_weights(snapshot)
    earlier.info.update(
        steps_run=steps,
        epochs_run=-(-steps // STEPS_PER_EPOCH),
        train_seconds=None,  # not recorded at the snapshot
        reused=True,
        snapshot=snapshot.name,
    )
    return earlier


def matched_steps(corpus, direction: str, smoke: bool = False) -> int:
    """The steps a bilingual model of the same batch size needs to see as many pairs of
    `direction` as notebook 10's multilingual model sees in expectation.

    Example:
        >>> from s2s_keras.corpora import load_corpus
        >>> matched_steps(load_corpus("toy-multi"), "es-en", smoke=True)
        8
    """
    from s2s_keras.multilingual import sampling_probabilities

    chosen = multilingual_settings(smoke)
    share = sampling_probabilities(corpus.direction_sizes("train"), chosen.temperature)
    return max(1, round(chosen.steps * share[direction]))


def train_for_steps(corpus, steps: int, smoke: bool = False, *, verbose=2):
    """The course's Transformer trained on a bilingual `corpus` for at most `steps` steps
    (validated every `training.STEPS_PER_EPOCH`; early-stopped on the Chinese corpora, as
    `settings` says), notebook 10's baselines.

    Returns:
        `(trained_model, history)` as `training.train_or_load` returns them.
    """
    directory = runs_dir() / corpus.name / f"transformer-{steps}-steps"
    return train_or_load(
        directory, corpus, baseline_settings(corpus.name, steps, smoke), verbose=verbose
    )


def baseline_settings(corpus: str, steps: int, smoke: bool = False) -> TrainSettings:
    """The settings of `train_for_steps`: the course's Transformer settings on `corpus`
    (its vocabulary, batch and early stopping) for at most `steps` steps, with the
    multilingual model's configuration and optimiser (dropout 0.1 and the recipe's rate,
    where spa-eng's course Transformer has neither), so that only the data differs.

    Example:
        >>> baseline_settings("spa-eng", 885).config == multilingual_settings().config
        True
    """
    return replace(
        settings("transformer", smoke, corpus),
        config=multilingual_settings(smoke).config,
        steps=steps,
        max_minutes=None,
        learning_rate=None,
    )


# Notebook 10's bilingual baselines, each the course's Transformer on one pair, scored on
# the multilingual corpus's test pairs of that direction: zh↔en early-stopped as notebook
# 09's models are, and capped at the multilingual run's steps; es→en trained on as many
# es→en pairs as the multilingual run draws (`matched_steps`).
BASELINE_DIRECTIONS = ("zh-en", "en-zh", "es-en")


def multilingual_baseline(corpus, direction: str, smoke: bool = False, *, verbose=2):
    """Train (or load) notebook 10's bilingual baseline for `direction` of `corpus`.

    Args:
        corpus: the multilingual corpus (its run's steps and sampling set the budgets).
        direction: one of `BASELINE_DIRECTIONS`.
        smoke: the tiny settings of CI's smoke runs (es→en on the toy corpus).

    Returns:
        The `bundle.TrainedModel`.
    """
    from s2s_keras.corpora import load_corpus

    if direction not in BASELINE_DIRECTIONS:
        raise ValueError(
            f"direction must be one of {', '.join(BASELINE_DIRECTIONS)}, got {direction!r}"
        )
    if direction == "es-en":
        bilingual = load_corpus(corpus_name(smoke))
        steps = matched_steps(corpus, direction, smoke)
    else:
        bilingual = chinese_corpus("cmn-eng" if direction == "zh-en" else "eng-cmn", smoke)
        steps = multilingual_settings(smoke).steps
    return train_for_steps(bilingual, steps, smoke, verbose=verbose)[0]


def corpus_name(smoke: bool) -> str:
    """The corpus a notebook trains on: `spa-eng` (Spanish → English), `toy` when smoking."""
    return "toy" if smoke else "spa-eng"


def runs_dir() -> Path:
    """Where trained models are kept: `$S2S_RUNS_DIR/course`, by default `runs/course`.

    The default is the repository's `runs/` whether the current directory is the
    repository or its `notebooks/` (where Jupyter runs a notebook), so models that
    `python -m s2s_keras.course` trained from the repository are the notebooks' too.
    """
    chosen = os.environ.get("S2S_RUNS_DIR")
    if chosen:
        return Path(chosen) / "course"
    here = Path.cwd()
    if here.name == "notebooks" and (here.parent / "pyproject.toml").is_file():
        return here.parent / "runs" / "course"
    return Path("runs") / "course"


def chinese_corpus(name: str = "cmn-eng", smoke: bool = False):
    """`cmn-eng` (Chinese → English) or `eng-cmn`, and for smoke runs a small slice of it,
    named `cmn-eng-smoke` (`eng-cmn-smoke`): its models are kept apart from the full
    corpus's under `runs_dir()`, so a smoke run (`make test`) never replaces them."""
    from s2s_keras.corpora import load_corpus

    if name not in CHINESE_CORPORA:
        raise ValueError(f"name must be one of {', '.join(CHINESE_CORPORA)}, got {name!r}")
    corpus = load_corpus(name)
    if not smoke:
        return corpus
    head = {split: corpus.split(split).take(n) for split, n in CHINESE_SMOKE_PAIRS.items()}
    return replace(corpus, name=f"{name}-smoke", **head)


def settings(name: str, smoke: bool = False, corpus: str | None = None) -> TrainSettings:
    """The `training.TrainSettings` of the architecture `name` in the course.

    Args:
        name: the architecture, e.g. `"bahdanau"`.
        smoke: the tiny settings of CI's smoke runs.
        corpus: the corpus it trains on; the Chinese ones (`CHINESE_CORPORA`) train with
            early stopping (`CHINESE`).
    """
    transformer = name == "transformer"
    budget = CHINESE if corpus in CHINESE_CORPORA else FULL
    if smoke:
        sizes = SMOKE_TRANSFORMER if transformer else SMOKE_SIZES
        return TrainSettings(
            model=name,
            config=model_config(name, **sizes),
            vocab_size=500 if transformer else None,
            **SMOKE,
        )
    if transformer:
        if budget is not FULL:  # notebooks 09 and 10: the recipe they were measured with
            return TrainSettings(model=name, config=model_config(name), vocab_size=8000, **budget)
        return TrainSettings(
            model=name,
            config=model_config(name, dropout=TRANSFORMER_DROPOUT),
            vocab_size=8000,
            learning_rate=TRANSFORMER_LEARNING_RATE,
            **budget,
        )
    return TrainSettings(
        model=name,
        config=model_config(name, **RNN_SIZES),
        # Chinese: every training character and English word (2,894 and 6,979 in cmn-eng).
        vocab_size=None if budget is CHINESE else WORD_VOCAB,
        learning_rate=RNN_LEARNING_RATE,
        **budget,
    )


# Models whose weights at the end of every epoch the course keeps (`at_epoch`): notebook
# 06 counts the Transformer's loops after each epoch of the same run.
KEEP_EPOCH_WEIGHTS = ("transformer",)


def train(name: str, corpus, smoke: bool = False, *, retrain: bool = False, verbose=2):
    """Train `name` on `corpus` with the course settings, or load the saved model.

    A model of `KEEP_EPOCH_WEIGHTS` keeps its weights after every epoch in its folder's
    `epochs/` (`at_epoch` loads them).

    Returns:
        `(trained_model, history)` as `training.train_or_load` returns them.
    """
    from s2s_keras.training import EpochSnapshots

    directory = runs_dir() / corpus.name / name
    chosen = settings(name, smoke, corpus=corpus.name)
    snapshots = directory.with_name(f"{name}.epochs")
    keep = name in KEEP_EPOCH_WEIGHTS
    trained, history = train_or_load(
        directory,
        corpus,
        chosen,
        retrain=retrain,
        verbose=verbose,
        backup_dir=directory.with_name(f"{name}.backup"),
        backup_every=BACKUP_EVERY,
        callbacks=[EpochSnapshots(snapshots)] if keep else [],
    )
    if keep and not trained.info["reused"] and snapshots.is_dir():
        target = directory / "epochs"
        if target.exists():
            import shutil

            shutil.rmtree(target)
        snapshots.replace(target)  # kept with its run
    return trained, history


def at_epoch(name: str, corpus, epoch: int, smoke: bool = False):
    """The course model `name` on `corpus` as it was after `epoch` epochs of its training
    (kept for `KEEP_EPOCH_WEIGHTS`), with `info` saying so.

    Raises:
        S2SError: the run kept no weights for that epoch (train it with `train` first).
    """
    from s2s_keras.bundle import TrainedModel
    from s2s_keras.errors import S2SError
    from s2s_keras.training import epoch_weights_name

    directory = runs_dir() / corpus.name / name
    weights = directory / "epochs" / epoch_weights_name(epoch)
    if not weights.is_file():
        raise S2SError(f"{str(directory)!r} kept no weights after epoch {epoch}")
    earlier = TrainedModel.load(directory)
    earlier.model.load_weights(weights)
    steps_per_epoch = earlier.info["steps_run"] // max(1, earlier.info["epochs_run"])
    earlier.info.update(
        epochs_run=epoch,
        steps_run=steps_per_epoch * epoch,
        train_seconds=None,  # not recorded at the snapshot
        reused=True,
        snapshot=weights.name,
    )
    return earlier


def run_id(smoke: bool = False) -> str:
    """The id of a course run: the package version and a hash of every course setting.

    Every notebook prints it in its last cell, so saved outputs from different settings or
    versions show different ids (a test checks that all saved notebooks show one). A
    learner who changes a setting here gets a new id.

    Example:
        >>> run_id().startswith(__import__("s2s_keras").__version__ + "-")
        True
    """
    from s2s_keras import __version__

    chosen = {
        f"{corpus}/{name}": dataclasses.asdict(settings(name, smoke, corpus=corpus))
        for corpus in (corpus_name(smoke), *CHINESE_CORPORA)
        for name in MODEL_NAMES
    }
    steps = DUAL_ENCODER_SMOKE_STEPS if smoke else DUAL_ENCODER_STEPS
    chosen[f"{corpus_name(smoke)}/dual-encoder"] = {"steps": steps}  # notebook 01's model
    chosen[f"{multilingual_corpus_name(smoke)}/transformer"] = {  # notebook 10's
        **dataclasses.asdict(multilingual_settings(smoke)),
        "compare_at": multilingual_compare_at(smoke),
    }
    digest = hashlib.sha256(json.dumps(chosen, sort_keys=True, default=str).encode()).hexdigest()
    return f"{__version__}-{'smoke-' if smoke else ''}{digest[:10]}"


def model_facts(name: str, info: Mapping, *, here: str = "this notebook") -> str:
    """One line of facts about a course model, for a notebook's last cell.

    Args:
        name: the model's `--model` name.
        info: its `TrainedModel.info` (`run.json`).
        here: what trained it when it was not reused.

    Example:
        >>> model_facts("seq2seq", {"params": 1200, "epochs_run": 2, "steps_run": 80,
        ...     "train_seconds": 12.3, "hardware": "CPU x2", "reused": True,
        ...     "finished_at": "2026-12-02T16:00:00Z"})
        'seq2seq: 1,200 parameters, 2 epochs, 80 steps, 12 s on CPU x2; reused (trained 2026-12-02T16:00:00Z)'

    A record that holds its settings says what budget it trained to, and that no clock cut
    it (`budget 4 epochs, no time cap`) or whether one did.
    """
    when = info.get("finished_at", "at an unrecorded time")
    where = f"reused (trained {when})" if info.get("reused") else f"trained in {here} ({when})"
    if info.get("snapshot"):
        where = f"its weights at that step, kept by a longer run (trained {when})"
    seconds = info.get("train_seconds")
    took = f"{seconds:.0f} s" if seconds is not None else "time not recorded"
    budget = _budget(info)
    return (
        f"{name}: {info['params']:,} parameters, {info['epochs_run']} epochs, "
        f"{info['steps_run']:,} steps{f' ({budget})' if budget else ''}, {took} on "
        f"{info['hardware']}; {where}"
    )


def _budget(info: Mapping) -> str:
    """What a run was asked to train and whether a clock could cut it, from its record:
    e.g. `budget 4 epochs, no time cap`; empty for a record without its settings."""
    if "epochs" not in info:
        return ""
    steps, patience, minutes = info.get("steps"), info.get("patience"), info.get("max_minutes")
    parts = [f"budget {steps:,} steps" if steps else f"budget {info['epochs']} epochs"]
    if patience:
        parts.append(f"early stopping after {patience} epochs without a better validation loss")
    if minutes:
        cut = "cut by it" if info.get("stopped_by_time_budget") else "not reached"
        parts.append(f"time cap {minutes:g} min, {cut}")
    else:
        parts.append("no time cap")
    return ", ".join(parts)


def closing_report(
    start: float,
    models: Mapping[str, Mapping] | None = None,
    *,
    corpus: str,
    smoke: bool = False,
    here: str = "this notebook",
) -> str:
    """The text of a notebook's last cell: where and how long it ran, the course run id
    and the facts of every model it used (`model_facts`).

    Args:
        start: `time.monotonic()` when the notebook began.
        models: name → `TrainedModel.info` of each model the notebook trained or reused.
        corpus: the corpus (or corpora) it used, as text.
        smoke: whether it ran in smoke mode (the run id says so).
        here: what trained a model that was not reused.

    Example:
        >>> import time
        >>> report = closing_report(time.monotonic(), corpus="toy", smoke=True)
        >>> report.startswith("Ran on "), "course run id: " in report
        (True, True)
    """
    import time

    from s2s_keras.training import hardware_description

    lines = [
        f"Ran on {hardware_description()} in {time.monotonic() - start:.0f} s (corpus {corpus}).",
        f"course run id: {run_id(smoke)}",
    ]
    lines += [model_facts(name, info, here=here) for name, info in (models or {}).items()]
    return "\n".join(lines)


RESULT_KEYS = ("greedy_bleu", "greedy_chrf", "beam4_bleu", "beam4_chrf")


def write_results(models: Mapping[str, Mapping], smoke: bool = False, path=None) -> Path:
    """Write notebook 07's `results.json`: the run id and every model's facts and scores.

    Each model's entry holds its `run.json` facts (`params`, `epochs`, `steps`,
    `train_seconds`, `hardware`, and `reused`: loaded from an earlier run rather than
    trained by the notebook that wrote the file) and its four test scores, rounded to
    two decimals. `results_table` turns the document into the notebook's table.

    Args:
        models: `--model` name → `{"info": run.json, "greedy_bleu": …, "greedy_chrf": …,
            "beam4_bleu": …, "beam4_chrf": …}`.
        smoke: a smoke run writes under `runs_dir()`, never over the committed file.
        path: where to write; defaults to `notebooks/results.json` beside the notebooks
            (the current directory when it is `notebooks`) for a full run.

    Returns:
        The path written.
    """
    from s2s_keras import atomic

    entries = {}
    for name, row in models.items():
        missing = [key for key in ("info", *RESULT_KEYS) if key not in row]
        if missing:
            raise ValueError(f"results of {name!r} lack {', '.join(missing)}")
        info = row["info"]
        entries[name] = {
            "params": info["params"],
            "epochs": info["epochs_run"],
            "steps": info["steps_run"],
            "train_seconds": info["train_seconds"],
            "hardware": info.get("hardware"),
            "reused": bool(info.get("reused", False)),
            **{key: round(float(row[key]), 2) for key in RESULT_KEYS},
        }
    if path is None:
        here = Path.cwd()
        path = (
            runs_dir() / "results.json"
            if smoke
            else (here if here.name == "notebooks" else here / "notebooks") / "results.json"
        )
    path = Path(path)
    document = {"run_id": run_id(smoke), "models": entries}
    with atomic.replacing(path) as tmp:
        tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def results_table(document: Mapping) -> str:
    """Notebook 07's results table, as Markdown, from a `results.json` document.

    One row per model in the document's order: parameters, the epochs, steps and
    training seconds of its run, greedy and beam-4 BLEU / chrF, and whether the notebook
    trained it or reused a model trained earlier (by notebooks 02–06 or
    `python -m s2s_keras.course`).

    Args:
        document: what `write_results` wrote, read back with `json.loads`.

    Example:
        >>> print(results_table({"run_id": "x", "models": {"seq2seq": {"params": 1200,
        ...     "epochs": 4, "steps": 7160, "train_seconds": 4321.5, "reused": True,
        ...     "greedy_bleu": 20.5, "greedy_chrf": 40.25, "beam4_bleu": 21.0,
        ...     "beam4_chrf": 41.0}}}).splitlines()[-1])
        | `seq2seq` | 1,200 | 4 | 7,160 | 4,322 s | 20.50 / 40.25 | 21.00 / 41.00 | reused |
    """
    rows = [
        "| model | parameters | epochs | steps | training | greedy BLEU / chrF "
        "| beam 4 BLEU / chrF | run |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, entry in document["models"].items():
        seconds = entry["train_seconds"]
        took = "not recorded" if seconds is None else f"{seconds:,.0f} s"
        rows.append(
            f"| `{name}` | {entry['params']:,} | {entry['epochs']} | {entry['steps']:,} | {took} "
            f"| {entry['greedy_bleu']:.2f} / {entry['greedy_chrf']:.2f} "
            f"| {entry['beam4_bleu']:.2f} / {entry['beam4_chrf']:.2f} "
            f"| {'reused' if entry['reused'] else 'trained here'} |"
        )
    return "\n".join(rows)


# Each group of models is trained with the calls its notebook makes, so the notebook then
# reuses every one; each yields `(label, TrainedModel.info)` per model.


def _spa_eng_models(smoke: bool = False, names=MODEL_NAMES):
    """Notebooks 02–06's models on spa-eng."""
    from s2s_keras.corpora import load_corpus

    corpus = load_corpus(corpus_name(smoke))
    for name in names:
        yield name, train(name, corpus, smoke)[0].info


def _chinese_models(smoke: bool = False):
    """Notebook 09's two Transformers, zh→en and en→zh, early-stopped."""
    for name in CHINESE_CORPORA:
        corpus = chinese_corpus(name, smoke)
        trained, _ = train("transformer", corpus, smoke)
        yield f"transformer {corpus.source_lang}→{corpus.target_lang}", trained.info


def _multilingual_models(smoke: bool = False):
    """Notebook 10's multilingual Transformer, its temperature-1 run and its baselines."""
    from s2s_keras.corpora import load_corpus

    corpus = load_corpus(multilingual_corpus_name(smoke))
    yield "multilingual transformer", train_multilingual(corpus, smoke)[0].info
    t1, _ = train_multilingual(
        corpus, smoke, name="transformer-t1", temperature=1.0, steps=multilingual_compare_at(smoke)
    )
    yield "multilingual transformer, T = 1", t1.info
    for direction in BASELINE_DIRECTIONS:
        if direction in corpus.direction_names():  # toy-multi has no Chinese
            yield f"baseline {direction}", multilingual_baseline(corpus, direction, smoke).info


# The groups `python -m s2s_keras.course` trains besides single models of 02–06.
GROUPS = {
    "spa-eng": ("notebooks 02–06's six models (the default)", _spa_eng_models),
    "chinese": ("notebook 09's zh→en and en→zh Transformers", _chinese_models),
    "multilingual": ("notebook 10's model, its T = 1 run and 3 baselines", _multilingual_models),
}


def main(argv=None) -> int:
    """`python -m s2s_keras.course [TARGET ...]`: train the course's models ahead of the
    notebooks, into `runs_dir()`.

    A TARGET is a model of notebooks 02–06 (trained on spa-eng) or a group of `GROUPS`
    (`spa-eng`, the default; `chinese`; `multilingual`; `all` for the three). The
    notebooks then reuse the models. A run killed midway resumes from its backup when the
    same command is given again; a model already trained with these settings is loaded.
    """
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m s2s_keras.course",
        description=main.__doc__.split("\n\n")[0],
        epilog="groups: " + "; ".join(f"{name}: {text}" for name, (text, _) in GROUPS.items()),
    )
    choices = [*MODEL_NAMES, *GROUPS, "all"]
    parser.add_argument(
        "targets",
        nargs="*",
        metavar="TARGET",
        help=f"any of {', '.join(choices)} (default: spa-eng)",
    )
    args = parser.parse_args(argv)
    unknown = [target for target in args.targets if target not in choices]
    if unknown:
        parser.error(f"unknown model {unknown[0]!r}: choose from {', '.join(choices)}")
    targets = [
        name
        for target in args.targets or ["spa-eng"]
        for name in (GROUPS if target == "all" else [target])
    ]
    for target in dict.fromkeys(targets):  # each once, in the order given
        runs = GROUPS[target][1]() if target in GROUPS else _spa_eng_models(names=[target])
        for label, info in runs:
            print(model_facts(label, info, here="this command"), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
