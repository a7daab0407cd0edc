"""Evaluate the Chinese runs of the README on the test splits: `python evaluate.py RUNS OUT [RUN...]`."""

import json
import sys
import time
from pathlib import Path

from s2s_keras import import_tensorflow

import_tensorflow()
from s2s_keras.bundle import TrainedModel
from s2s_keras.corpora import load_corpus
from s2s_keras.evaluation import bleu_by_length, bleu_metric, corpus_scores
from s2s_keras.text import unknown_rate

ROOT, OUT = Path(sys.argv[1]), Path(sys.argv[2])  # the runs folder, this folder
RUNS = {
    "cmn-eng-transformer": "cmn-eng",
    "cmn-eng-bahdanau": "cmn-eng",
    "eng-cmn-transformer": "eng-cmn",
    "cmn-eng-transformer-chars": "cmn-eng",
}
only = sys.argv[3:] or list(RUNS)
for name in only:
    corpus = load_corpus(RUNS[name])
    test = corpus.test
    trained = TrainedModel.load(ROOT / name)
    for beam in (1, 4):
        out = OUT / f"{name}.beam{beam}.json"
        if out.exists():
            continue
        t0 = time.monotonic()
        kw = {"method": "greedy"} if beam == 1 else {"method": "beam", "beam_size": 4, "alpha": 0.6}
        hyps = trained.translate(test.source, **kw)
        secs = time.monotonic() - t0
        (OUT / f"{name}.beam{beam}.txt").write_text("\n".join(hyps) + "\n")
        row = {
            "run": name,
            "corpus": corpus.name,
            "decoding": "greedy" if beam == 1 else "beam 4, alpha 0.6",
            **corpus_scores(hyps, test.target, target_lang=corpus.target_lang),
            "by_source_length": bleu_by_length(
                test.source,
                hyps,
                test.target,
                edges=(0, 5, 10, 15),
                target_lang=corpus.target_lang,
                source_lang=corpus.source_lang,
            ),
            "decode_seconds": round(secs, 1),
            "sentences": len(hyps),
            "info": trained.info,
        }
        if corpus.target_lang == "zh":
            m13 = bleu_metric(None)
            b13 = m13.corpus_score(hyps, [list(test.target)])
            row["bleu_13a"] = b13.score
            row["bleu_13a_signature"] = str(m13.get_signature())
        for side, tok, texts in (
            ("source", trained.source_tokenizer, test.source),
            ("target", trained.target_tokenizer, test.target),
        ):
            lengths = tok.tokenize(list(texts), add_markers=False).row_lengths().numpy()
            row[f"{side}_tokens"] = {
                "kind": tok.kind,
                "vocab_size": tok.vocab_size,
                "mean_length": float(lengths.mean()),
                "unk_rate": unknown_rate(tok, list(texts)),
            }
        out.write_text(json.dumps(row, indent=2, ensure_ascii=False))
        print(name, beam, round(row["bleu"], 2), round(row["chrf"], 2), flush=True)
