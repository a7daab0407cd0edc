"""The loop guard on one trained model: greedy and beam 4, without and with max_repeats=2;
BLEU/chrF on the spa-eng test split and the looping outputs (analysis.loop_count).

usage: python guard.py RUN   (RUN: a sizing.py output folder; reads RUN/model)
"""
import json
import sys
from pathlib import Path

import s2s_keras

tf = s2s_keras.import_tensorflow()
from s2s_keras import analysis, corpora, evaluation  # noqa: E402
from s2s_keras.bundle import TrainedModel  # noqa: E402

run = Path(sys.argv[1])
trained = TrainedModel.load(run / "model")
corpus = corpora.load_corpus("spa-eng")
rows = []
for method in ("greedy", "beam"):
    for repeats in (None, 2):
        hyps = trained.translate(corpus.test.source, method=method, beam_size=4, alpha=0.6,
                                 batch_size=64, max_repeats=repeats)
        scores = evaluation.corpus_scores(hyps, corpus.test.target)
        row = {"method": method, "max_repeats": repeats, "bleu": round(scores["bleu"], 2),
               "chrf": round(scores["chrf"], 2), "loops": analysis.loop_count(hyps)}
        rows.append(row)
        print(json.dumps(row), flush=True)
        (run / f"{method}.repeats{repeats}.txt").write_text("\n".join(hyps) + "\n")
(run / "guard.json").write_text(json.dumps(rows, indent=1) + "\n")
