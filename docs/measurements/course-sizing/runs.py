"""How often a token comes three or more times in a row, in the references and in the
looping outputs of a sizing.py run (tokens of the run's own target tokenizer).

usage: python runs.py RUN   (RUN/model and RUN/epoch4.greedy.txt)
"""
import sys
from pathlib import Path

import s2s_keras

tf = s2s_keras.import_tensorflow()
from s2s_keras import analysis, corpora  # noqa: E402
from s2s_keras.bundle import TrainedModel  # noqa: E402


def longest_run(ids):
    best = current = 0
    previous = None
    for token in ids:
        current = current + 1 if token == previous else 1
        previous, best = token, max(best, current)
    return best


run = Path(sys.argv[1])
tokenizer = TrainedModel.load(run / "model").target_tokenizer
test = corpora.load_corpus("spa-eng").test
hyps = (run / "epoch4.greedy.txt").read_text().split("\n")[: len(test)]
references = tokenizer.tokenize(list(test.target), add_markers=False).to_list()
outputs = tokenizer.tokenize(hyps, add_markers=False).to_list()
looping = [ids for ids, h in zip(outputs, hyps, strict=True) if analysis.has_loop(h)]
print(f"references with a token 3+ times in a row: {sum(longest_run(r) >= 3 for r in references)} "
      f"of {len(references)}")
print(f"looping outputs with a token 3+ times in a row: {sum(longest_run(r) >= 3 for r in looping)} "
      f"of {len(looping)}")
