"""Course sizing: train one course model for E epochs (no time cap); after every epoch
score greedy BLEU/chrF on the spa-eng test split and count looping outputs.

usage: python sizing.py MODEL EPOCHS OUTDIR [key=value ...]  (TrainSettings overrides)
"""
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import s2s_keras

tf = s2s_keras.import_tensorflow()
import keras  # noqa: E402

from s2s_keras import analysis, corpora, course, evaluation, training  # noqa: E402

name, epochs, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
overrides = dict(kv.split("=", 1) for kv in sys.argv[4:])
overrides = {k: (float(v) if "." in v or "e-" in v else int(v)) for k, v in overrides.items()}
out.mkdir(parents=True, exist_ok=True)
corpus = corpora.load_corpus("spa-eng")
settings = replace(course.settings(name), epochs=epochs, max_minutes=None, **overrides)
print(settings, flush=True)


class Snapshot(keras.callbacks.Callback):
    """Weights after every epoch, and the seconds since this process started (kept in
    times.json, so a run resumed from its backup keeps the earlier epochs' times)."""

    def __init__(self):
        super().__init__()
        self.t0 = time.monotonic()
        self.path = out / "times.json"
        self.times = json.loads(self.path.read_text()) if self.path.exists() else {}

    def on_epoch_end(self, epoch, logs=None):
        self.times[str(epoch + 1)] = round(time.monotonic() - self.t0, 1)
        self.path.write_text(json.dumps(self.times))
        self.model.save_weights(out / f"epoch{epoch + 1}.weights.h5")


snap = Snapshot()
trained, history = training.train(corpus, settings, verbose=2, callbacks=[snap],
                                  backup_dir=out / "backup")
trained.save(out / "model")
rows = []
epochs_run = trained.info["epochs_run"]
val_losses = history.get("val_loss", [])
first = epochs_run - len(val_losses) + 1  # a resumed run's history starts at its resume
for epoch in range(1, epochs_run + 1):
    trained.model.load_weights(out / f"epoch{epoch}.weights.h5")
    hyps = trained.translate(corpus.test.source, method="greedy", batch_size=64, progress=False)
    scores = evaluation.corpus_scores(hyps, corpus.test.target)
    row = {"epoch": epoch, "seconds": snap.times.get(str(epoch)),
           "steps": None, "bleu": round(scores["bleu"], 2), "chrf": round(scores["chrf"], 2),
           "loops": analysis.loop_count(hyps), "val_loss": round(val_losses[epoch - first], 4) if epoch >= first else None}
    rows.append(row)
    (out / f"epoch{epoch}.greedy.txt").write_text("\n".join(hyps) + "\n")
    print(json.dumps(row), flush=True)
(out / "sizing.json").write_text(json.dumps({"settings": str(settings), "info": trained.info,
                                             "rows": rows}, indent=2, default=str))
