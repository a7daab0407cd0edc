"""`s2s-keras demo`: train on the toy corpus offline, score, show samples and attention."""

from __future__ import annotations

from pathlib import Path

from s2s_keras.cli.options import positive


def add_arguments(subparsers) -> None:
    from s2s_keras.demo import MAX_EPOCHS, TARGET_ACCURACY

    parser = subparsers.add_parser("demo", help="offline demo on the built-in toy corpus")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("runs/demo"),
        help="where to write the model and attention.png (default: runs/demo)",
    )
    parser.add_argument(
        "--epochs",
        type=positive(int),
        default=MAX_EPOCHS,
        help=f"the most epochs to train (default: {MAX_EPOCHS}; training stops earlier "
        "once --target-accuracy is reached)",
    )
    parser.add_argument(
        "--target-accuracy",
        type=positive(float),
        default=TARGET_ACCURACY,
        help=f"stop once the validation token accuracy reaches this (default: {TARGET_ACCURACY})",
    )
    parser.add_argument(
        "--pairs",
        type=positive(int),
        default=12000,
        help="toy sentence pairs to generate (default: 12000)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(run=run)


def run(args) -> int:
    from s2s_keras import demo
    from s2s_keras.errors import S2SError

    if args.target_accuracy > 1:
        raise S2SError(f"--target-accuracy must be at most 1, got {args.target_accuracy}")
    demo.run(
        args.out,
        pairs=args.pairs,
        max_epochs=args.epochs,
        target_accuracy=args.target_accuracy,
        seed=args.seed,
    )
    return 0
