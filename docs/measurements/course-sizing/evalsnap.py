"""Score the per-epoch weights sizing.py saved (when its own scoring did not run).

usage: python evalsnap.py RUN [CORPUS]   (RUN/model and RUN/epochN.weights.h5)
"""
import json
import sys
from pathlib import Path

import s2s_keras

tf = s2s_keras.import_tensorflow()
from s2s_keras import analysis, corpora, evaluation  # noqa: E402
from s2s_keras.bundle import TrainedModel  # noqa: E402

run = Path(sys.argv[1])
corpus = corpora.load_corpus(sys.argv[2] if len(sys.argv) > 2 else "spa-eng")
trained = TrainedModel.load(run / "model")
rows = []
for weights in sorted(run.glob("epoch*.weights.h5"), key=lambda p: int(p.name[5:].split(".")[0])):
    epoch = int(weights.name[5:].split(".")[0])
    trained.model.load_weights(weights)
    hyps = trained.translate(corpus.test.source, method="greedy", batch_size=64)
    scores = evaluation.corpus_scores(hyps, corpus.test.target)
    row = {"epoch": epoch, "bleu": round(scores["bleu"], 2), "chrf": round(scores["chrf"], 2),
           "loops": analysis.loop_count(hyps)}
    rows.append(row)
    print(json.dumps(row), flush=True)
(run / "sizing.json").write_text(json.dumps({"info": trained.info, "rows": rows}, indent=1,
                                            default=str) + "\n")
