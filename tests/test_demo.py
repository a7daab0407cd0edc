"""The demo's stopping rule: the first epoch whose validation accuracy reaches the target."""

import keras
import pytest

from s2s_keras.demo import StopAtAccuracy


def stopper(target=0.9):
    callback = StopAtAccuracy(target)
    model = keras.Sequential()  # any model: only its stop flag is used
    model.stop_training = False  # what `fit` sets before the first epoch
    callback.set_model(model)
    return callback


def test_training_stops_at_the_first_epoch_that_reaches_the_target():
    callback = stopper(0.9)
    callback.on_epoch_end(0, {"val_masked_accuracy": 0.5})
    assert not callback.model.stop_training and callback.reached_at is None
    callback.on_epoch_end(1, {"val_masked_accuracy": 0.9})
    assert callback.model.stop_training and callback.reached_at == 2
    callback.on_epoch_end(2, {"val_masked_accuracy": 0.95})
    assert callback.reached_at == 2  # the first one


def test_a_missing_metric_says_what_the_logs_hold():
    with pytest.raises(
        KeyError, match=r"no 'val_masked_accuracy' in the epoch logs \(got \['loss'\]\)"
    ):
        stopper().on_epoch_end(0, {"loss": 1.0})


@pytest.mark.parametrize("target", [0, 1.5, True, "0.9"])
def test_a_target_outside_zero_to_one_is_refused(target):
    with pytest.raises(ValueError, match="target must be"):
        StopAtAccuracy(target)
