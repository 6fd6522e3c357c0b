"""Where a study's workers run: one module per kind of cluster, one entry in KINDS.

A kind owns how its Dask cluster starts and ends (and what watches it), how progress lines and
report.json's engine block name it, its own flags, and where a worker finds its job id. A new
kind (PBS through dask-jobqueue, say) is one module with a Kind subclass and one line below.
"""

import collections
import importlib
import os

from tf1_lstm.util.errors import ToolError

# name -> "module:class" (imported when used: a kind may need packages others do not)
KINDS = collections.OrderedDict([
    ("local", "tf1_lstm.studies.engine.clusters.local:Local"),
    ("scheduler", "tf1_lstm.studies.engine.clusters.scheduler:Scheduler"),
    ("slurm", "tf1_lstm.studies.engine.clusters.slurm:Slurm"),
])
DEFAULT = "local"  # what a study starts without --cluster or --scheduler
PRELOAD = "tf1_lstm.studies.engine.worker_logs"  # each worker of a kind that starts workers
#                                                  preloads it: its logs muted, as the client's


def address(given=None):
    """The running scheduler a study uses: --scheduler's, else Dask's own setting
    (DASK_SCHEDULER_ADDRESS, or Dask's config); None: a cluster of the study's own. The one
    place this is decided: the kind, its threads per run (part of a run's reuse key) and the
    engine's connection all follow it."""
    if given:
        return given
    try:
        import dask
    except ImportError:  # an environment without Dask runs no study (engine.Engine says so)
        return os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    return dask.config.get("scheduler-address", None) or None


class Kind:
    """One kind of cluster. The class attributes say what it is; an instance starts one."""
    name = ""                   # what --cluster takes; report.json's engine.cluster records it
    help = ""                   # its words in --cluster's help
    offered = True              # a --cluster choice (the scheduler kind comes with --scheduler)
    flags = ()                  # (flag, argparse options) of its own, refused with another kind
    one_core_per_worker = True  # each worker a job of one core: runs take 1 thread by default
    asks_for_jobs = False       # starting costs a queue something: not started without runs
    throughput = True           # the report's throughput runs train on it (not on jobs of one core)
    job_env = None              # the environment variable holding a worker's job id, if any
    log_folder = None           # its job logs' folder under <out>/logs, if it writes any

    def __init__(self, jobs, address=None, logs=None, options=None):
        self.jobs = jobs                  # workers asked for (None: the kind's default)
        self.address = address            # the scheduler's address, for the scheduler kind
        self.logs = logs                  # where its job logs go (a folder), if any
        self.options = dict(options or {})  # {dest: value} of its own flags

    @classmethod
    def check(cls, jobs):
        """ToolError before anything starts if this kind cannot have `jobs` workers."""

    def start(self, engine):
        """Set engine.cluster (None for one that runs already) and engine.client, each as soon
        as it exists (so that closing the engine ends a half start); ToolError if it cannot."""
        raise NotImplementedError

    def end(self, cluster):
        """Before the client and cluster close: what the kind must undo first."""

    def where(self):
        """Where the runs train, for a progress line."""
        return self.name

    def scheduler(self):
        """The engine block's `scheduler`: where the scheduler runs."""
        return "in this process"

    def recorded_jobs(self):
        """The engine block's `jobs`: what was asked of a queue (None: nothing was)."""
        return None


def get(name):
    """The Kind class registered as `name`."""
    if name not in KINDS:
        raise ToolError("no cluster kind %r: choose one of %s" % (name, ", ".join(offered())))
    module, _, cls = KINDS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def dest(flag):
    """The options key of a kind's flag: --slurm-wait -> slurm_wait."""
    return flag.lstrip("-").replace("-", "_")


def offered():
    """The kinds --cluster offers."""
    return [name for name in KINDS if get(name).offered]


def job_id():
    """The job id of this worker from whichever kind's variable holds one (None: no job)."""
    for name in KINDS:
        env = get(name).job_env
        if env and os.environ.get(env):
            return os.environ[env]
    return None
