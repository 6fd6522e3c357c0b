"""`report` (many seeded runs on Dask, and what they say about the post) and `compare`."""

import os
import shutil
import sys
import time

from tf1_lstm.cli import flags
from tf1_lstm.cli.flags import UsageError
from tf1_lstm.core import datasets
from tf1_lstm.util import interrupts, tfenvs


def register(commands):
    _report_parser(commands)
    _compare_parser(commands)
    _verify_parser(commands)


def _report_parser(commands):
    from tf1_lstm.studies import report, sections
    defaults = report.ReportOptions(out=None)
    parser = commands.add_parser(
        "report", help="many seeds, LSTM vs RNN, verdicts on the post's claims",
        description="Train every (cell, seed) with the faithful program and write report.md, "
                    "report.json and figures. Rerun with the same --out to resume.")
    parser.add_argument("--seeds", type=flags.positive_int, default=defaults.seeds,
                        help="seeds 0..N-1 (default: %(default)s)")
    parser.add_argument("--cells", type=flags.cells, default=list(defaults.cells),
                        help="comma-separated cells (default: %s)" % ",".join(defaults.cells))
    parser.add_argument("--steps", type=flags.settings.steps, default=defaults.steps,
                        help="training steps per run (default: %(default)s)")
    _cluster_flags(parser)
    parser.add_argument("--no-repeat", action="store_true",
                        help="skip the determinism check (one seed trained twice)")
    parser.add_argument("--no-throughput", action="store_true",
                        help="skip measuring parallel against single-run throughput")
    for section in sections.SECTIONS:
        for name, options in section.flags:
            parser.add_argument(name, **options)
    parser.add_argument("--tf", type=flags.tf_envs, default=(), metavar="VERSIONS",
                        help="train every run in each of these TensorFlow environments "
                             "(comma-separated names or versions, each set up with ./run setup "
                             "--tf NAME; known here: %s) and add the section comparing them "
                             "with %s" % (", ".join(tfenvs.known()), tfenvs.DEFAULT))
    flags.add_settings(parser, ("init_from",))
    flags.add_data(parser)
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="report directory (default: reports/<time>/)")
    parser.set_defaults(func=cmd_report)


def _cluster_flags(parser):
    """Where the report's runs train: workers, the cluster kinds (and their own flags), a
    scheduler, threads per run."""
    from tf1_lstm.studies.engine import clusters
    parser.add_argument("--jobs", type=flags.positive_int, default=None,
                        help="workers, each training one run at a time (default: one per core "
                             "here; the embedded Dask cluster takes at most two per core); with "
                             "a --cluster kind that asks a queue, the jobs asked of it")
    kinds = [clusters.get(name) for name in clusters.offered()]
    parser.add_argument("--cluster", choices=[k.name for k in kinds], default=clusters.DEFAULT,
                        help="where the workers run without --scheduler: %s" % " or ".join(
                            "%s (%s)" % (k.name, k.help) for k in kinds))
    for kind in kinds:
        for name, options in kind.flags:
            parser.add_argument(name, **options)
    parser.add_argument("--scheduler", type=flags.address, default=None, metavar="ADDRESS",
                        help="run on the Dask cluster at ADDRESS (tcp://HOST:PORT or "
                             "tls://HOST:PORT; also $DASK_SCHEDULER_ADDRESS) instead of an "
                             "embedded one")
    parser.add_argument("--threads", type=flags.settings.threads, default=None,
                        help="TF threads per run (default: cores / jobs; 1 on a cluster)")


def _compare_parser(commands):
    compare = commands.add_parser(
        "compare", help="compare two reports (e.g. the container's and a local one)",
        description="Side by side: settings, claims, per-run test accuracy, versions, "
                    "hardware and data checksums of two report.json files (or their dirs).")
    compare.add_argument("a", metavar="REPORT_A")
    compare.add_argument("b", metavar="REPORT_B")
    compare.add_argument("more", metavar="REPORT", nargs="*",
                         help="more reports for the claims-by-machine-class table")
    compare.set_defaults(func=cmd_compare)


def _verify_parser(commands):
    from tf1_lstm.studies.tools import verify
    defaults = verify.VerifyOptions(report=None)
    check = commands.add_parser(
        "verify", help="can this machine reproduce a report? train a sample again, compare",
        description="Train a sample of a report's runs again (by default their first steps) "
                    "with the settings and TensorFlow environment each recorded, compare every "
                    "printed value bit for bit, and explain a difference from the runs' "
                    "fingerprints. Exit 0: identical; 1: differs; 2: bad input.")
    check.add_argument("report", metavar="REPORT", help="a report folder (or its report.json)")
    check.add_argument("--runs", type=flags.positive_int, default=defaults.runs,
                       help="runs to train again, across the cells (default: %(default)s)")
    check.add_argument("--steps", type=flags.settings.steps, default=defaults.steps,
                       help="steps of each (default: %(default)s, three logged points)")
    check.add_argument("--full", action="store_true",
                       help="train whole runs and compare the test accuracy too")
    check.add_argument("--set-up", action="store_true",
                       help="also verify runs of TensorFlow environments not set up here, "
                            "setting them up first (as report --tf does)")
    check.add_argument("--jobs", type=flags.positive_int, default=None,
                       help="runs at once (default: one per core)")
    check.add_argument("--present-caches", action="store_true",
                       help="train under the cache sizes the runs recorded, presented to CPUID "
                            "(Intel CPUs with cpuid_fault, a C compiler): makes the sizes "
                            "equal, not another vendor's approximate instructions")
    check.add_argument("--no-record", dest="record", action="store_false",
                       help="keep no verification record (by default one is added to the "
                            "report's verifications/ where the folder is writable)")
    check.add_argument("--plan", action="store_true",
                       help="train nothing: say what this machine should find, from the "
                            "report's verification records and the classes its runs were made on")
    flags.add_data(check, choose_dataset=False)
    check.set_defaults(func=cmd_verify)


def cmd_report(args):
    from tf1_lstm.studies import sections
    from tf1_lstm.studies.engine import clusters
    out = args.out or os.path.join("reports", time.strftime("%Y%m%d-%H%M%S"))
    scheduler = args.scheduler = clusters.address(args.scheduler)
    if args.cluster != clusters.DEFAULT and scheduler:
        raise UsageError("--cluster %s starts a cluster of its own, --scheduler (or "
                         "DASK_SCHEDULER_ADDRESS) uses one that runs: give one of them"
                         % args.cluster)
    for name in clusters.offered():
        given = [flag for flag, _ in clusters.get(name).flags
                 if getattr(args, clusters.dest(flag)) is not None]
        if given and name != args.cluster:
            raise UsageError("%s is for --cluster %s" % (given[0], name))
    if args.jobs and not scheduler:
        clusters.get(args.cluster).check(args.jobs)
    alone = [s.alone for s in sections.SECTIONS if s.alone and s.options(args) is not None]
    if args.tf and alone:
        raise UsageError("--tf compares the faithful runs across TensorFlow versions: make the "
                         "%s section%s in a report of their own"
                         % (" and ".join(alone), "s" if len(alone) > 1 else ""))
    logs = [("logs", k.log_folder) for k in map(clusters.get, clusters.KINDS) if k.log_folder]
    created = [path for path in (os.path.join(out, *parts) for parts in logs + [
        ("logs",), ("runs",)]) if not os.path.lexists(path)]
    created += _missing_dirs(out)
    try:
        flags.writable_dir(out, "--out")
        return _report(args, out)
    finally:
        for path in created:  # made by this command, still empty: a refused start
            if os.path.isdir(path) and not os.path.islink(path) and not os.listdir(path):
                os.rmdir(path)


def _missing_dirs(path):
    """`path` and those of its parents that do not exist yet, deepest first."""
    missing = []
    path = os.path.abspath(path)
    while not os.path.lexists(path):
        missing.append(path)
        path = os.path.dirname(path)
    return missing


def _options(args, out):
    from tf1_lstm.studies import report, sections
    from tf1_lstm.studies.engine import clusters
    return report.ReportOptions(
        out=out, seeds=args.seeds, cells=tuple(args.cells), steps=args.steps, jobs=args.jobs,
        threads=args.threads, repeat=not args.no_repeat, throughput=not args.no_throughput,
        sections={s.key: s.options(args) for s in sections.SECTIONS}, data_dir=args.data_dir,
        mirrors=tuple(args.mirrors), scheduler=args.scheduler, cluster=args.cluster,
        cluster_options={clusters.dest(flag): getattr(args, clusters.dest(flag))
                         for flag, _ in clusters.get(args.cluster).flags},
        dataset=args.dataset or datasets.MNIST.name, tf=tuple(args.tf),
        init_from=args.init_from or flags.settings.OWN_SEEDS)


def _report(args, out):
    from tf1_lstm.studies import report
    try:
        report.build_report(_options(args, out))
    except OSError as err:  # out of space, or the disk failed under a write
        raise UsageError(_write_failed(err, out))
    except KeyboardInterrupt as err:
        interrupts.unwind_quietly(err)
        print("tf1-lstm report: interrupted; finished runs are kept: rerun with --out %s to "
              "resume" % out, file=sys.stderr)
        return 130
    return 0


def _write_failed(err, out):
    """One line for a write that failed in a report: what, why, what is kept, what to do."""
    try:
        free = "%.1f MB free there" % (shutil.disk_usage(out).free / 1e6)
    except OSError:
        free = "free space unknown"
    return ("could not write %s (%s); finished runs are kept under %s (%s): make room and rerun "
            "with --out %s to resume" % (err.filename or "a file of the report",
                                         err.strerror or err, os.path.join(out, "runs"), free,
                                         out))


def cmd_compare(args):
    from tf1_lstm.studies.tools import compare
    for path in [args.a, args.b] + args.more:
        if not os.path.exists(path):
            raise UsageError("%s does not exist: pass a report.json or its directory" % path)
    print("\n".join(compare.compare(args.a, args.b, *args.more)))
    return 0


def cmd_verify(args):
    from tf1_lstm.studies.tools import verify
    folder = ((os.path.dirname(args.report) or os.curdir) if args.report.endswith(".json")
              else args.report)
    if not os.path.isdir(folder):
        raise UsageError("%s is not a folder: pass a report folder `tf1-lstm report` wrote"
                         % args.report)
    if args.plan:
        print("verify --plan: %s" % verify.plan(folder))
        return 0
    options = verify.VerifyOptions(report=folder, runs=args.runs, steps=args.steps,
                                   full=args.full, set_up=args.set_up, data_dir=args.data_dir,
                                   mirrors=tuple(args.mirrors), jobs=args.jobs,
                                   present_caches=args.present_caches, record=args.record)
    try:
        status, lines = verify.verify(options)
    except KeyboardInterrupt as err:
        interrupts.unwind_quietly(err)
        print("tf1-lstm verify: interrupted; nothing was written", file=sys.stderr)
        return 130
    print("\n".join(lines))
    return status
