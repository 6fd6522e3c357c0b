"""`tf1-lstm evaluate`: where a trained model is right and wrong, per class and per digit."""

import collections
import os

import numpy as np

from tf1_lstm.core import data, datasets, hparams
from tf1_lstm.serving import loader
from tf1_lstm.util.figures import pyplot, save_figure
from tf1_lstm.util.files import ensure_dir, write_json

SPLITS = ("test", "validation")
WORST = 25  # misclassified digits shown, least confident in the true class first


def evaluate(run_dir, split="test", data_dir=None, mirrors=()):
    """Accuracy (computed by the graph's own accuracy op), per-class accuracy, confusion, on
    the data set the run was trained on."""
    with loader.load(run_dir) as loaded:
        source = datasets.get(loaded.record.get("dataset"))
        recorded = loaded.record.get("data_dir")
        if data_dir is None and isinstance(recorded, str) and os.path.isdir(recorded):
            data_dir = recorded  # where the run read its data, unless told otherwise
        dataset = getattr(data.read_data_sets(data_dir, seed=0, mirrors=mirrors,
                                              dataset=source.name), split)
        accuracy = loaded.sess.run(loaded.model.accuracy, {
            loaded.model.X: loader.as_sequences(dataset.images),
            loaded.model.Y_labels: dataset.labels})
        probabilities, predicted = loader.predict(loaded, dataset.images)
    labels = dataset.labels.argmax(axis=1)
    confusion = np.zeros((hparams.N_OUTPUTS, hparams.N_OUTPUTS), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    wrong = np.flatnonzero(predicted != labels)
    p_true = probabilities[np.arange(len(labels)), labels]
    worst = wrong[np.argsort(p_true[wrong], kind="stable")][:WORST]
    return collections.OrderedDict([
        ("run_dir", run_dir), ("dataset", source.name), ("classes", list(source.classes)),
        ("split", split), ("examples", int(len(labels))),
        ("accuracy", float(accuracy)),
        ("per_class_accuracy", [float(confusion[c, c] / max(1, confusion[c].sum()))
                                for c in range(hparams.N_OUTPUTS)]),
        ("confusion", confusion.tolist()),
        ("worst", [collections.OrderedDict([
            ("index", int(i)), ("label", int(labels[i])), ("predicted", int(predicted[i])),
            ("p_label", float(p_true[i])), ("p_predicted", float(probabilities[i, predicted[i]]))])
            for i in worst]),
    ]), dataset.images


def confusion_text(result):
    classes = range(hparams.N_OUTPUTS)
    lines = ["%s accuracy = %.4f on %d %s images" % (result["split"], result["accuracy"],
                                                     result["examples"], result["split"]),
             "", "true \\ predicted " + " ".join("%5d" % c for c in classes) + "   accuracy"]
    names = result.get("classes") or [str(c) for c in classes]
    for c, row in enumerate(result["confusion"]):
        name = "" if names[c] == str(c) else " " + names[c]  # MNIST's names are its digits
        lines.append("%16d " % c + " ".join("%5d" % n for n in row) +
                     "   %.4f%s" % (result["per_class_accuracy"][c], name))
    return "\n".join(lines)


def plot_confusion(result, path):
    plt = pyplot()
    confusion = np.array(result["confusion"])
    fig, ax = plt.subplots(figsize=(6, 5))
    image = ax.imshow(np.log1p(confusion), cmap="Blues")
    for (i, j), n in np.ndenumerate(confusion):
        if n:
            ax.text(j, i, str(n), ha="center", va="center", fontsize=7,
                    color="white" if n > confusion.max() / 4 else "black")
    ax.set_xticks(range(hparams.N_OUTPUTS))
    ax.set_yticks(range(hparams.N_OUTPUTS))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix, %s (accuracy %.4f)" % (result["split"], result["accuracy"]))
    fig.colorbar(image, ax=ax, label="log(1 + count)")
    save_figure(fig, path)


def plot_worst(result, images, path):
    plt = pyplot()
    worst = result["worst"]
    cols = 5
    rows = max(1, int(np.ceil(len(worst) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(1.8 * cols, 2.0 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, item in zip(axes.flat, worst):
        ax.imshow(images[item["index"]].reshape(28, 28), cmap="gray")
        ax.set_title("#%d true %d\npred %d (%.2f)" % (item["index"], item["label"],
                                                      item["predicted"], item["p_predicted"]),
                     fontsize=8)
    fig.suptitle("Least confident misclassified %s digits" % result["split"])
    save_figure(fig, path)


def write(result, images, out):
    """evaluation.json, confusion.png and worst.png into `out` (made if missing)."""
    ensure_dir(out)
    plot_confusion(result, os.path.join(out, "confusion.png"))
    plot_worst(result, images, os.path.join(out, "worst.png"))
    write_json(os.path.join(out, "evaluation.json"), result)
    return out
