"""`s2s-keras train`: train a model on a corpus and save its directory; resumable."""

from __future__ import annotations

import shutil
from pathlib import Path

from s2s_keras import import_tensorflow
from s2s_keras.cli.options import (
    MODELS,
    STRATEGIES,
    add_corpus_option,
    config_override,
    load_corpus,
    positive,
)
from s2s_keras.errors import S2SError


def add_arguments(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train a model and save it to a directory")
    add_corpus_option(parser)
    parser.add_argument("--model", default="bahdanau", choices=MODELS, help="(default: bahdanau)")
    parser.add_argument(
        "--set",
        type=config_override,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field of the model's config, e.g. --set units=256 (repeatable)",
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=positive(int), default=10)
    parser.add_argument(
        "--steps",
        type=positive(int),
        default=None,
        help="train for N optimizer steps instead of --epochs (validated every 1000)",
    )
    parser.add_argument(
        "--temperature",
        type=positive(float),
        default=None,
        help="sampling over the directions of a multilingual corpus, p ~ size^(1/T) (default: 5)",
    )
    parser.add_argument("--max-minutes", type=positive(float), default=None)
    parser.add_argument("--batch-size", type=positive(int), default=64)
    parser.add_argument(
        "--vocab-size",
        type=positive(int),
        default=None,
        help="per-side vocabulary cap (default: every training word)",
    )
    parser.add_argument(
        "--tokenizer",
        default=None,
        choices=("word", "character", "wordpiece"),
        help="per-side tokens (default: words for RNNs, WordPiece for the Transformer; "
        "a Chinese side's words are its characters)",
    )
    parser.add_argument("--max-length", type=positive(int), default=64)
    parser.add_argument(
        "--learning-rate",
        type=positive(float),
        default=None,
        help="Adam step size (default: 3e-3 for RNNs, 1e-3 for the Transformer)",
    )
    parser.add_argument(
        "--warmup-steps",
        type=positive(int),
        default=None,
        help="linear warm-up then inverse square-root decay (default: constant rate)",
    )
    parser.add_argument(
        "--patience",
        type=positive(int),
        default=None,
        help="stop after this many epochs without a better validation loss; keep the best",
    )
    parser.add_argument(
        "--backup-every",
        type=positive(int),
        default=None,
        metavar="N",
        help="back up the training state to OUT.backup every N batches as well as at "
        "every epoch end; rerun the same command after a crash to resume",
    )
    parser.add_argument(
        "--tensorboard",
        type=Path,
        default=None,
        metavar="LOG_DIR",
        help="write TensorBoard logs to LOG_DIR",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--strategy",
        default="default",
        choices=STRATEGIES,
        help="tf.distribute strategy: mirrored = the GPUs of this machine, multiworker = "
        "several machines (TF_CONFIG on each), tpu (default: one device)",
    )
    parser.add_argument(
        "--deterministic",
        action="store_true",
        help="enable TensorFlow op determinism: the same weights on every run with one --seed",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder with the corpus files (default: $S2S_DATA_DIR, cache, download)",
    )
    parser.set_defaults(run=run)


def run(args) -> int:
    corpus = load_corpus(args.corpus, args.data_dir)  # fails fast, before TensorFlow loads
    import_tensorflow()
    from s2s_keras import distribute
    from s2s_keras.training import train

    # Before any TensorFlow op: the multi-worker strategy configures collectives at start-up.
    strategy = distribute.make_strategy(args.strategy)
    chief = distribute.is_chief(strategy)

    print(f"{corpus.name}: {corpus.sizes()}")
    if hasattr(corpus, "direction_sizes"):  # a multilingual corpus
        print(f"  training pairs by direction: {corpus.direction_sizes('train')}")
    settings = _settings(args, strategy)
    backup_dir = args.out.with_name(args.out.name + ".backup")
    trained, _ = train(
        corpus,
        settings,
        # Rerunning the same command after a crash resumes from the last backup; it is
        # deleted only once the model is saved, so no kill loses the finished training.
        backup_dir=backup_dir,
        backup_every=args.backup_every,
        keep_backup=chief,  # other workers back up to a folder of their own, deleted at the end
        tensorboard_dir=args.tensorboard,
        verbose=2,
    )
    if not chief:
        print("Training done; the chief (worker 0) saves the model")
        return 0
    trained.save(args.out)
    shutil.rmtree(backup_dir, ignore_errors=True)
    print(f"Model saved to {args.out}/ ({trained.info['train_seconds']} s of training)")
    return 0


def _settings(args, strategy):
    """The `TrainSettings` of the command line, checked before any training."""
    from s2s_keras.models import build_model, model_config
    from s2s_keras.training import TrainSettings

    try:
        config = model_config(args.model, **dict(args.set))
        # The layers check their arguments (`units=-2`, `units=abc`): fail before training.
        build_model(config, 8, 8)
    except (TypeError, ValueError) as e:  # an unknown field, or a bad value
        raise S2SError(f"--set: {e}") from None
    try:
        return TrainSettings(
            model=args.model,
            config=config,
            epochs=args.epochs,
            batch_size=args.batch_size,
            max_length=args.max_length,
            vocab_size=args.vocab_size,
            tokenizer=args.tokenizer,
            learning_rate=args.learning_rate,
            warmup_steps=args.warmup_steps,
            max_minutes=args.max_minutes,
            patience=args.patience,
            seed=args.seed,
            strategy=strategy,
            deterministic=args.deterministic,
            steps=args.steps,
            temperature=args.temperature,
        )
    except ValueError as e:  # e.g. a negative --seed, or --set attention=... of another model
        raise S2SError(str(e)) from None
