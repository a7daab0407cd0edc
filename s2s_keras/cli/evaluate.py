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
    parser.add_argument(
        "--target-lang",
        default=None,
        metavar="LANG",
        help="multilingual model: evaluate the direction into LANG (e.g. fr)",
    )
    parser.add_argument(
        "--source-lang",
        default=None,
        metavar="LANG",
        help="multilingual model: the direction's source (default: en, or required "
        "when --target-lang is en)",
    )
    parser.add_argument(
        "--zero-shot",
        action="store_true",
        help="multilingual model: es→fr and fr→es on the test split's zero-shot set, "
        "direct and through English",
    )
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
    if not trained.languages and (args.target_lang or args.source_lang or args.zero_shot):
        raise S2SError(
            "--target-lang, --source-lang and --zero-shot are for multilingual models; "
            f"{str(args.model)!r} translates {expected[0]}→{expected[1]} only"
        )
    corpus = load_corpus(args.corpus, args.data_dir)
    if args.zero_shot:
        return _zero_shot(args, trained, corpus)
    source_lang, target_lang = corpus.source_lang, corpus.target_lang
    data = corpus.split(args.split)
    name = corpus.name
    if trained.languages:
        source_lang, target_lang = _direction(args, trained)
        data = corpus.direction(args.split, source_lang, target_lang)
        name = f"{corpus.name} {source_lang}→{target_lang}"
    hyps = trained.translate(data.source, progress=sys.stderr.isatty(), **decoding_kwargs(args))
    sources = data.source
    if trained.languages:
        from s2s_keras.multilingual import without_language_token

        sources = [without_language_token(s) for s in data.source]
    scores = {
        "corpus": corpus.name,
        "split": args.split,
        "decoding": decoding_name(args),
        **({"direction": f"{source_lang}-{target_lang}"} if trained.languages else {}),
        **corpus_scores(hyps, data.target, target_lang=target_lang),
        "by_source_length": bleu_by_length(
            sources, hyps, data.target, target_lang=target_lang, source_lang=source_lang
        ),
        **_model_facts(trained),
    }
    if args.json:
        print(json.dumps(scores, indent=2))
    else:
        print(
            f"{name} {args.split}: BLEU {scores['bleu']:.2f}  chrF {scores['chrf']:.2f}"
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


def _direction(args, trained) -> tuple[str, str]:
    """`(source_lang, target_lang)` of `--source-lang` / `--target-lang`, checked."""
    from s2s_keras.multilingual import PIVOT, check_language

    target = check_language(args.target_lang, trained.languages)
    if args.source_lang is None and target == PIVOT:
        others = ", ".join(x for x in trained.languages if x != PIVOT)
        raise S2SError(f"--target-lang {PIVOT} needs --source-lang, one of: {others}")
    source = args.source_lang or PIVOT
    if source not in trained.languages:
        raise S2SError(
            f"source language {source!r}: this model translates from "
            f"{', '.join(trained.languages)}; pass one of them (--source-lang)"
        )
    return source, target


def _zero_shot(args, trained, corpus) -> int:
    """Both zero-shot directions (or the one given), direct and pivoting through English."""
    from s2s_keras.multilingual import zero_shot_scores, zero_shot_set

    if args.split != "test":
        raise S2SError("--zero-shot uses the test split; drop --split")
    pairs = [("es", "fr"), ("fr", "es")]
    if args.source_lang or args.target_lang:
        pairs = [(args.source_lang or "es", args.target_lang or "fr")]
    rows = []
    for source, target in pairs:
        result = zero_shot_scores(
            trained, zero_shot_set(corpus, source, target), **decoding_kwargs(args)
        )
        del result["direct_hypotheses"], result["pivot_hypotheses"]
        rows.append({"corpus": corpus.name, "decoding": decoding_name(args), **result})
    if args.json:
        print(json.dumps({"zero_shot": rows, **_model_facts(trained)}, indent=2))
        return 0
    for row in rows:
        direct, pivot = row["direct"], row["pivot"]
        print(
            f"{corpus.name} zero-shot {row['direction'].replace('-', '→')} "
            f"({row['sentences']} sentences, {row['decoding']}): direct BLEU "
            f"{direct['bleu']:.2f} chrF {direct['chrf']:.2f}; through en BLEU "
            f"{pivot['bleu']:.2f} chrF {pivot['chrf']:.2f}"
        )
        test = row["direct_vs_pivot"]
        print(
            "  direct against through-en, paired bootstrap: "
            + ", ".join(
                f"{m} p = {test[m]['p_value']:.3f}"
                f" ({'significant' if test[m]['significant'] else 'not significant'})"
                for m in ("bleu", "chrf")
            )
        )
        print(f"  {direct['bleu_signature']}\n  {direct['chrf_signature']}")
    return 0


def _model_facts(trained) -> dict:
    info = trained.info
    return {
        "model": info.get("model"),
        "params": info.get("params"),
        "train_seconds": info.get("train_seconds"),
        "epochs_run": info.get("epochs_run"),
        "steps_run": info.get("steps_run"),
        "seed": info.get("seed"),
        "hardware": info.get("hardware"),
    }
