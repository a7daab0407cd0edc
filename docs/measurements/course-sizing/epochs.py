"""Score the course Transformer after each epoch of its run (`course.at_epoch`): greedy
BLEU/chrF on the spa-eng test split and the looping outputs.

usage: python epochs.py [EPOCH ...]   (default 1 2 3 4; the run under runs/course)
"""
import json
import sys

import s2s_keras

tf = s2s_keras.import_tensorflow()
from s2s_keras import analysis, corpora, course, evaluation  # noqa: E402

corpus = corpora.load_corpus("spa-eng")
for epoch in [int(e) for e in sys.argv[1:]] or [1, 2, 3, 4]:
    model = course.at_epoch("transformer", corpus, epoch)
    hyps = model.translate(corpus.test.source, method="greedy", batch_size=64, progress=False)
    scores = evaluation.corpus_scores(hyps, corpus.test.target)
    print(json.dumps({"epoch": epoch, "steps": model.info["steps_run"],
                      "bleu": round(scores["bleu"], 2), "chrf": round(scores["chrf"], 2),
                      "loops": analysis.loop_count(hyps)}), flush=True)
