"""Train notebook 10's models in the background, with the course's own functions.

Run from the repository root, with S2S_DATA_DIR and S2S_RUNS_DIR set, each in a process of
its own (two or three side by side on a 2-core CPU):

    python docs/measurements/multilingual/train.py main          # T = 5, the course's run
    python docs/measurements/multilingual/train.py t1 zh-en es-en  # T = 1, then baselines
    python docs/measurements/multilingual/train.py en-zh         # a baseline

Notebook 10 then reuses every model (`training.train_or_load`). Killed midway, the
multilingual runs resume from their backups when started again.
"""

import sys
import time

from s2s_keras import corpora, course

corpus = corpora.load_corpus("tatoeba-multi")


def stamp(what, trained):
    print(f"[{time.strftime('%H:%M:%S')}] {course.model_facts(what, trained.info)}", flush=True)


for job in sys.argv[1:]:
    if job == "main":
        stamp("multilingual T=5", course.train_multilingual(corpus)[0])
    elif job == "t1":
        steps = course.multilingual_compare_at()
        trained = course.train_multilingual(corpus, name="transformer-t1", temperature=1.0, steps=steps)[0]
        stamp("multilingual T=1", trained)
    else:
        stamp(f"bilingual {job}", course.multilingual_baseline(corpus, job))
