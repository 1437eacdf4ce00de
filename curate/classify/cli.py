"""`curate train-classifier NAME --positive SRC... --negative SRC...`: a fastText classifier
for the classify and toxicity stages."""

from __future__ import annotations

import argparse

from curate.classify.sources import __doc__ as SOURCES_DOC
from curate.classify.train import TrainSettings

DEFAULTS = TrainSettings()


def add_train_classifier_parser(commands) -> None:
    parser = commands.add_parser(
        "train-classifier",
        help="train a fastText classifier (quality, toxicity) on labelled text",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a binary fastText classifier: documents from the --positive sources against those of the "
        "--negative sources. A deterministic share (--test-fraction, by a seeded hash of the text) is held "
        "out; precision, recall, F1 (at probability 0.5) and ROC AUC on it are printed and written with "
        "the settings, counts and training time to OUTPUT/NAME.json beside the model OUTPUT/NAME.bin. "
        "Texts are put on one line (newlines and runs of whitespace become one space) as fastText "
        "reads them; the classify and toxicity stages score with the same normalisation.\n\n"
        + SOURCES_DOC.split("\n\n", 1)[1],
    )
    parser.add_argument("name", help="model name: writes NAME.bin (NAME.ftz with --quantize) and NAME.json")
    parser.add_argument(
        "--positive", nargs="+", action="extend", required=True, metavar="SRC", help="sources of positive documents"
    )
    parser.add_argument(
        "--negative", nargs="+", action="extend", required=True, metavar="SRC", help="sources of negative documents"
    )
    parser.add_argument("--output", default="models", help="folder for NAME.bin and NAME.json (default models/)")
    parser.add_argument(
        "--text-field", default="text", help="field/column holding the text when a SRC names none (default text)"
    )
    parser.add_argument(
        "--test-fraction",
        type=float,
        default=DEFAULTS.test_fraction,
        help=f"held-out share (default {DEFAULTS.test_fraction})",
    )
    parser.add_argument("--lowercase", action="store_true", help="lower-case texts before training and scoring")
    parser.add_argument(
        "--strip-markup",
        action="store_true",
        help="remove HTML entities, links, @mentions, 'RT' and '#' before training and scoring (texts from several platforms)",
    )
    parser.add_argument(
        "--quantize",
        type=int,
        metavar="N",
        help="write a compressed NAME.ftz keeping the N most useful words and n-grams (fastText "
        "quantize with retraining; 20000 gives about 1 MB, small enough to ship)",
    )
    for flag, kind, help_text in (
        ("epoch", int, "passes over the training data"),
        ("lr", float, "learning rate"),
        ("word-ngrams", int, "longest word n-gram used as a feature"),
        ("minn", int, "shortest character n-gram used as a feature (0: none)"),
        ("maxn", int, "longest character n-gram (0: none)"),
        ("dim", int, "embedding size"),
        ("bucket", int, "hashed n-gram rows; the model is about (vocabulary + bucket) x dim x 4 bytes"),
        ("min-count", int, "ignore words seen fewer times"),
        ("threads", int, "training threads; only 1 gives the same model on every run"),
        ("seed", int, "seed of the split, the max=N samples and training"),
    ):
        field = flag.replace("-", "_")
        parser.add_argument(
            f"--{flag}",
            type=kind,
            default=getattr(DEFAULTS, field),
            help=f"{help_text} (default {getattr(DEFAULTS, field)})",
        )
    parser.set_defaults(handler=cmd_train_classifier)


def cmd_train_classifier(args) -> int:
    from curate.classify.train import train_classifier

    settings = TrainSettings(
        epoch=args.epoch,
        lr=args.lr,
        word_ngrams=args.word_ngrams,
        minn=args.minn,
        maxn=args.maxn,
        dim=args.dim,
        bucket=args.bucket,
        min_count=args.min_count,
        threads=args.threads,
        seed=args.seed,
        test_fraction=args.test_fraction,
        lowercase=args.lowercase,
        strip_markup=args.strip_markup,
        quantize=args.quantize,
    )
    report = train_classifier(args.name, args.positive, args.negative, args.output, settings, args.text_field)
    print(format_report(report))
    return 0


def format_report(report: dict) -> str:
    lines = [
        f"{s['label']:>8}  {s['documents']:>7} docs  {s['spec']}"
        + (f"  ({s['empty_skipped']} empty skipped)" if s["empty_skipped"] else "")
        for s in report["sources"]
    ]
    train, test, m = report["counts"]["train"], report["counts"]["test"], report["test_metrics"]
    auc = "n/a" if m["roc_auc"] is None else f"{m['roc_auc']:.4f}"
    quantized = "" if report["quantize_seconds"] is None else f", quantized in {report['quantize_seconds']:.1f} s"
    lines += [
        f"train: {train['positive']} positive, {train['negative']} negative; test: {test['positive']} positive, {test['negative']} negative",
        f"trained in {report['train_seconds']:.1f} s{quantized}; model {report['model']} ({report['model_bytes'] / 1e6:.1f} MB)",
        f"held-out: precision {m['precision']:.4f}  recall {m['recall']:.4f}  F1 {m['f1']:.4f}  "
        f"accuracy {m['accuracy']:.4f}  ROC AUC {auc}",
    ]
    return "\n".join(lines)
