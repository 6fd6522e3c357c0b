"""The post's two claims against measured figures: each verdict by a stated rule
(studies.verdicts.rules), tested on both sides of every threshold in the fast tier."""

import collections

from tf1_lstm.core import cells, hparams
from tf1_lstm.studies.verdicts import rules
from tf1_lstm.studies.verdicts.stats import describe
from tf1_lstm.util.text import percent

CLAIMED_TEST_ACCURACY = rules.CLAIMED_TEST_ACCURACY
REPRODUCED_WITHIN = CLAIMED_TEST_ACCURACY - rules.ROUNDS_TO_99  # "about 99%": within 0.5 points


SHORTENED = "not judged (shortened)"
LENGTHENED = "not judged (lengthened)"
LENGTH_RULE = "runs shorter or longer than the claim's program (--steps, --epochs) are not judged"


def not_judged(length, own):
    """The verdict of every claim on runs of `length` steps or epochs where the claim's program
    has `own`: None (judged by the claim's rule) where they are equal."""
    return None if length == own else SHORTENED if length < own else LENGTHENED


def claims(by_cell, chance, steps=hparams.STEPS):
    """The post's claims (core.cells: each cell's) against the measured figures of runs of
    `steps` steps, each with its verdict and rule, for the cells measured."""
    unjudged = not_judged(steps, hparams.STEPS)
    return [JUDGES[c.claim](c, [m["test_accuracy"] for m in by_cell[c.name]], chance, unjudged)
            for c in cells.CELLS if c.claim and c.name in by_cell]


def _accuracy_claim(cell, accs, chance, unjudged=None):
    """The claim's figure by figure_claim's rule, the one every claim of a figure has."""
    return collections.OrderedDict(
        [("claim", "The %s reaches about 99%% test accuracy" % cell.label)] +
        list(figure_claim(CLAIMED_TEST_ACCURACY, accs, unjudged).items()))


def _training_claim(cell, accs, chance, unjudged=None):
    """Three levels, by the one definition of training (studies.verdicts.rules), as the
    ablations judge."""
    outcomes = [rules.outcome(a, chance["accuracy"]) for a in accs]
    counts = collections.OrderedDict((o, outcomes.count(o))
                                     for o in ("at chance", "in between", "learned"))
    if unjudged:
        verdict = unjudged
    elif counts["at chance"] == len(accs):
        verdict = "reproduced"
    elif counts["learned"] * 2 >= len(accs):
        verdict = "not reproduced"
    else:
        verdict = "partly reproduced"
    others = ", ".join("%s %s" % (o, percent(a)) for o, a in zip(outcomes, accs)
                       if o != "at chance")
    return collections.OrderedDict([
        ("claim", "With %s the same program cannot train" % cell.code),
        ("measured", describe(accs)),
        ("per_seed", accs),
        ("chance", chance["accuracy"]),
        ("rule", "reproduced if every seed ends at chance (within %d points of %s, always "
         "guessing %d); not reproduced if at least half the seeds learn (reach %d%%); partly "
         "reproduced otherwise; %s" % (100 * rules.CHANCE_MARGIN, percent(chance["accuracy"]),
                                       chance["class"], 100 * rules.LEARNED_AT_LEAST,
                                       LENGTH_RULE)),
        ("verdict", verdict),
        ("seeds_within", counts["at chance"]),
        ("outcomes", counts),
        ("note", "%d of %d seeds at chance%s" % (counts["at chance"], len(accs),
                                                 "; " + others if others else "")),
    ])


JUDGES = {"reaches 99%": _accuracy_claim, "cannot train": _training_claim}  # by Cell.claim


def figure_claim(claimed, accs, unjudged=None):
    """A claimed test accuracy against the runs (the TF post's "about 99%" and each sister
    post's): reproduced within REPRODUCED_WITHIN. `unjudged` (not_judged's verdict): runs of
    another length than the claim's program, measured, not judged."""
    stats = describe(accs)
    rule = ("reproduced if the mean over seeds is at least the claimed figure minus %.1f "
            "points; %s" % (100 * REPRODUCED_WITHIN, LENGTH_RULE))
    if claimed is None:
        verdict, gap = "no figure claimed", None
    elif unjudged:
        verdict, gap = unjudged, 100 * (claimed - stats["mean"])
    else:
        gap = 100 * (claimed - stats["mean"])
        verdict = "reproduced" if stats["mean"] >= claimed - REPRODUCED_WITHIN else \
            "not reproduced"
    return collections.OrderedDict([("claimed", claimed), ("measured", stats),
                                    ("per_seed", list(accs)), ("rule", rule),
                                    ("verdict", verdict), ("gap_points", gap)])
