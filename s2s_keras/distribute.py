"""Training on several devices or machines with `tf.distribute`.

Notebook 08 (performance and scale) introduces it; `training.TrainSettings(strategy=...)` and
`s2s-keras train --strategy NAME` use it. Every strategy here is synchronous data
parallelism: each replica runs the same model on its share of a global batch of
`batch_size` sentences, and the gradients are summed across replicas before each update.

- `"default"`: one device, TensorFlow's default strategy (what `fit` uses anyway).
- `"mirrored"`: `MirroredStrategy` over the GPUs of one machine (over the logical CPUs
  when there is no GPU, which is how the tests run it).
- `"multiworker"`: `MultiWorkerMirroredStrategy` over several machines. Every machine
  runs the same command, with a `TF_CONFIG` environment variable naming the cluster and
  its own place in it.
- `"tpu"`: `TPUStrategy` on a Cloud or Colab TPU.

Keras `fit` trains under the default and TPU strategies. The mirrored strategies train
with `train_loop`, a custom loop over `strategy.run`, because Keras 3's `fit` fails under
both (reproduced with Keras 3.15.1 and TensorFlow 2.21):

- under `MultiWorkerMirroredStrategy`, on its first step ("Attempt to convert a value
  (PerReplica...) with an unsupported type to a Tensor"; keras-team/keras#20585);
- under `MirroredStrategy`, whenever the first batch of a dataset does not split into
  equal shares: `fit` and `evaluate` average that batch over the replicas to build the
  model ("Inputs to operation AddN ... must have the same size and shape"). Bucketed
  batches of odd sizes are common: each bucket's last batch is partial.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from s2s_keras.errors import S2SError
from s2s_keras.evaluation import masked_loss

STRATEGIES = ("default", "mirrored", "multiworker", "tpu")

_TF_CONFIG_EXAMPLE = (
    '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
    '"task": {"type": "worker", "index": 0}}'
)


class StrategyError(S2SError):
    """A distribution strategy cannot be created here (missing TF_CONFIG, no TPU, ...)."""


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The `tf.distribute` strategy of a name in `STRATEGIES`.

    Create the strategy before building the model: the model and its optimizer must be
    built under `strategy.scope()`. `"multiworker"` must be created before TensorFlow
    runs its first operation in the process (collective ops are configured at start-up).

    Args:
        name: `"default"`, `"mirrored"`, `"multiworker"` or `"tpu"`.

    Returns:
        The strategy.

    Raises:
        StrategyError: unknown name; `TF_CONFIG` missing or invalid (multi-worker); no
            TPU reachable; TensorFlow already initialised (multi-worker).
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        # MirroredStrategy() alone takes every GPU, or the first CPU when there is none;
        # several logical CPUs (tf.config.set_logical_device_configuration) stand in for
        # GPUs on a machine without one.
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multiworker":
        check_tf_config(os.environ.get("TF_CONFIG"))
        try:
            return tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as e:
            if "startup" not in str(e):
                raise
            raise StrategyError(
                "the multi-worker strategy must be created before TensorFlow runs its first "
                "operation: create it first thing in the program (a fresh `s2s-keras train "
                "--strategy multiworker` process does)"
            ) from None
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, RuntimeError, tf.errors.OpError) as e:
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise StrategyError(
                f"no TPU found ({first}); on Colab pick Runtime > Change runtime type > TPU, "
                "elsewhere set TPU_NAME"
            ) from None
        return tf.distribute.TPUStrategy(resolver)
    raise StrategyError(f"unknown strategy {name!r}; expected one of: {', '.join(STRATEGIES)}")


def check_tf_config(text: str | None) -> dict:
    """Parse and check a `TF_CONFIG` value for the multi-worker strategy.

    Returns:
        The parsed dict.

    Raises:
        StrategyError: missing, not JSON, or without a cluster and this task's place in it.
    """
    if not text:
        raise StrategyError(
            f"--strategy multiworker needs the TF_CONFIG environment variable on every "
            f"worker, e.g. TF_CONFIG='{_TF_CONFIG_EXAMPLE}' (index 1 on the second machine)"
        )
    try:
        config = json.loads(text)
    except json.JSONDecodeError as e:
        raise StrategyError(
            f"TF_CONFIG is not valid JSON ({e}); expected e.g. {_TF_CONFIG_EXAMPLE}"
        ) from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not cluster or not isinstance(task, dict):
        raise StrategyError(
            f"TF_CONFIG needs a 'cluster' of addresses and this machine's 'task'; got {text!r}, "
            f"expected e.g. {_TF_CONFIG_EXAMPLE}"
        )
    kind, index = task.get("type"), task.get("index")
    members = cluster.get(kind)
    if not isinstance(members, list) or not isinstance(index, int) or not 0 <= index < len(members):
        raise StrategyError(
            f"TF_CONFIG's task {task!r} is not in its cluster {cluster!r}; the task's type must "
            "be a key of the cluster and its index a position in that list"
        )
    return config


def resolve_strategy(strategy: str | tf.distribute.Strategy | None) -> tf.distribute.Strategy:
    """`strategy` itself, or `make_strategy(strategy)` for a name; `None` is `"default"`."""
    if strategy is None:
        return make_strategy("default")
    if isinstance(strategy, str):
        return make_strategy(strategy)
    if isinstance(strategy, tf.distribute.Strategy):
        return strategy
    raise StrategyError(
        f"strategy must be one of {', '.join(STRATEGIES)} or a tf.distribute.Strategy, "
        f"got {strategy!r}"
    )


def strategy_name(strategy: tf.distribute.Strategy) -> str:
    """`"default"`, `"mirrored"`, `"multiworker"`, `"tpu"`, or the class name of another."""
    if is_multi_worker(strategy):
        return "multiworker"
    if isinstance(strategy, tf.distribute.MirroredStrategy):
        return "mirrored"
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "tpu"
    if "Default" in type(strategy).__name__:
        return "default"
    return type(strategy).__name__


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
    """Whether `strategy` is a `MultiWorkerMirroredStrategy`."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def uses_train_loop(strategy: tf.distribute.Strategy) -> bool:
    """Whether `training.train` trains under `strategy` with `train_loop` (not `fit`)."""
    return is_multi_worker(strategy) or isinstance(strategy, tf.distribute.MirroredStrategy)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the results: the chief, else worker 0, else the only one."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not is_multi_worker(strategy) or resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def distribute_dataset(strategy: tf.distribute.Strategy, dataset: tf.data.Dataset):
    """`dataset` of global batches, split into per-replica batches across workers.

    Each worker builds the same pipeline (same seed, same order); with the `DATA`
    sharding policy each global batch is split into one piece per replica and every
    worker keeps its own pieces, so all workers run the same number of steps. The
    default policy (`AUTO`) would try to shard by files first, which a dataset built
    from in-memory sentences does not have, and warn.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(dataset.with_options(options))


def train_loop(
    model: keras.Model,
    strategy: tf.distribute.Strategy,
    train_data: tf.data.Dataset,
    validation_data: tf.data.Dataset | None = None,
    *,
    epochs: int = 1,
    initial_epoch: int = 0,
    label_smoothing: float = 0.0,
    clipnorm: float | None = 1.0,
    max_minutes: float | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int | str = 2,
) -> tuple[dict, bool]:
    """Train `model` with `strategy.run`: what `fit` does, under the mirrored strategies.

    The model and its optimizer (`compile_model(..., clipnorm=None)`) must have been built
    under `strategy.scope()`. Each step, every replica sums the masked token loss of its
    share of the batch and divides it by the number of real target tokens in the whole
    global batch (one all-reduce), so the summed gradient is the gradient of the global
    batch's mean token loss, whatever the number of replicas. Gradients are summed across
    replicas and then clipped to `clipnorm` per variable, as on one device.

    Args:
        model: a seq2seq model of `s2s_keras.models`, built and compiled under the scope.
        strategy: the strategy it was built under.
        train_data, validation_data: datasets of global batches (`make_dataset`).
        epochs: the epoch to stop after (as `fit`'s `epochs`).
        initial_epoch: epochs already done (after a resume).
        label_smoothing: ε of `masked_loss`.
        clipnorm: clip each variable's summed gradient to this norm; `None` for none.
        max_minutes: stop after this much training time.
        callbacks: Keras callbacks, called at the beginning and end of training, of each
            epoch (with the epoch's logs) and before and after each batch (without logs:
            `bench.StepTimer` times the steps, as under `fit`). A callback
            that sets `model.stop_training` stops every worker after the same step.
        verbose: `0` silent, otherwise one line per epoch (from the chief only).

    Returns:
        `(history, stopped_by_time)`: a dict like `fit`'s history, with `loss` and
        `masked_accuracy` per epoch (means over real target tokens) and `val_loss`,
        `val_masked_accuracy` with `validation_data`; and whether `max_minutes` cut
        training short.
    """
    optimizer = model.optimizer
    if optimizer is None:
        raise ValueError("compile the model (under strategy.scope()) before train_loop")
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        raise StrategyError(
            "train_loop does not support mixed_float16 loss scaling; use the float32 or "
            "mixed_bfloat16 dtype policy"
        )
    with strategy.scope():
        optimizer.build(model.trainable_variables)
    dist_train = distribute_dataset(strategy, train_data)
    dist_val = None if validation_data is None else distribute_dataset(strategy, validation_data)
    train_step, eval_step = _make_steps(
        model, strategy, dist_train.element_spec, label_smoothing, clipnorm
    )
    show = verbose not in (0, "0") and is_chief(strategy)
    hooks = keras.callbacks.CallbackList(list(callbacks), model=model)

    history: dict[str, list[float]] = {}
    budget = None if max_minutes is None else 60.0 * max_minutes
    start = time.monotonic()
    out_of_time = False
    model.stop_training = False
    hooks.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        epoch_start = time.monotonic()
        hooks.on_epoch_begin(epoch)
        sums = np.zeros(3)  # loss summed over real tokens, real tokens, right tokens
        for step, batch in enumerate(dist_train):
            hooks.on_train_batch_begin(step)
            out_of_time = budget is not None and time.monotonic() - start > budget
            stop = float(out_of_time or model.stop_training)
            step_sums, stop = train_step(batch, tf.constant(stop))
            sums += [float(x) for x in step_sums]
            hooks.on_train_batch_end(step)
            if float(stop) > 0:  # some worker is out of time or was told to stop
                model.stop_training = True
                break
        tokens = max(sums[1], 1.0)
        logs = {"loss": sums[0] / tokens, "masked_accuracy": sums[2] / tokens}
        if dist_val is not None:
            sums = np.zeros(3)
            for batch in dist_val:
                sums += [float(x) for x in eval_step(batch)]
            tokens = max(sums[1], 1.0)
            logs["val_loss"], logs["val_masked_accuracy"] = sums[0] / tokens, sums[2] / tokens
        for key, value in logs.items():
            history.setdefault(key, []).append(float(value))
        if show:
            shown = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
            print(f"Epoch {epoch + 1}/{epochs} - {time.monotonic() - epoch_start:.0f}s - {shown}")
        # Every worker sees the same reduced logs, so callbacks such as EarlyStopping
        # decide alike on all of them.
        hooks.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    hooks.on_train_end(logs={k: v[-1] for k, v in history.items()})
    return history, out_of_time


def _make_steps(model, strategy, batch_spec, label_smoothing, clipnorm):
    """The distributed train and evaluation steps of `train_loop`, as `tf.function`s.

    One trace each, whatever the batch shapes (`batch_spec` has unknown batch and time
    dimensions): under the multi-worker strategy every worker must launch the same
    collective ops in the same order, which retracing at different times would break.
    """
    optimizer = model.optimizer
    variables = model.trainable_variables
    replicas = strategy.num_replicas_in_sync
    total = tf.distribute.ReduceOp.SUM

    def real_tokens(target):
        return tf.cast(tf.not_equal(target, 0), tf.float32)  # [B, T], 0 at padding

    def right_tokens(target, logits, mask):
        predicted = tf.argmax(logits, -1, output_type=target.dtype)  # [B, T]
        return tf.reduce_sum(tf.cast(tf.equal(predicted, target), tf.float32) * mask)

    def replica_train(batch, over_budget):
        inputs, target = batch
        mask = real_tokens(target)
        tokens = tf.reduce_sum(mask)
        # One all-reduce for two scalars: the global batch's real tokens, and whether
        # any worker is out of time (so that all stop after the same step).
        shared = tf.distribute.get_replica_context().all_reduce(
            total, tf.stack([tokens, over_budget])
        )
        with tf.GradientTape() as tape:
            logits = model(inputs, training=True)  # [B, T, V]
            loss_sum = masked_loss(target, logits, label_smoothing) * tokens
            loss = loss_sum / tf.maximum(shared[0], 1.0)
        grads = tape.gradient(loss, variables)
        grads = [
            tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)  # embeddings: sparse
            for g, v in zip(grads, variables, strict=True)
        ]
        grads = tf.distribute.get_replica_context().all_reduce(total, grads)
        if clipnorm:
            grads = [tf.clip_by_norm(g, clipnorm) for g in grads]
        # Keras's optimizer sums the gradients across replicas once more (and would clip
        # each replica's share before that, not the sum); every replica now holds the
        # same clipped sum, so each hands it its 1/replicas share.
        optimizer.apply([g / replicas for g in grads], variables)
        return (loss_sum, tokens, right_tokens(target, logits, mask)), shared[1]

    def replica_eval(batch):
        inputs, target = batch
        mask = real_tokens(target)
        tokens = tf.reduce_sum(mask)
        logits = model(inputs, training=False)
        loss_sum = masked_loss(target, logits, label_smoothing) * tokens
        return loss_sum, tokens, right_tokens(target, logits, mask)

    def reduce_all(values):
        return [strategy.reduce(total, v, axis=None) for v in values]

    @tf.function(input_signature=[batch_spec, tf.TensorSpec([], tf.float32)])
    def train_step(batch, over_budget):
        sums, stop = strategy.run(replica_train, args=(batch, over_budget))
        return reduce_all(sums), strategy.reduce(total, stop, axis=None)

    @tf.function(input_signature=[batch_spec])
    def eval_step(batch):
        return reduce_all(strategy.run(replica_eval, args=(batch,)))

    return train_step, eval_step
