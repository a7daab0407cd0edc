"""Training: settings, losses, schedules, the time budget, `train` and `train_or_load`."""

import time
from dataclasses import asdict, replace

import keras
import numpy as np
import pytest

from s2s_keras.checkpoints import TrainingBackup
from s2s_keras.errors import S2SError
from s2s_keras.evaluation import MaskedLoss, masked_loss
from s2s_keras.models import model_config
from s2s_keras.toy import make_toy_corpus
from s2s_keras.training import TimeBudget, TrainSettings, WarmupSchedule, train
from s2s_keras.types import ParallelText


def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_label_smoothing_mixes_nll_with_the_mean_negative_log_probability():
    logits = np.array([[[2.0, 0.5, -1.0, 0.0], [0.1, 0.2, 0.3, 0.4], [5.0, 0.0, 0.0, 0.0]]])
    y_true = np.array([[1, 3, 0]])  # the last position is padding
    logp = log_softmax(logits)[0]
    eps = 0.1
    per_token = [(1 - eps) * -logp[t, y] + eps * -logp[t].mean() for t, y in ((0, 1), (1, 3))]
    got = keras.ops.convert_to_numpy(masked_loss(y_true, logits.astype("float32"), eps))
    np.testing.assert_allclose(got, np.mean(per_token), rtol=1e-6)


def test_masked_loss_class_equals_the_function_and_round_trips_its_config():
    logits = np.random.default_rng(0).normal(size=(2, 3, 5)).astype("float32")
    y_true = np.array([[1, 2, 0], [4, 0, 0]])
    loss = MaskedLoss(label_smoothing=0.2)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loss(y_true, logits)),
        keras.ops.convert_to_numpy(masked_loss(y_true, logits, 0.2)),
        rtol=1e-6,
    )
    assert MaskedLoss.from_config(loss.get_config()).label_smoothing == 0.2
    with pytest.raises(ValueError, match="1.5"):
        MaskedLoss(label_smoothing=1.5)


def test_warmup_schedule_rises_linearly_then_decays_as_inverse_square_root():
    schedule = WarmupSchedule(d_model=64, warmup_steps=100)
    lr = lambda step: float(keras.ops.convert_to_numpy(schedule(step)))  # noqa: E731
    # Keras passes the 0-based iteration count; the formula counts from 1.
    np.testing.assert_allclose(lr(0), 64**-0.5 * 1 * 100**-1.5, rtol=1e-6)
    np.testing.assert_allclose(lr(49) / lr(24), 2.0, rtol=1e-6)  # linear warm-up
    peak = lr(99)
    np.testing.assert_allclose(peak, 64**-0.5 * 100**-0.5, rtol=1e-6)
    assert lr(98) < peak and lr(100) < peak
    np.testing.assert_allclose(lr(399) / lr(99), 0.5, rtol=1e-6)  # 1/sqrt(4)
    restored = WarmupSchedule.from_config(schedule.get_config())
    assert lr(10) == float(keras.ops.convert_to_numpy(restored(10)))
    with pytest.raises(ValueError, match="warmup_steps=0"):
        WarmupSchedule(64, warmup_steps=0)


def test_the_command_line_offers_exactly_the_registered_models():
    from s2s_keras.cli import MODELS
    from s2s_keras.models import MODEL_NAMES

    assert MODELS == MODEL_NAMES


@pytest.mark.slow
@pytest.mark.parametrize("name", ["seq2seq", "luong-general", "transformer"])
def test_every_architecture_trains_from_python_and_translates(name):
    from s2s_keras.models import model_config
    from s2s_keras.toy import make_toy_corpus
    from s2s_keras.training import train

    tiny = {"transformer": {"num_layers": 1, "d_model": 16, "num_heads": 2, "ff_dim": 32}}
    config = model_config(name, **tiny.get(name, {"embedding_dim": 8, "units": 8}))
    corpus = make_toy_corpus(200, seed=3)
    settings = TrainSettings(
        model=name, config=config, epochs=1, vocab_size=300 if name == "transformer" else None
    )
    trained, history = train(corpus, settings, verbose=0)
    assert trained.info["model"] == name and np.isfinite(history["loss"][0])
    assert trained.info["tokenizer"] == ("wordpiece" if name == "transformer" else "word")
    # the step log: the epoch is shorter than LOG_EVERY steps, so one point at its end
    assert history["step"] == history["val_step"] == [trained.info["steps_run"]]
    assert history["step_loss"] == [pytest.approx(history["loss"][0])]
    outputs = trained.translate(["The cat.", ""], method="beam", beam_size=2)
    assert len(outputs) == 2 and outputs[1] == ""


def test_unknown_model_name_lists_the_valid_ones():
    from s2s_keras.models import model_config

    with pytest.raises(ValueError, match="luong-general"):
        model_config("gpt")


def test_bleu_by_length_scores_each_bucket_on_its_own_sentences():
    import sacrebleu

    from s2s_keras.evaluation import bleu_by_length

    sources = ["a b", "a b c d e f", "one two three four five six seven", "x"]
    refs = ["the cat sat", "a dog ran far away", "birds fly over the quiet lake", "yes"]
    hyps = ["the cat sat", "a dog ran away", "fish swim under a loud river", "yes"]
    rows = bleu_by_length(sources, hyps, refs, edges=(0, 5))
    assert [(r["bucket"], r["sentences"]) for r in rows] == [("0-4", 2), ("5+", 2)]
    short = sacrebleu.corpus_bleu([hyps[0], hyps[3]], [[refs[0], refs[3]]], lowercase=True)
    assert rows[0]["bleu"] == short.score
    with pytest.raises(ValueError, match="aligned"):
        bleu_by_length(sources, hyps[:2], refs)


class _StopAfterEpoch(keras.callbacks.Callback):
    """Simulates a crash at the end of `epoch`, before that epoch is backed up."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("simulated crash")


@pytest.mark.slow
def test_a_crashed_run_resumes_from_its_backup_and_finishes_the_requested_epochs(tmp_path):
    from s2s_keras.models import model_config
    from s2s_keras.toy import make_toy_corpus
    from s2s_keras.training import train

    corpus = make_toy_corpus(150, seed=4)
    settings = TrainSettings(config=model_config("bahdanau", embedding_dim=8, units=8), epochs=3)
    options = dict(verbose=0, backup_dir=tmp_path / "backup")
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(corpus, settings, callbacks=[_StopAfterEpoch(2)], **options)
    backed_up = TrainingBackup(tmp_path / "backup").latest()
    assert backed_up["epoch"] == 2 and backed_up["train_seconds"] > 0
    before = backed_up["history"]  # the two finished epochs, kept with the backup
    assert len(before["loss"]) == len(before["val_loss"]) == len(before["val_step"]) == 2
    started = time.monotonic()
    trained, history = train(corpus, settings, **options)
    resumed_for = time.monotonic() - started
    # Epochs 0 and 1 were backed up before the crash in epoch 2: only epoch 2 runs again,
    # and the history is the whole run's, the backed-up epochs first.
    assert len(history["loss"]) == len(history["val_step"]) == 3
    assert history["loss"][:2] == before["loss"] and history["step"][:2] == before["step"]
    assert (
        history["step"] == sorted(set(history["step"]))
        and history["val_step"][2] > before["val_step"][1]
    )
    # The record counts the whole run: 3 epochs, and the seconds of both calls.
    assert trained.info["epochs_run"] == 3 and trained.info["resumed_from"]["epoch"] == 2
    seconds = trained.info["train_seconds"]
    assert backed_up["train_seconds"] < seconds <= backed_up["train_seconds"] + resumed_for
    assert not (tmp_path / "backup").exists()  # removed once training completes


@pytest.mark.slow
def test_early_stopping_and_tensorboard_are_wired_in(tmp_path):
    from s2s_keras.models import model_config
    from s2s_keras.toy import make_toy_corpus
    from s2s_keras.training import train

    settings = TrainSettings(
        model="seq2seq",
        config=model_config("seq2seq", embedding_dim=8, units=8),
        epochs=2,
        patience=1,
    )
    _, history = train(
        make_toy_corpus(150, seed=5), settings, verbose=0, tensorboard_dir=tmp_path / "logs"
    )
    assert len(history["val_loss"]) == 2
    assert any((tmp_path / "logs").rglob("events.out.tfevents.*"))


def tiny_run():
    """A 120-pair toy corpus and the settings of a one-epoch, 8-unit seq2seq run."""
    from s2s_keras.models import model_config
    from s2s_keras.toy import make_toy_corpus

    settings = TrainSettings(
        model="seq2seq", config=model_config("seq2seq", embedding_dim=8, units=8), epochs=1
    )
    return make_toy_corpus(120, seed=5), settings


@pytest.mark.slow
def test_train_or_load_reuses_a_run_only_when_its_settings_match(tmp_path):
    from s2s_keras.training import train_or_load

    corpus, settings = tiny_run()
    first, history = train_or_load(tmp_path / "run", corpus, settings, verbose=0)
    assert first.info["reused"] is False and len(history["loss"]) == 1

    again, saved_history = train_or_load(tmp_path / "run", corpus, settings, verbose=0)
    assert again.info["reused"] is True
    assert saved_history["loss"] == pytest.approx(history["loss"])
    sample = ["The cat.", "A big dog sleeps."]
    assert again.translate(sample) == first.translate(sample)
    # The recipe's learning rate given explicitly is the same run.
    explicit = replace(settings, learning_rate=settings.recipe.learning_rate)
    assert train_or_load(tmp_path / "run", corpus, explicit, verbose=0)[0].info["reused"]

    two_epochs = replace(settings, epochs=2)
    changed, _ = train_or_load(tmp_path / "run", corpus, two_epochs, verbose=0)
    assert changed.info["reused"] is False and changed.info["epochs_run"] == 2
    forced, _ = train_or_load(tmp_path / "run", corpus, two_epochs, retrain=True, verbose=0)
    assert forced.info["reused"] is False


@pytest.mark.slow
def test_train_or_load_accepts_a_strategy_object(tmp_path):
    import tensorflow as tf

    from s2s_keras.training import train_or_load

    corpus, settings = tiny_run()
    settings = replace(settings, strategy=tf.distribute.OneDeviceStrategy("/cpu:0"))
    first, _ = train_or_load(tmp_path / "run", corpus, settings, verbose=0)
    assert first.info["settings"]["strategy"] == "OneDeviceStrategy x1"
    again, _ = train_or_load(tmp_path / "run", corpus, settings, verbose=0)
    assert again.info["reused"] is True


# --- TrainSettings -------------------------------------------------------------------


def test_settings_fill_in_the_recipe_defaults_explicitly_and_record_them_as_json():
    from s2s_keras.models import model_config

    rnn = TrainSettings(model="seq2seq").resolved()
    assert (rnn.config, rnn.tokenizer) == (model_config("seq2seq"), "word")
    assert (rnn.learning_rate, rnn.label_smoothing) == (3e-3, 0.0)
    record = TrainSettings(model="transformer", label_smoothing=0.0).record()
    assert (record["tokenizer"], record["learning_rate"]) == ("wordpiece", 1e-3)
    assert record["label_smoothing"] == 0.0  # 0 is a value, not "the recipe's" (0.1)
    assert record["config"] == asdict(model_config("transformer"))
    assert record["strategy"] == "default"
    # Settings added later are recorded only when set, so older records stay the same.
    assert set(record) == {f for f in TrainSettings.__dataclass_fields__} - {"steps", "temperature"}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 0}, "epochs must be a positive integer, got 0"),
        ({"epochs": 2.5}, "epochs must be a positive integer, got 2.5"),
        ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
        ({"max_length": -1}, "max_length must be a positive integer, got -1"),
        ({"vocab_size": 0}, "vocab_size must be a positive integer, got 0"),
        ({"learning_rate": 0}, "learning_rate must be a positive number, got 0"),
        ({"learning_rate": -1e-3}, "learning_rate must be a positive number, got -0.001"),
        ({"label_smoothing": 1.0}, "label_smoothing must be in [0, 1), got 1.0"),
        ({"warmup_steps": 0}, "warmup_steps must be a positive integer, got 0"),
        ({"max_minutes": 0.0}, "max_minutes must be a positive number, got 0.0"),
        ({"patience": 0}, "patience must be a positive integer, got 0"),
        ({"seed": -1}, "seed must be a non-negative integer, got -1"),
        (
            {"tokenizer": "bpe"},
            "tokenizer must be one of 'word', 'character', 'wordpiece' or None, got 'bpe'",
        ),
        ({"model": "gpt"}, "model must be one of seq2seq, bahdanau, luong-dot, "),
        ({"strategy": "gpu"}, "strategy must be one of default, mirrored, "),
        ({"deterministic": 1}, "deterministic must be True or False, got 1"),
    ],
)
def test_a_bad_setting_is_refused_in_one_line_that_echoes_it(kwargs, message):
    with pytest.raises(ValueError) as error:
        TrainSettings(**kwargs)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_a_config_of_another_architecture_is_refused():
    from s2s_keras.models import Seq2SeqConfig, model_config

    with pytest.raises(ValueError, match="not a config of model 'transformer'.*TransformerConfig"):
        TrainSettings(model="transformer", config=Seq2SeqConfig())
    with pytest.raises(ValueError, match="'luong-dot' has attention='dot'.*'bahdanau'"):
        TrainSettings(model="luong-dot", config=model_config("bahdanau"))
    assert TrainSettings(model="luong-dot", config=model_config("luong-dot", units=8)).config


@pytest.mark.parametrize("empty", ["train", "validation"])
def test_a_corpus_with_an_empty_split_is_refused_in_one_line(empty, tmp_path):
    corpus = make_toy_corpus(200)
    corpus = replace(corpus, **{empty: ParallelText((), ())})
    with pytest.raises(S2SError, match=f"toy has no {empty} pairs") as error:
        train(corpus, TrainSettings(epochs=1), backup_dir=tmp_path / "backup")
    assert "\n" not in str(error.value) and not (tmp_path / "backup").exists()


def test_a_schedule_saved_under_its_registered_name_by_the_evaluation_module_still_loads():
    saved = {  # how Keras serialised it when it was s2s_keras.evaluation.WarmupSchedule
        "module": "s2s_keras.evaluation",
        "class_name": "WarmupSchedule",
        "config": {"d_model": 64, "warmup_steps": 100, "scale": 2.0},
        "registered_name": "s2s_keras>WarmupSchedule",
    }
    schedule = keras.saving.deserialize_keras_object(saved)
    assert isinstance(schedule, WarmupSchedule) and schedule.scale == 2.0
    assert keras.saving.get_registered_name(WarmupSchedule) == "s2s_keras>WarmupSchedule"


def test_time_budget_stops_training_after_the_first_batch_past_the_budget():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    budget = TimeBudget(minutes=1e-9)
    x = np.zeros((64, 2), "float32")
    history = model.fit(x, x[:, :1], batch_size=8, epochs=3, verbose=0, callbacks=[budget])
    assert budget.stopped_early and len(history.history["loss"]) == 1
    with pytest.raises(ValueError, match="-1"):
        TimeBudget(-1)


BUDGET_TINY = {"embedding_dim": 8, "units": 8}


@pytest.mark.slow
def test_a_run_cut_by_the_budget_says_so_and_counts_its_steps():
    corpus = make_toy_corpus(200, seed=3)
    kwargs = {
        "model": "bahdanau",
        "config": model_config("bahdanau", **BUDGET_TINY),
        "batch_size": 16,
    }
    cut, _ = train(corpus, TrainSettings(epochs=2, max_minutes=1e-6, **kwargs), verbose=0)
    whole, _ = train(corpus, TrainSettings(epochs=1, **kwargs), verbose=0)
    # The budget is checked after every batch: an immediate one stops after the first.
    assert cut.info["stopped_by_time_budget"] is True
    assert (cut.info["steps_run"], cut.info["epochs_run"]) == (1, 1)
    assert whole.info["stopped_by_time_budget"] is False
    # 200 pairs make 10+ batches of 16 (fewer after the split, more with bucketing).
    assert whole.info["steps_run"] >= len(corpus.train.source) // 16


def test_step_log_records_the_mean_of_each_window_of_steps_from_keras_running_means():
    from s2s_keras.training import StepLog

    class Iterations:
        value = 0

        def numpy(self):
            return self.value

    iterations = Iterations()
    log = StepLog(every=2, metrics=("loss",))
    log.set_model(type("M", (), {"optimizer": type("O", (), {"iterations": iterations})()})())
    log.on_train_begin()
    losses = {0: [4.0, 2.0, 3.0], 1: [1.0, 3.0]}  # per-batch losses of two epochs
    for epoch, batch_losses in losses.items():
        log.on_epoch_begin(epoch)
        for i in range(len(batch_losses)):
            iterations.value += 1
            running = sum(batch_losses[: i + 1]) / (i + 1)  # what Keras passes
            if i < len(batch_losses) - 1 or epoch == 0:  # Keras may skip the last batch's hook
                log.on_train_batch_end(i, {"loss": running})
        log.on_epoch_end(epoch, {"loss": running, "val_loss": 9.0})
    history = log.history()
    # epoch 1: steps 1-2 (mean 3), step 3 left at its end (3); epoch 2: step 4 (1), the
    # multiple of 2, and step 5 at its end (3)
    assert history == {"step": [2, 3, 4, 5], "step_loss": [3.0, 3.0, 1.0, 3.0], "val_step": [3, 5]}
    with pytest.raises(ValueError, match="every must be an integer >= 1"):
        StepLog(every=0)


def test_early_stopping_keeps_its_best_epoch_and_patience_through_a_resume(tmp_path):
    from s2s_keras.training import ResumableEarlyStopping

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.optimizer.build(model.trainable_variables)
    first = ResumableEarlyStopping(patience=2, restore_best_weights=True)
    first.set_model(model)
    first.on_train_begin()
    for epoch, loss in enumerate([3.0, 2.0]):  # epoch 1 is the best so far
        first.on_epoch_end(epoch, {"val_loss": loss})
        if epoch == 0:
            model.set_weights([w + 1 for w in model.get_weights()])  # epoch 1 moves them
    best = [w.copy() for w in first.best_weights]
    backup = TrainingBackup(tmp_path)
    backup.set_model(model)
    backup.early_stopping = first
    backup.save(2, 0)

    model.set_weights([w * 0 for w in model.get_weights()])  # what a new process has
    resumed = ResumableEarlyStopping(patience=2, restore_best_weights=True)
    resumed.set_model(model)
    again = TrainingBackup(tmp_path)
    again.early_stopping = resumed
    assert again.restore(model)["early_stopping"] == {"best": 2.0, "wait": 0, "best_epoch": 1}
    np.testing.assert_array_equal(model.get_weights()[0], best[0])  # the weights came back
    resumed.on_train_begin()  # what fit calls: Keras alone would forget the best epoch here
    model.set_weights([w * 0 for w in model.get_weights()])
    for epoch, loss in ((2, 2.5), (3, 2.6)):  # no improvement twice: stop after epoch 3
        resumed.on_epoch_end(epoch, {"val_loss": loss})
    assert model.stop_training and resumed.stopped_epoch == 3
    resumed.on_train_end()
    for restored, expected in zip(model.get_weights(), best, strict=True):
        np.testing.assert_array_equal(restored, expected)  # the best epoch's, from before


def test_snapshot_at_keeps_the_weights_of_that_step_and_only_those(tmp_path):
    from s2s_keras.training import SnapshotAt

    def fitted(steps, callbacks=()):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile(keras.optimizers.SGD(0.1), "mse")
        x = np.arange(16, dtype="float32").reshape(8, 2) / 16
        model.fit(
            x,
            x[:, :1],
            batch_size=2,
            epochs=1,
            steps_per_epoch=steps,
            verbose=0,
            shuffle=False,
            callbacks=list(callbacks),
        )
        return model

    path = tmp_path / "step-2.weights.h5"
    longer = fitted(4, [SnapshotAt(2, path)])
    shorter = fitted(2)
    kept = keras.models.clone_model(longer)
    kept.load_weights(path)
    for got, expected in zip(kept.get_weights(), shorter.get_weights(), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert not np.allclose(longer.get_weights()[0], shorter.get_weights()[0])
    assert [p.name for p in tmp_path.iterdir()] == ["step-2.weights.h5"]  # no temporaries
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        SnapshotAt(2, tmp_path / "step-2.h5")
