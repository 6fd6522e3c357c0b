"""Figures on servers and in CI: matplotlib without a display, saved atomically."""

from tf1_lstm.util.files import atomic_path


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no display on servers or in CI)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path, dpi=100):
    """Write a figure as PNG atomically, then free it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)
