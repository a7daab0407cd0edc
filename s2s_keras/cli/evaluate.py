"""`s2s-keras evaluate`: BLEU and chrF of a model directory on a corpus split."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from s2s_keras.cli.options import (
    add_corpus_option,
    add_decoding_options,
    decoding_kwargs,
    decoding_name,
    load_corpus,
)
from s2s_keras.errors import S2SError


def add_arguments(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="BLEU and chrF of a model on a corpus split")
    parser.add_argument("--model", type=Path, required=True, help="a model directory")
    add_corpus_option(parser)
    parser.add_argument("--split", default="test", choices=("train", "validation", "test"))
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    add_decoding_options(parser, default_beam=1)
    parser.set_defaults(run=run)


def run(args) -> int:
    from s2s_keras.bundle import TrainedModel
    from s2s_keras.corpora import corpus_languages
    from s2s_keras.evaluation import bleu_by_length, corpus_scores

    trained = TrainedModel.load(args.model)
    expected = (trained.info.get("source_lang"), trained.info.get("target_lang"))
    languages = corpus_languages(args.corpus)
    if languages != expected:
        raise S2SError(
            f"the model translates {expected[0]}→{expected[1]} but {args.corpus!r} is "
            f"{languages[0]}→{languages[1]}; pick a corpus in the model's direction"
        )
    corpus = load_corpus(args.corpus, args.data_dir)
    data = corpus.split(args.split)
    hyps = trained.translate(data.source, progress=sys.stderr.isatty(), **decoding_kwargs(args))
    scores = {
        "corpus": corpus.name,
        "split": args.split,
        "decoding": decoding_name(args),
        **corpus_scores(hyps, data.target, target_lang=corpus.target_lang),
        "by_source_length": bleu_by_length(
            data.source,
            hyps,
            data.target,
            target_lang=corpus.target_lang,
            source_lang=corpus.source_lang,
        ),
        "model": trained.info.get("model"),
        "params": trained.info.get("params"),
        "train_seconds": trained.info.get("train_seconds"),
        "epochs_run": trained.info.get("epochs_run"),
        "seed": trained.info.get("seed"),
        "hardware": trained.info.get("hardware"),
    }
    if args.json:
        print(json.dumps(scores, indent=2))
    else:
        print(
            f"{corpus.name} {args.split}: BLEU {scores['bleu']:.2f}  chrF {scores['chrf']:.2f}"
            f"  ({scores['sentences']} sentences, {scores['decoding']})"
        )
        print(f"  {scores['bleu_signature']}\n  {scores['chrf_signature']}")
        print(
            "  BLEU by source length: "
            + ", ".join(
                f"{r['bucket']} words {r['bleu']:.1f} ({r['sentences']})"
                for r in scores["by_source_length"]
            )
        )
    return 0
