"""`s2s-keras bench`: the benchmark suite of docs/performance.md (`s2s_keras.bench`)."""

from __future__ import annotations

from pathlib import Path

from s2s_keras.cli.options import MODELS, non_negative, positive


def add_arguments(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench", help="benchmark suite: training and decoding speed, memory (docs/performance.md)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="toy corpus, tiny models, few steps (CI, < 2 min)"
    )
    parser.add_argument(
        "--levers",
        action="store_true",
        help="measure the levers on/off instead (jit_compile, bucketing, ...): levers.json",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("runs/bench"), help="(default: runs/bench)"
    )
    parser.add_argument(
        "--models",
        nargs="+",
        choices=MODELS,
        default=["seq2seq", "bahdanau", "luong-general", "transformer"],
        metavar="NAME",
        help="(default: seq2seq bahdanau luong-general transformer)",
    )
    parser.add_argument(
        "--train-minutes",
        type=non_negative(float),
        default=None,
        help="train each model this long for BLEU/chrF; 0: skip (default: 20, quick: 0)",
    )
    parser.add_argument(
        "--steps",
        type=positive(int),
        default=None,
        help="measured training steps per model (default: 60, quick: 8)",
    )
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.set_defaults(run=run)


def run(args) -> int:
    from s2s_keras import bench

    settings = bench.with_overrides(
        bench.QUICK if args.quick else bench.FULL,
        steps=args.steps,
        train_minutes=args.train_minutes,
        data_dir=None if args.data_dir is None else str(args.data_dir),
    )
    if args.levers:
        report = bench.run_levers(settings, args.out, args.models)
        print("\n".join(bench.lever_lines(report)))
        print(f"Written {args.out / 'levers.json'}")
    else:
        report = bench.run(settings, args.out, args.models)
        print(bench.markdown_table(report))
        print(f"Written {args.out / 'bench.json'} and {args.out / 'bench.md'}")
    return 0
