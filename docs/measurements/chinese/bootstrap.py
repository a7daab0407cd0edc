import json
import sys
from pathlib import Path

from s2s_keras.corpora import load_corpus
from s2s_keras.evaluation import paired_bootstrap

E = Path(sys.argv[1])  # the folder evaluate.py wrote
ref = list(load_corpus("cmn-eng").test.target)
out = {}
for a, b, beam in [
    ("cmn-eng-bahdanau", "cmn-eng-transformer", 1),
    ("cmn-eng-transformer", "cmn-eng-transformer-chars", 1),
    ("cmn-eng-bahdanau", "cmn-eng-transformer", 4),
    ("cmn-eng-transformer", "cmn-eng-transformer-chars", 4),
]:
    ha = (E / f"{a}.beam{beam}.txt").read_text().split("\n")[: len(ref)]
    hb = (E / f"{b}.beam{beam}.txt").read_text().split("\n")[: len(ref)]
    r = paired_bootstrap(ha, hb, ref, target_lang="en")
    out[f"{a} vs {b} beam{beam}"] = r
    print(a, "vs", b, beam, {k: r[k] for k in ("bleu", "chrf")})
for n in [
    "cmn-eng-transformer",
    "cmn-eng-bahdanau",
    "eng-cmn-transformer",
    "cmn-eng-transformer-chars",
]:
    for beam in (1, 4):
        j = json.loads((E / f"{n}.beam{beam}.json").read_text())
        print(
            n,
            beam,
            round(j["bleu"], 2),
            round(j["chrf"], 2),
            j.get("bleu_13a"),
            j["bleu_signature"],
            j["source_tokens"],
            j["target_tokens"],
            [(x["bucket"], x["sentences"], round(x["bleu"], 1)) for x in j["by_source_length"]],
            j["decode_seconds"],
        )
(E / "bootstrap.json").write_text(json.dumps(out, indent=2))
