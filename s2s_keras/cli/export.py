"""`s2s-keras export`: write a string-in, string-out SavedModel of a model directory."""

from __future__ import annotations

from pathlib import Path

from s2s_keras.cli.options import add_decoding_options, decoding_name


def add_arguments(subparsers) -> None:
    parser = subparsers.add_parser("export", help="write a string-in, string-out SavedModel")
    parser.add_argument("--model", type=Path, required=True, help="a model directory")
    parser.add_argument("--out", type=Path, required=True, help="the SavedModel directory")
    add_decoding_options(parser, default_beam=4)
    parser.set_defaults(run=run)


def run(args) -> int:
    from s2s_keras.bundle import TrainedModel
    from s2s_keras.export import export_saved_model

    trained = TrainedModel.load(args.model)
    out = export_saved_model(
        trained, args.out, beam_size=args.beam, alpha=args.alpha, max_repeats=args.max_repeats
    )
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(
        f"SavedModel written to {out}/ ({size / 1e6:.1f} MB, {decoding_name(args)}); load it "
        "with `import tensorflow_text` then `tf.saved_model.load`"
    )
    return 0
