"""The report's "Does the TensorFlow version matter?" section: made by --tf, which trains every
run in each environment, so it adds no runs and no flags of its own; its verdicts are drift's."""

import collections

from tf1_lstm.studies.verdicts import claims
from tf1_lstm.studies.verdicts.drift import RULE, compare_cell, interval_text
from tf1_lstm.util.text import percent


def section(by_env, reference, chance, steps):
    """report.json's `tf_versions`: {env: {cell: compare_cell(...)}, claims} for every
    environment, the reference's included (against itself: identical); runs of `steps`."""
    rows = collections.OrderedDict()
    for env, by_cell in by_env.items():
        rows[env] = collections.OrderedDict([
            ("cells", collections.OrderedDict(
                (c, compare_cell(by_env[reference][c], runs)) for c, runs in by_cell.items())),
            ("claims", [collections.OrderedDict([("claim", c["claim"]), ("verdict", c["verdict"])])
                        for c in claims.claims(by_cell, chance, steps)])])
    return collections.OrderedDict([("reference", reference), ("environments", rows),
                                    ("rule", RULE)])


FLAGS = ()


def options(args):
    """True where the report trains in several TensorFlow environments; None otherwise."""
    return True if args.tf else None


def plan(base, asked, report):
    return []


def summarise(finished, asked):
    return section(collections.OrderedDict((env, finished.faithful(env)) for env in finished.envs),
                   finished.envs[0], finished.chance, finished.base.steps)


def plot(section_, out):
    return []


def _bits_text(bits):
    if bits["identical"]:
        return "all %d identical" % bits["runs"]
    return "%d of %d identical; first parts at step %s; largest loss gap %.4f, test %.2f points" % (
        bits["identical_runs"], bits["runs"], bits["first_parting_step"],
        bits["largest_loss_difference"], 100 * bits["largest_test_accuracy_difference"])


def render(section):
    """The report's "Does the TensorFlow version matter?" section."""
    ref = section["reference"]
    lines = ["## Does the TensorFlow version matter?", "",
             "Every run trained again in each TensorFlow environment, same seeds, same thread "
             "count, against `%s`." % ref, "",
             "| environment | cell | bit for bit | mean test accuracy (95% CI) | "
             "difference of means | verdict | ms/step |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for env, row in section["environments"].items():
        for cell, c in row["cells"].items():
            t = c["test_accuracy"]
            ci = (" (%s–%s)" % (percent(t["ci95"][0]), percent(t["ci95"][1]))
                  if t["ci95"] else "")
            lines.append("| %s | %s | %s | %s%s | %s | **%s** | %.1f |" % (
                env, cell, _bits_text(c["bitwise"]), percent(t["mean"]), ci,
                interval_text(c["welch"]), c["verdict"], c["ms_per_step"]))
    claimed = next(iter(section["environments"].values()))["claims"]
    lines += ["", "Rule: %s." % section["rule"], "", "The post's claims in each environment:", "",
              "| environment | %s |" % " | ".join(c["claim"] for c in claimed),
              "| --- |%s" % (" --- |" * len(claimed))]
    for env, row in section["environments"].items():
        lines.append("| %s | %s |" % (env, " | ".join(c["verdict"] for c in row["claims"])))
    return lines + [""]
