"""Which outputs of sizing.py's per-epoch greedy translations loop, and of what kind.

usage: python loops.py RUN   (RUN/epochN.greedy.txt, the spa-eng test split's translations)
"""
import re
import sys
from pathlib import Path

import numpy as np

from s2s_keras import analysis, corpora

run = Path(sys.argv[1])
test = corpora.load_corpus("spa-eng").test
words = np.array([len(s.split()) for s in test.source])
accented = np.array([bool(re.search(r"[áéíóúñü]", s.lower())) for s in test.source])
for path in sorted(run.glob("epoch*.greedy.txt")):
    hyps = path.read_text().split("\n")[: len(test)]
    loop = np.array([analysis.has_loop(h) for h in hyps])
    letters = np.array([bool(re.search(r"(\w)\1{4,}", h)) for h in hyps])
    print(
        f"{path.name}: {loop.sum()} loops ({letters.sum()} a letter 5+ times, "
        f"{(loop & ~letters).sum()} a repeated word n-gram); source words {words[loop].mean():.1f} "
        f"looping vs {words[~loop].mean():.1f} not; accented sources {accented[loop].mean():.0%} "
        f"vs {accented[~loop].mean():.0%}"
    )
    for i in np.flatnonzero(loop)[:4]:
        print(f"    {test.source[i]} → {hyps[i][:80]}")
