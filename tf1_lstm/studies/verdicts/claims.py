"""The post's two claims against measured figures: each verdict by a stated rule
(studies.verdicts.rules), tested on both sides of every threshold in the fast tier."""

import collections

from tf1_lstm.core import cells
from tf1_lstm.studies.verdicts import rules
from tf1_lstm.studies.verdicts.stats import describe
from tf1_lstm.util.text import percent

CLAIMED_TEST_ACCURACY = rules.CLAIMED_TEST_ACCURACY
REPRODUCED_WITHIN = CLAIMED_TEST_ACCURACY - rules.ROUNDS_TO_99  # "about 99%": within 0.5 points


def claims(by_cell, chance):
    """The post's claims (core.cells: each cell's) against the measured figures, each with its
    verdict and rule, for the cells measured."""
    return [JUDGES[c.claim](c, [m["test_accuracy"] for m in by_cell[c.name]], chance)
            for c in cells.CELLS if c.claim and c.name in by_cell]


def _accuracy_claim(cell, accs, chance):
    stats = describe(accs)
    gap = 100 * (CLAIMED_TEST_ACCURACY - stats["mean"])
    held = stats["mean"] >= CLAIMED_TEST_ACCURACY - REPRODUCED_WITHIN
    return collections.OrderedDict([
        ("claim", "The %s reaches about 99%% test accuracy" % cell.label),
        ("measured", stats),
        ("rule", "reproduced if the mean over seeds is at least %.1f%%"
         % (100 * (CLAIMED_TEST_ACCURACY - REPRODUCED_WITHIN))),
        ("verdict", "reproduced" if held else "not reproduced"),
        ("gap_points", gap),
    ])


def _training_claim(cell, accs, chance):
    """Three levels, by the one definition of training (studies.verdicts.rules), as the
    ablations judge."""
    outcomes = [rules.outcome(a, chance["accuracy"]) for a in accs]
    counts = collections.OrderedDict((o, outcomes.count(o))
                                     for o in ("at chance", "in between", "learned"))
    if counts["at chance"] == len(accs):
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
         "reproduced otherwise" % (100 * rules.CHANCE_MARGIN, percent(chance["accuracy"]),
                                   chance["class"], 100 * rules.LEARNED_AT_LEAST)),
        ("verdict", verdict),
        ("seeds_within", counts["at chance"]),
        ("outcomes", counts),
        ("note", "%d of %d seeds at chance%s" % (counts["at chance"], len(accs),
                                                 "; " + others if others else "")),
    ])


JUDGES = {"reaches 99%": _accuracy_claim, "cannot train": _training_claim}  # by Cell.claim


def figure_claim(claimed, accs, shortened=False):
    """A sister post's test accuracy claim against its runs: the same tolerance as the TF
    post's "about 99%" (REPRODUCED_WITHIN). A shortened run is measured, not judged."""
    stats = describe(accs)
    rule = ("reproduced if the mean over seeds is at least the claimed figure minus %.1f "
            "points; runs shortened by --epochs are not judged" % (100 * REPRODUCED_WITHIN))
    if claimed is None:
        verdict, gap = "no figure claimed", None
    elif shortened:
        verdict, gap = "not judged (shortened)", 100 * (claimed - stats["mean"])
    else:
        gap = 100 * (claimed - stats["mean"])
        verdict = "reproduced" if stats["mean"] >= claimed - REPRODUCED_WITHIN else \
            "not reproduced"
    return collections.OrderedDict([("claimed", claimed), ("measured", stats),
                                    ("per_seed", list(accs)), ("rule", rule),
                                    ("verdict", verdict), ("gap_points", gap)])
