"""Distribution strategies and determinism.

Each test that needs a freshly started TensorFlow (logical devices, collective ops, op
determinism are process-wide and fixed at start-up) runs this file as a script in a
subprocess: `python tests/test_distribute.py MODE OUT_FILE`.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve()
TIMEOUT = 180  # seconds; a hung collective fails the test instead of blocking CI

# Tiny settings: a few dozen steps on two CPU cores.
TINY = {"embedding_dim": 8, "units": 16}
PAIRS = 400


def _env(**extra):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("TF_CONFIG", None)
    return {**env, **extra}


def _run_script(mode, out, **env):
    """Start this file as a script; returns the `Popen`."""
    return subprocess.Popen(
        [sys.executable, str(HERE), mode, str(out)],
        env=_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait(processes):
    """Wait for every process; kill them all and fail on a timeout or an error."""
    outputs = []
    try:
        for p in processes:
            outputs.append(p.communicate(timeout=TIMEOUT)[0])
    except subprocess.TimeoutExpired:
        for p in processes:
            p.kill()
        pytest.fail(f"a training process hung for more than {TIMEOUT} s")
    for p, output in zip(processes, outputs, strict=True):
        assert p.returncode == 0, output[-3000:]
    return outputs


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus_matches_one_replica(tmp_path):
    out = tmp_path / "mirrored.npz"
    _wait([_run_script("mirrored", out)])
    result = np.load(out)
    assert int(result["replicas"]) == 2
    assert str(result["variable_type"]) == "MirroredVariable"
    loss = result["loss"]
    assert np.all(np.isfinite(loss)) and loss[-1] < loss[0]
    names = [k for k in result.files if k.startswith("weight_")]
    assert names
    for name in names:
        single = result[name.replace("weight_", "single_")]
        np.testing.assert_allclose(result[name], single, atol=1e-4, err_msg=name)


@pytest.mark.slow
def test_two_workers_on_loopback_end_with_identical_weights_and_falling_loss(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    processes = [
        _run_script(
            "multiworker",
            tmp_path / f"worker{i}.npz",
            TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}),
        )
        for i in range(2)
    ]
    _wait(processes)
    workers = [np.load(tmp_path / f"worker{i}.npz") for i in range(2)]
    for w in workers:
        assert int(w["replicas"]) == 2
        loss = w["loss"]
        assert np.all(np.isfinite(loss)) and loss[-1] < loss[0]
    np.testing.assert_array_equal(workers[0]["loss"], workers[1]["loss"])
    names = [k for k in workers[0].files if k.startswith("weight_")]
    assert names and names == [k for k in workers[1].files if k.startswith("weight_")]
    for name in names:
        np.testing.assert_array_equal(workers[0][name], workers[1][name], err_msg=name)


@pytest.mark.slow
def test_op_determinism_gives_bitwise_identical_weights_across_runs(tmp_path):
    runs = [tmp_path / "run1.npz", tmp_path / "run2.npz"]
    _wait([_run_script("deterministic", out) for out in runs])  # two separate processes
    first, second = (np.load(r) for r in runs)
    names = [k for k in first.files if k.startswith("weight_")]
    assert names
    for name in names:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)
    np.testing.assert_array_equal(first["loss"], second["loss"])


@pytest.mark.slow
def test_the_training_loop_resumes_from_backups_and_honours_callbacks_and_time(tmp_path):
    import keras
    import tensorflow as tf

    class CrashInSecondEpoch(keras.callbacks.Callback):  # before that epoch's backup
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("simulated crash")

    one_replica = tf.distribute.MirroredStrategy(["/cpu:0"])  # train_loop, in this process
    settings = dict(strategy=one_replica, backup_dir=tmp_path / "backup")
    with pytest.raises(RuntimeError, match="simulated crash"):
        _train_toy(epochs=3, callbacks=[CrashInSecondEpoch()], **settings)
    trained, history = _train_toy(epochs=3, tensorboard_dir=tmp_path / "logs", **settings)
    assert trained.info["strategy"] == "mirrored" and trained.info["replicas"] == 1
    assert trained.info["resumed_from"] == {"epoch": 1, "batch": 0}
    # the whole run's history: the backed-up first epoch and the two trained after the crash
    assert len(history["loss"]) == 3 and len(history["val_loss"]) == 3
    assert trained.info["epochs_run"] == 3
    assert not (tmp_path / "backup").exists()
    assert list((tmp_path / "logs").rglob("events.out.tfevents.*"))

    trained, history = _train_toy(epochs=5, strategy=one_replica, max_minutes=1e-6)
    assert trained.info["stopped_by_time_budget"]
    assert trained.info["epochs_run"] == 1 and trained.info["steps_run"] == 1


def test_make_strategy_explains_a_missing_or_bad_tf_config(monkeypatch):
    from s2s_keras.distribute import StrategyError, check_tf_config, make_strategy

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(StrategyError, match="needs the TF_CONFIG environment variable"):
        make_strategy("multiworker")
    with pytest.raises(StrategyError, match="not valid JSON"):
        check_tf_config("{cluster:")
    with pytest.raises(StrategyError, match="needs a 'cluster'"):
        check_tf_config('{"task": {"type": "worker", "index": 0}}')
    with pytest.raises(StrategyError, match="not in its cluster"):
        check_tf_config('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}')
    with pytest.raises(StrategyError, match="unknown strategy 'gpu'"):
        make_strategy("gpu")


def test_make_strategy_tpu_without_a_tpu_is_one_clear_error():
    from s2s_keras.distribute import StrategyError, make_strategy

    with pytest.raises(StrategyError, match="no TPU found"):
        make_strategy("tpu")


def test_the_cli_offers_the_strategies_and_reports_a_missing_tf_config_in_one_line(
    monkeypatch, capsys, tmp_path
):
    from s2s_keras import cli, distribute

    assert cli.STRATEGIES == distribute.STRATEGIES
    monkeypatch.delenv("TF_CONFIG", raising=False)
    train = ["train", "--corpus", "toy", "--out", str(tmp_path / "m")]
    assert cli.main([*train, "--strategy", "multiworker"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("s2s-keras: error:") and "\n" not in err and "TF_CONFIG" in err
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*train, "--strategy", "gpu"])
    assert exit_info.value.code == 2 and "invalid choice: 'gpu'" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


# ---- helpers, and the script side of the subprocess tests ------------------------------


def _train_toy(callbacks=(), backup_dir=None, tensorboard_dir=None, **settings):
    from s2s_keras.models import model_config
    from s2s_keras.toy import make_toy_corpus
    from s2s_keras.training import TrainSettings, train

    return train(
        make_toy_corpus(PAIRS, seed=1),
        TrainSettings(
            model="bahdanau", config=model_config("bahdanau", **TINY), batch_size=32, **settings
        ),
        callbacks=callbacks,
        backup_dir=backup_dir,
        tensorboard_dir=tensorboard_dir,
        verbose=0,
    )


def _weights(model):
    return {f"weight_{i:03d}": np.asarray(w) for i, w in enumerate(model.get_weights())}


def _script(mode, out):
    if mode == "mirrored":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
        # The same loop on one replica: the loss is scaled by the global batch's tokens,
        # so two replicas must compute the same updates (up to float rounding).
        single, _ = _train_toy(epochs=2, strategy=tf.distribute.MirroredStrategy(["/cpu:0"]))
        trained, history = _train_toy(epochs=2, strategy="mirrored")
        variable = trained.model.trainable_variables[0]
        np.savez(
            out,
            replicas=trained.info["replicas"],
            variable_type=type(getattr(variable, "value", variable)).__name__,
            loss=history["loss"],
            **_weights(trained.model),
            **{k.replace("weight_", "single_"): w for k, w in _weights(single.model).items()},
        )
    elif mode == "multiworker":
        from s2s_keras import distribute

        strategy = distribute.make_strategy("multiworker")  # before any other TF op
        trained, history = _train_toy(epochs=2, strategy=strategy)
        np.savez(
            out, replicas=trained.info["replicas"], loss=history["loss"], **_weights(trained.model)
        )
    elif mode == "deterministic":
        trained, history = _train_toy(epochs=2, seed=7, deterministic=True)
        np.savez(out, loss=history["loss"], **_weights(trained.model))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    _script(sys.argv[1], sys.argv[2])


@pytest.mark.slow
def test_a_step_timer_times_every_step_of_the_training_loop():
    import keras
    import tensorflow as tf

    from s2s_keras import bench
    from s2s_keras.distribute import train_loop
    from s2s_keras.models import build_model, model_config
    from s2s_keras.training import compile_model

    rng = np.random.default_rng(0)
    source = rng.integers(4, 20, size=(12, 5))
    target = rng.integers(4, 20, size=(12, 6))
    target[:, -2:] = 0
    batches = tf.data.Dataset.from_tensor_slices(((source, target), target)).batch(4)  # 3 steps
    one_replica = tf.distribute.MirroredStrategy(["/cpu:0"])
    with one_replica.scope():
        keras.utils.set_random_seed(0)
        model = build_model(model_config("bahdanau", **TINY), 20, 20)
        model((source[:1], target[:1]))  # the weights exist before the loop
        compile_model(model, learning_rate=1e-3, clipnorm=None)
    timer = bench.StepTimer()
    train_loop(model, one_replica, batches, epochs=3, callbacks=[timer], verbose=0)
    assert [len(epoch) for epoch in timer.epochs] == [3, 3, 3]
    rates = bench.pass_rates(timer, bench.target_tokens(batches))
    assert rates["tokens"] == 12 * 4 and len(rates["rates"]) == 2
