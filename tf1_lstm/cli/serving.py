"""`evaluate`, `predict` and `export`: a finished run, used."""

import json
import os

from tf1_lstm.cli import flags
from tf1_lstm.cli.flags import UsageError
from tf1_lstm.core import datasets


def register(commands):
    evaluate = commands.add_parser(
        "evaluate", help="accuracy, per-class accuracy, confusion matrix, worst digits",
        description="Evaluate a run's final weights; figures go to RUN_DIR/evaluate-<split>/.")
    evaluate.add_argument("run_dir", metavar="RUN_DIR")
    evaluate.add_argument("--split", choices=("test", "validation"), default="test")
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of text")
    evaluate.add_argument("--out", default=None, metavar="DIR", dest="results_dir",
                          help="where to write evaluation.json and the figures (default: "
                               "RUN_DIR/evaluate-<split>/)")
    flags.add_data(evaluate, choose_dataset=False)
    evaluate.set_defaults(func=cmd_evaluate)

    predict = commands.add_parser(
        "predict", help="classify PNG/JPEG images of digits",
        description="Classify images of any size: grayscale, MNIST polarity (white on black; "
                    "detected from the border unless --invert/--no-invert), 28x28.")
    predict.add_argument("run_dir", metavar="RUN_DIR")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    polarity = predict.add_mutually_exclusive_group()
    polarity.add_argument("--invert", dest="invert", action="store_const", const=True,
                          default=None, help="always invert (dark digit on light background)")
    polarity.add_argument("--no-invert", dest="invert", action="store_const", const=False,
                          help="never invert (already white on black)")
    predict.add_argument("--json", action="store_true", help="print JSON instead of text")
    predict.set_defaults(func=cmd_predict)

    export = commands.add_parser(
        "export", help="write a SavedModel for TF Serving",
        description="Write RUN_DIR's final weights as a SavedModel: signature serving_default, "
                    "images [N,28,28] float32 -> probabilities [N,10], classes [N].")
    export.add_argument("run_dir", metavar="RUN_DIR")
    export.add_argument("export_dir", metavar="OUT")
    export.set_defaults(func=cmd_export)


def cmd_evaluate(args):
    from tf1_lstm.serving import evaluate
    flags.check_run_dir(args.run_dir)
    results_dir = args.results_dir or os.path.join(args.run_dir, "evaluate-%s" % args.split)
    if args.results_dir:
        flags.writable_dir(results_dir, "--out")
    result, images = evaluate.evaluate(args.run_dir, args.split, args.data_dir, args.mirrors)
    print(json.dumps(result, indent=2) if args.json else evaluate.confusion_text(result))
    try:
        evaluate.write(result, images, results_dir)
    except OSError as err:  # the results are printed above: only the files are missing
        raise UsageError("could not write the results into %s (%s): pass --out DIR"
                         % (results_dir, err.strerror or err))
    if not args.json:
        print("\nwrote %s/{evaluation.json,confusion.png,worst.png}" % results_dir)
    return 0


def cmd_predict(args):
    from tf1_lstm.serving import images as image_files
    from tf1_lstm.serving import loader
    flags.check_run_dir(args.run_dir)
    images, inverted = image_files.load_images(args.images, args.invert)
    with loader.load(args.run_dir) as loaded:
        probabilities, classes = loader.predict(loaded, images)
        names = datasets.get(loaded.record.get("dataset")).classes
    rows = [{"image": path, "label": int(c), "class": names[int(c)], "inverted": flip,
             "probabilities": [round(float(p), 6) for p in probs]}
            for path, c, flip, probs in zip(args.images, classes, inverted, probabilities)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        named = "" if row["class"] == str(row["label"]) else " %s" % row["class"]
        print("%s: %d%s  (%s)" % (row["image"], row["label"], named, " ".join(
            "%d:%.3f" % (d, p) for d, p in enumerate(row["probabilities"]))))
    return 0


def cmd_export(args):
    from tf1_lstm.serving import loader
    flags.check_run_dir(args.run_dir)
    if os.path.lexists(args.export_dir):
        raise UsageError("%s already exists: choose a new export directory" % args.export_dir)
    parent = os.path.dirname(os.path.abspath(args.export_dir))
    flags.writable_dir(parent, "the parent of OUT")
    name_max = os.pathconf(parent, "PC_NAME_MAX")
    if len(os.fsencode(os.path.basename(os.path.abspath(args.export_dir)))) > name_max:
        raise UsageError("OUT's name is longer than the %d bytes a name may have there: choose "
                         "a shorter one" % name_max)
    print("wrote SavedModel %s" % loader.export_saved_model(args.run_dir, args.export_dir))
    return 0
