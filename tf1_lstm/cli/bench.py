"""`bench` (ms per step of the loop, its threads and kernels) and `bench-engine` (how well the
Dask engine keeps its workers busy): commands that print figures."""

import os

from tf1_lstm.cli import flags
from tf1_lstm.cli.flags import UsageError
from tf1_lstm.core import hparams


def register(commands):
    from tf1_lstm.studies.tools import bench
    loop, engine = bench.BenchOptions(out=None), bench.EngineBench()
    parser = commands.add_parser(
        "bench", help="ms per step: original loop, faithful harness, threads, variants",
        description="Time the original loop, tf1-lstm's faithful loop, thread settings, "
                    "parallel runs, and TF's other LSTM kernels (each proven equal first).")
    parser.add_argument("--steps", type=flags.settings.steps, default=loop.steps,
                        help="steps per timed run; timing starts after step %d (default: "
                             "%%(default)s)" % hparams.LOG_EVERY)
    parser.add_argument("--repeats", type=flags.positive_int, default=loop.repeats,
                        help="runs per row; the median is reported (default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: %d steps, one repeat, no parallel runs"
                             % bench.QUICK_STEPS)
    parser.add_argument("--torch-python", default=None, metavar="PYTHON",
                        help="an interpreter with PyTorch, to time the same model there")
    parser.add_argument("--out", default="bench.json", help="(default: %(default)s)")
    flags.add_data(parser, choose_dataset=False)  # the post's program on the post's data
    parser.set_defaults(func=cmd_bench)

    parser = commands.add_parser(
        "bench-engine", help="the Dask engine's scheduling efficiency and per-run fixed cost",
        description="Train --runs LSTM runs of --steps steps on --jobs local workers; print "
                    "and write the efficiency (train time / workers x wall time) and the fixed "
                    "cost of a run, split into start-up, test-and-save and transfer.")
    parser.add_argument("--runs", type=flags.positive_int, default=engine.runs,
                        help="runs (default: %(default)s)")
    parser.add_argument("--steps", type=flags.settings.steps, default=engine.steps,
                        help="steps per run (default: %(default)s)")
    parser.add_argument("--jobs", type=flags.positive_int, default=engine.jobs,
                        help="local workers (default: %(default)s)")
    parser.add_argument("--out", default="bench-engine.json", help="(default: %(default)s)")
    parser.set_defaults(func=cmd_bench_engine)


def _json_out(path):
    if os.path.isdir(path):
        raise UsageError("--out %s is a directory: give the path of the JSON file to write, "
                         "e.g. %s" % (path, os.path.join(path, "bench.json")))
    flags.writable_dir(os.path.dirname(os.path.abspath(path)), "--out")


def cmd_bench(args):
    from tf1_lstm.studies.tools import bench
    if not args.quick and args.steps <= 2 * hparams.LOG_EVERY:
        raise UsageError("--steps %d leaves nothing to time after the warm-up: use more than %d"
                         % (args.steps, 2 * hparams.LOG_EVERY))
    _json_out(args.out)
    bench.enable_cpu_xla()
    bench.run(bench.BenchOptions(
        out=args.out, steps=args.steps, repeats=args.repeats, quick=args.quick,
        torch_python=args.torch_python, data_dir=args.data_dir, mirrors=tuple(args.mirrors)))
    return 0


def cmd_bench_engine(args):
    from tf1_lstm.studies import engine
    from tf1_lstm.studies.tools import bench
    from tf1_lstm.util.files import write_json
    _json_out(args.out)
    engine.check_jobs(args.jobs)
    found = bench.scheduling(bench.EngineBench(args.runs, args.steps, args.jobs))
    write_json(args.out, found)
    print("wrote %s" % args.out)
    return 0
