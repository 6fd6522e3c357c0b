"""The recurrent cells a run can use, one entry each.

Everything that knows a cell derives it from CELLS: the `--cell` choices and help, the graph's
cell (core.model), which kernels and initial weights it may take, the diagnostics, the figures'
labels and colours, and the post's claims about it. A new cell is one entry here (plus its own
code). No TensorFlow at import: a factory gets the post's API (core.tfcompat) when called.
"""

from typing import Any, Callable, NamedTuple, Optional, Tuple


class Cell(NamedTuple):
    """One recurrent cell."""
    name: str                # --cell value, run-name prefix, config.json's `cell`
    label: str               # how tables, legends and the report's text name it
    code: str                # its class, as the post's code (and the claims) name it
    make: Callable[..., Any]  # (api, units, forget_bias) -> the TF cell object
    help: str                # what --cell NAME is, for the flag's help
    faithful: bool = False   # the post's program uses it (else an ablation variant)
    gated: bool = False      # an LSTM: has the forget gate diagnose reads, and the block and
    #                          fused kernels (--impl)
    op_seeds: Optional[Tuple[int, ...]] = None  # TF 1.15.5's initializer op seeds for the
    #                          post's graph with it (--init-from tf1.15.5); None: not measured
    claim: Optional[str] = None  # the post's claim about it (studies.verdicts.claims); None: none
    color: Optional[str] = None  # its colour in figures (None: matplotlib's next)


def _lstm(api, units, forget_bias):
    return api.rnn.BasicLSTMCell(units, forget_bias=forget_bias, state_is_tuple=True)


def _rnn(api, units, forget_bias):
    return api.rnn.BasicRNNCell(units)


def _irnn(api, units, forget_bias):
    from tf1_lstm.core.irnn import IRNNCell  # subclasses a TF class: defined with TF loaded
    return IRNNCell(units)


# The op seeds are the graph's op count when each random initializer (the cell's kernel, then
# the dense layer's weights) is made under a graph seed in TF 1.15.5; TF 2 counts seeded ops per
# graph instead, so the same --seed draws other weights there. Measured from 1.15.5's graph;
# tests/test_tf_versions.py checks them against it.
LSTM, RNN, IRNN = "lstm", "rnn", "irnn"  # the names studies refer to the cells by
CELLS = (
    Cell(LSTM, "LSTM", "BasicLSTMCell", _lstm, "the post's", faithful=True, gated=True,
         op_seeds=(102, 170), claim="reaches 99%", color="#1f77b4"),
    Cell(RNN, "RNN", "BasicRNNCell", _rnn, "its question", faithful=True,
         op_seeds=(88, 141), claim="cannot train", color="#d62728"),
    Cell(IRNN, "IRNN", "IRNNCell", _irnn, "an ablation: a ReLU RNN started at the identity"),
)

NAMES = tuple(c.name for c in CELLS)
FAITHFUL = tuple(c.name for c in CELLS if c.faithful)  # the post's, in its order: a report's


def get(name):
    """The cell called `name`; ValueError naming the choices otherwise."""
    for cell in CELLS:
        if cell.name == name:
            return cell
    raise ValueError("unknown cell %r: choose one of %s" % (name, ", ".join(NAMES)))


def with_claim(claim):
    """The name of the cell the post makes `claim` about (None if no cell has it)."""
    return next((c.name for c in CELLS if c.claim == claim), None)
