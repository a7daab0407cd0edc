"""What a run's info says when the wall-clock budget cuts an epoch short (notebook 05)."""

from s2s_keras.models import model_config
from s2s_keras.toy import make_toy_corpus
from s2s_keras.training import TrainSettings, train

TINY = {"embedding_dim": 8, "units": 8}


def test_a_run_cut_by_the_budget_says_so_and_counts_its_steps():
    corpus = make_toy_corpus(200, seed=3)
    kwargs = {"model": "bahdanau", "config": model_config("bahdanau", **TINY), "batch_size": 16}
    cut, _ = train(corpus, TrainSettings(epochs=2, max_minutes=1e-6, **kwargs), verbose=0)
    whole, _ = train(corpus, TrainSettings(epochs=1, **kwargs), verbose=0)
    # The budget is checked after every batch: an immediate one stops after the first.
    assert cut.info["stopped_by_time_budget"] is True
    assert (cut.info["steps_run"], cut.info["epochs_run"]) == (1, 1)
    assert whole.info["stopped_by_time_budget"] is False
    # 200 pairs make 10+ batches of 16 (fewer after the split, more with bucketing).
    assert whole.info["steps_run"] >= len(corpus.train.source) // 16
