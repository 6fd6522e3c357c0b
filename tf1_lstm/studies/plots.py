"""The report's two figures: learning curves per cell, and test accuracy per seed."""

import numpy as np

from tf1_lstm.core import cells
from tf1_lstm.studies.verdicts.claims import CLAIMED_TEST_ACCURACY
from tf1_lstm.util.figures import pyplot, save_figure


def curves(by_cell, path):
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for cell, runs in sorted(by_cell.items()):
        steps = [p["step"] for p in runs[0]["curve"]]
        for key, ax in zip(("train_accuracy", "loss"), axes):
            series = np.array([[p[key] for p in m["curve"]] for m in runs])
            for row in series:
                ax.plot(steps, row, color=cells.get(cell).color, linewidth=0.6, alpha=0.45)
            ax.plot(steps, series.mean(axis=0), color=cells.get(cell).color, linewidth=2.2,
                    label="%s (mean of %d seeds)" % (cells.get(cell).label, len(runs)))
    axes[0].set_ylabel("train accuracy (current batch)")
    axes[1].set_ylabel("loss (current batch)")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("Learning curves: each seed thin, the mean bold")
    save_figure(fig, path, dpi=110)


def test_accuracy(by_cell, chance, path):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    shown = [cells.get(name) for name in sorted(by_cell)]
    for i, cell in enumerate(shown):
        accs = [100 * m["test_accuracy"] for m in by_cell[cell.name]]
        ax.scatter([i] * len(accs), accs, color=cell.color, zorder=3)
        ax.hlines(np.mean(accs), i - 0.25, i + 0.25, color=cell.color, linewidth=2)
    ax.axhline(100 * CLAIMED_TEST_ACCURACY, color="gray", linestyle="--",
               label="claimed 99%")
    ax.axhline(100 * chance["accuracy"], color="gray", linestyle=":", label="chance")
    ax.set_xticks(range(len(shown)))
    ax.set_xticklabels([c.label for c in shown])
    ax.set_xlim(-0.7, len(shown) - 0.3)
    ax.set_ylim(0, 101)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Test accuracy per seed (bar: mean)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="center right")
    save_figure(fig, path, dpi=110)
