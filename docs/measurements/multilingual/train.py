"""Train notebook 10's models in the background, with the course's own functions.

Run from the repository root, with S2S_DATA_DIR and S2S_RUNS_DIR set:

    python docs/measurements/multilingual/train.py main       # T = 5, the course's run
    python docs/measurements/multilingual/train.py baselines  # T = 1, then the bilingual models

Notebook 10 then reuses every model (`training.train_or_load`). Killed midway, the
multilingual runs resume from their backups when started again.
"""

import sys
import time

from s2s_keras import corpora, course

corpus = corpora.load_corpus("tatoeba-multi")


def stamp(what, trained):
    print(f"[{time.strftime('%H:%M:%S')}] {course.model_facts(what, trained.info)}", flush=True)


if sys.argv[1] == "main":
    stamp("multilingual T=5", course.train_multilingual(corpus)[0])
else:
    compare_at = course.multilingual_compare_at()
    stamp(
        "multilingual T=1",
        course.train_multilingual(corpus, name="transformer-t1", temperature=1.0, steps=compare_at)[0],
    )
    for name in course.CHINESE_CORPORA:
        stamp(f"bilingual {name}", course.train("transformer", course.chinese_corpus(name))[0])
    steps = course.matched_steps(corpus, "es-en")
    stamp(f"bilingual spa-eng, {steps} steps", course.train_matched(corpora.load_corpus("spa-eng"), steps)[0])
