"""The `s2s-keras` command (DESIGN §7).

    s2s-keras demo                        offline: toy corpus, attention model, BLEU,
                                          samples and an attention heatmap
    s2s-keras train --corpus C --out DIR  train and save a model directory
    s2s-keras translate --model DIR [--beam K] [--alpha A] [TEXT ...]   (no TEXT: stdin lines)
                        [--input FILE] [--output FILE]      streamed, line-aligned
    s2s-keras evaluate --model DIR --corpus C [--split test] [--beam K] [--json]
    s2s-keras export --model DIR --out SAVEDMODEL_DIR [--beam K] [--alpha A]
    s2s-keras bench [--quick] [--levers] [--out DIR] [--models NAME ...]   (docs/performance.md)

Bad input gives one line on stderr and exit status 2, never a traceback; so does a file
that cannot be read or written, with status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from s2s_keras import import_tensorflow
from s2s_keras.corpora import CORPORA
from s2s_keras.errors import S2SError

# The same names as s2s_keras.models.MODEL_NAMES (a test checks), kept here so that
# argument errors are reported before TensorFlow loads.
MODELS = ("seq2seq", "bahdanau", "luong-dot", "luong-general", "luong-concat", "transformer")
STRATEGIES = ("default", "mirrored", "multiworker", "tpu")  # s2s_keras.distribute's (tested)


def _number(kind, *, allow_zero=False):
    """An argparse type: a `kind` (int or float) > 0, or >= 0 with `allow_zero`."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if value < 0 or (value == 0 and not allow_zero):
            bound = ">= 0" if allow_zero else "> 0"
            raise argparse.ArgumentTypeError(f"expected a number {bound}, got {text!r}")
        return value

    parse.__name__ = kind.__name__
    return parse


def _positive(kind):
    return _number(kind)


def _non_negative(kind):
    return _number(kind, allow_zero=True)


def _config_override(text):
    """`KEY=VALUE` with VALUE read as JSON when it parses (numbers, true/false), else a string."""
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, e.g. units=256, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _add_decoding_options(parser, default_beam):
    parser.add_argument(
        "--beam",
        type=_positive(int),
        default=default_beam,
        help=f"beam size; 1 is greedy decoding (default: {default_beam})",
    )
    parser.add_argument(
        "--alpha",
        type=_non_negative(float),
        default=0.6,
        help="GNMT length normalisation exponent for beam search (default: 0.6)",
    )


def _decoding_kwargs(args) -> dict:
    if args.beam == 1:
        return {"method": "greedy"}
    return {"method": "beam", "beam_size": args.beam, "alpha": args.alpha}


def _decoding_name(args) -> str:
    return "greedy" if args.beam == 1 else f"beam {args.beam}, alpha {args.alpha}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="s2s-keras",
        description="Sequence-to-sequence translation with Keras 3: train, translate, evaluate.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="offline demo on the built-in toy corpus")
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("runs/demo"),
        help="where to write the model and attention.png (default: runs/demo)",
    )
    demo.add_argument("--epochs", type=_positive(int), default=10)
    demo.add_argument(
        "--pairs",
        type=_positive(int),
        default=12000,
        help="toy sentence pairs to generate (default: 12000)",
    )
    demo.add_argument("--seed", type=int, default=0)

    train = sub.add_parser("train", help="train a model and save it to a directory")
    train.add_argument(
        "--corpus",
        required=True,
        choices=CORPORA,
        metavar="CORPUS",
        help=f"one of: {', '.join(CORPORA)}",
    )
    train.add_argument("--model", default="bahdanau", choices=MODELS, help="(default: bahdanau)")
    train.add_argument(
        "--set",
        type=_config_override,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field of the model's config, e.g. --set units=256 (repeatable)",
    )
    train.add_argument("--out", type=Path, required=True)
    train.add_argument("--epochs", type=_positive(int), default=10)
    train.add_argument("--max-minutes", type=_positive(float), default=None)
    train.add_argument("--batch-size", type=_positive(int), default=64)
    train.add_argument(
        "--vocab-size",
        type=_positive(int),
        default=None,
        help="per-side vocabulary cap (default: every training word)",
    )
    train.add_argument("--max-length", type=_positive(int), default=64)
    train.add_argument(
        "--learning-rate",
        type=_positive(float),
        default=None,
        help="Adam step size (default: 3e-3 for RNNs, 1e-3 for the Transformer)",
    )
    train.add_argument(
        "--warmup-steps",
        type=_positive(int),
        default=None,
        help="linear warm-up then inverse square-root decay (default: constant rate)",
    )
    train.add_argument(
        "--patience",
        type=_positive(int),
        default=None,
        help="stop after this many epochs without a better validation loss; keep the best",
    )
    train.add_argument(
        "--backup-every",
        type=_positive(int),
        default=None,
        metavar="N",
        help="back up the training state to OUT.backup every N batches as well as at "
        "every epoch end; rerun the same command after a crash to resume",
    )
    train.add_argument(
        "--tensorboard",
        type=Path,
        default=None,
        metavar="LOG_DIR",
        help="write TensorBoard logs to LOG_DIR",
    )
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--strategy",
        default="default",
        choices=STRATEGIES,
        help="tf.distribute strategy: mirrored = the GPUs of this machine, multiworker = "
        "several machines (TF_CONFIG on each), tpu (default: one device)",
    )
    train.add_argument(
        "--deterministic",
        action="store_true",
        help="enable TensorFlow op determinism: the same weights on every run with one --seed",
    )
    train.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder with the corpus files (default: $S2S_DATA_DIR, cache, download)",
    )

    translate = sub.add_parser("translate", help="translate text with a trained model")
    translate.add_argument("--model", type=Path, required=True, help="a model directory")
    translate.add_argument("--batch-size", type=_positive(int), default=64)
    _add_decoding_options(translate, default_beam=1)
    translate.add_argument(
        "--input",
        type=Path,
        default=None,
        metavar="FILE",
        help="read one sentence per line from FILE (default: stdin)",
    )
    translate.add_argument(
        "--output",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the translations to FILE (replaced once all are written; default: stdout)",
    )
    translate.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on stderr (default: when reading lines and stderr is a terminal)",
    )
    translate.add_argument(
        "text", nargs="*", help="sentences; none: read one per line from --input or stdin"
    )

    evaluate = sub.add_parser("evaluate", help="BLEU and chrF of a model on a corpus split")
    evaluate.add_argument("--model", type=Path, required=True, help="a model directory")
    evaluate.add_argument(
        "--corpus",
        required=True,
        choices=CORPORA,
        metavar="CORPUS",
        help=f"one of: {', '.join(CORPORA)}",
    )
    evaluate.add_argument("--split", default="test", choices=("train", "validation", "test"))
    evaluate.add_argument("--data-dir", type=Path, default=None)
    evaluate.add_argument("--json", action="store_true", help="print the scores as JSON")
    _add_decoding_options(evaluate, default_beam=1)

    export = sub.add_parser("export", help="write a string-in, string-out SavedModel")
    export.add_argument("--model", type=Path, required=True, help="a model directory")
    export.add_argument("--out", type=Path, required=True, help="the SavedModel directory")
    _add_decoding_options(export, default_beam=4)

    bench = sub.add_parser(
        "bench", help="benchmark suite: training and decoding speed, memory (docs/performance.md)"
    )
    bench.add_argument(
        "--quick", action="store_true", help="toy corpus, tiny models, few steps (CI, < 2 min)"
    )
    bench.add_argument(
        "--levers",
        action="store_true",
        help="measure the levers on/off instead (jit_compile, bucketing, ...): levers.json",
    )
    bench.add_argument("--out", type=Path, default=Path("runs/bench"), help="(default: runs/bench)")
    bench.add_argument(
        "--models",
        nargs="+",
        choices=MODELS,
        default=["seq2seq", "bahdanau", "luong-general", "transformer"],
        metavar="NAME",
        help="(default: seq2seq bahdanau luong-general transformer)",
    )
    bench.add_argument(
        "--train-minutes",
        type=_non_negative(float),
        default=None,
        help="train each model this long for BLEU/chrF; 0: skip (default: 20, quick: 0)",
    )
    bench.add_argument(
        "--steps",
        type=_positive(int),
        default=None,
        help="measured training steps per model (default: 60, quick: 8)",
    )
    bench.add_argument("--data-dir", type=Path, default=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command != "train":  # train checks its corpus before paying for TF
            import_tensorflow()
        return _COMMANDS[args.command](args)
    except S2SError as e:
        print(f"s2s-keras: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("s2s-keras: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`s2s-keras translate < big.txt | head`): stop quietly,
        # and keep Python from failing again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as e:  # a file that cannot be read or written, a full disk, ...
        where = f": {os.fsdecode(e.filename)!r}" if e.filename else ""
        print(f"s2s-keras: error: {e.strerror or e}{where}", file=sys.stderr)
        return 1


def _load_corpus(name, data_dir):
    from s2s_keras.corpora import load_corpus

    return load_corpus(name, data_dir=data_dir)


def _demo(args) -> int:
    start = time.monotonic()
    from s2s_keras import plots
    from s2s_keras.decoding import attention_map
    from s2s_keras.evaluation import corpus_scores
    from s2s_keras.toy import make_toy_corpus
    from s2s_keras.training import train

    corpus = make_toy_corpus(args.pairs, seed=args.seed)
    sizes = corpus.sizes()
    print(
        f"Toy corpus (English → Spanish-like), seed {args.seed}: "
        f"{sizes['train']} train / {sizes['validation']} validation / {sizes['test']} test pairs"
    )
    # Adam at 3e-3 converges in a few epochs but can spike late; keeping the epoch with
    # the best validation loss (EarlyStopping restores it at the end) makes the demo's
    # result independent of where the last epoch happens to land.
    trained, _ = train(corpus, epochs=args.epochs, patience=args.epochs, seed=args.seed, verbose=2)
    print(
        f"Trained {trained.info['params']:,} parameters in {trained.info['train_seconds']} s "
        f"on {trained.info['hardware']}"
    )

    hyps = trained.translate(corpus.test.source, progress=sys.stderr.isatty())
    scores = corpus_scores(hyps, corpus.test.target)
    trained.info["test"] = scores
    print(
        f"\nTest BLEU {scores['bleu']:.1f}  chrF {scores['chrf']:.1f}  "
        f"({scores['sentences']} sentences, greedy decoding)"
    )
    print(f"  BLEU signature: {scores['bleu_signature']}")
    print(f"  chrF signature: {scores['chrf_signature']}")
    print("\nSamples from the test split:")
    for src, ref, hyp in list(zip(corpus.test.source, corpus.test.target, hyps, strict=True))[:5]:
        print(f"  source:    {src}\n  reference: {ref}\n  output:    {hyp}\n")

    out = trained.save(args.out)
    # The longest test sentence shows the adjective–noun reordering best.
    sentence = max(corpus.test.source[:200], key=len)
    src_tokens, out_tokens, weights = attention_map(
        trained.model, trained.source_tokenizer, trained.target_tokenizer, sentence
    )
    figure = plots.attention_heatmap(weights, src_tokens, out_tokens, title=sentence)
    figure.savefig(out / "attention.png", dpi=120)
    print(f"Model saved to {out}/; attention heatmap: {out / 'attention.png'}")
    print(f"Total wall time {time.monotonic() - start:.0f} s")
    return 0


def _train(args) -> int:
    corpus = _load_corpus(args.corpus, args.data_dir)  # fails fast, before TensorFlow loads
    import_tensorflow()
    from s2s_keras import distribute
    from s2s_keras.training import train

    # Before any TensorFlow op: the multi-worker strategy configures collectives at start-up.
    strategy = distribute.make_strategy(args.strategy)
    chief = distribute.is_chief(strategy)

    print(f"{corpus.name}: {corpus.sizes()}")
    from s2s_keras.models import build_model, model_config

    try:
        config = model_config(args.model, **dict(args.set))
        # The layers check their arguments (`units=-2`, `units=abc`): fail before training.
        build_model(config, 8, 8)
    except (TypeError, ValueError) as e:  # an unknown field, or a bad value
        raise S2SError(f"--set: {e}") from None
    backup_dir = args.out.with_name(args.out.name + ".backup")
    trained, _ = train(
        corpus,
        model=args.model,
        config=config,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        warmup_steps=args.warmup_steps,
        batch_size=args.batch_size,
        max_length=args.max_length,
        vocab_size=args.vocab_size,
        max_minutes=args.max_minutes,
        patience=args.patience,
        # Rerunning the same command after a crash resumes from the last backup; it is
        # deleted only once the model is saved, so no kill loses the finished training.
        backup_dir=backup_dir,
        backup_every=args.backup_every,
        keep_backup=chief,  # other workers back up to a folder of their own, deleted at the end
        tensorboard_dir=args.tensorboard,
        seed=args.seed,
        verbose=2,
        strategy=strategy,
        deterministic=args.deterministic,
    )
    if not chief:
        print("Training done; the chief (worker 0) saves the model")
        return 0
    trained.save(args.out)
    shutil.rmtree(backup_dir, ignore_errors=True)
    print(f"Model saved to {args.out}/ ({trained.info['train_seconds']} s of training)")
    return 0


def _translate(args) -> int:
    """Translate in a stream: read a batch of lines, translate, write, flush, repeat.

    Memory stays bounded whatever the input size; a line that arrives alone (typed at a
    terminal, or sent by a slow producer) is translated at once rather than waiting for
    a full batch. Output is line-aligned: one line per input line, empty for empty.
    """
    from tqdm.auto import tqdm

    from s2s_keras.bundle import TrainedModel

    if args.text and args.input:
        raise S2SError("give sentences as arguments or with --input FILE, not both")
    if args.input and not args.input.is_file():
        raise S2SError(f"input file {str(args.input)!r} does not exist or is not a file")
    if args.output and (
        args.output.is_dir() or (args.output.parent.exists() and not args.output.parent.is_dir())
    ):
        raise S2SError(f"cannot write {str(args.output)!r}: it or its parent is not a file path")
    trained = TrainedModel.load(args.model)
    decoding = _decoding_kwargs(args)
    with contextlib.ExitStack() as stack:
        if args.text:
            # Arguments the shell could not decode carry surrogate escapes: back to bytes.
            batches, total = [[os.fsencode(t) for t in args.text]], len(args.text)
            show = bool(args.progress)
        else:
            source = stack.enter_context(open(args.input, "rb")) if args.input else sys.stdin
            batches = _line_batches(source, max_lines=16 * args.batch_size)
            total = _count_lines(args.input) if args.input else None
            show = sys.stderr.isatty() if args.progress is None else args.progress
        out = stack.enter_context(_output(args.output))
        bar = stack.enter_context(
            tqdm(total=total, unit=" lines", desc="translate", disable=not show)
        )
        for lines in batches:
            texts = [_decode_line(line) for line in lines]
            for text in trained.translate(texts, batch_size=args.batch_size, **decoding):
                # A translation is one line, whatever the model emits.
                out.write(" ".join(text.splitlines()).encode("utf-8") + b"\n")
            out.flush()
            bar.update(len(lines))
    return 0


def _decode_line(line: bytes) -> str:
    """One input line: a CRLF file's CR dropped, invalid UTF-8 replaced by U+FFFD."""
    return line.removesuffix(b"\r").decode("utf-8", errors="replace")


def _line_batches(stream, max_lines: int):
    """Lines (bytes, without "\\n") of a binary stream, in lists of at most `max_lines`.

    Reads with `os.read`, which returns what is available: a batch is handed on as soon
    as it is full, or as soon as the input pauses (nothing more is waiting to be read).
    Only "\\n" ends a line, so that "\\r" or U+2028 inside a line cannot misalign the output.
    """
    fd = stream.fileno()
    pending, lines = b"", []
    while _wait_readable(fd) and (data := os.read(fd, 1 << 16)):
        *complete, pending = (pending + data).split(b"\n")
        lines.extend(complete)
        while len(lines) >= max_lines:
            yield lines[:max_lines]
            del lines[:max_lines]
        if lines and not _more_waiting(fd):
            yield lines
            lines = []
    if pending:
        lines.append(pending)  # the last line had no newline
    if lines:
        yield lines


def _wait_readable(fd: int) -> bool:
    """Block until `fd` can be read, waking every 0.2 s so that Ctrl-C is handled.

    A SIGINT that the kernel delivers to one of TensorFlow's threads does not interrupt
    the main thread's blocking `read`; Python runs its handler only when the main thread
    next executes bytecode. Waiting in short `select` calls gives it that chance.
    """
    import select

    try:
        while not select.select([fd], [], [], 0.2)[0]:
            pass
    except (OSError, ValueError):  # no select() on this kind of file (Windows pipes)
        pass
    return True


def _more_waiting(fd: int) -> bool:
    """Whether more input can be read from `fd` at once (always true for a file)."""
    import select

    try:
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):  # no select() on this kind of file (Windows pipes)
        return True


def _count_lines(path: Path) -> int:
    """Lines in a file, read in blocks: the total of the progress bar."""
    count, last = 0, b"\n"
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


@contextlib.contextmanager
def _output(path: Path | None):
    """stdout, or a temporary file beside `path` that replaces it only on success."""
    if path is None:
        yield sys.stdout.buffer
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _evaluate(args) -> int:
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
    corpus = _load_corpus(args.corpus, args.data_dir)
    data = corpus.split(args.split)
    hyps = trained.translate(data.source, progress=sys.stderr.isatty(), **_decoding_kwargs(args))
    scores = {
        "corpus": corpus.name,
        "split": args.split,
        "decoding": _decoding_name(args),
        **corpus_scores(hyps, data.target),
        "by_source_length": bleu_by_length(data.source, hyps, data.target),
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


def _export(args) -> int:
    from s2s_keras.bundle import TrainedModel
    from s2s_keras.export import export_saved_model

    trained = TrainedModel.load(args.model)
    out = export_saved_model(trained, args.out, beam_size=args.beam, alpha=args.alpha)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(
        f"SavedModel written to {out}/ ({size / 1e6:.1f} MB, {_decoding_name(args)}); load it "
        "with `import tensorflow_text` then `tf.saved_model.load`"
    )
    return 0


def _bench(args) -> int:
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


_COMMANDS = {
    "demo": _demo,
    "train": _train,
    "translate": _translate,
    "evaluate": _evaluate,
    "export": _export,
    "bench": _bench,
}

if __name__ == "__main__":
    sys.exit(main())
