"""The embedded cluster: one single-threaded Dask worker process per job, on this machine."""

import contextlib
import logging
import signal

from tf1_lstm.studies.engine import clusters
from tf1_lstm.studies.engine.clusters import Kind
from tf1_lstm.util import environment, interrupts, scratch
from tf1_lstm.util.errors import ToolError

MEMORY_PER_JOB = 1 << 30  # bytes a local worker and its training process may need at most


class Local(Kind):
    name = "local"
    help = "an embedded Dask cluster, the default"
    one_core_per_worker = False  # the cores are shared out: cores / jobs threads per run

    @classmethod
    def check(cls, jobs):
        check_jobs(jobs)

    def start(self, engine):
        import dask
        import distributed
        if dask.config.get("distributed.comm.require-encryption", False):
            raise ToolError("DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION is set, but the embedded "
                            "cluster talks over loopback without TLS: unset it, or start a TLS "
                            "cluster and pass --scheduler tls://HOST:PORT")
        jobs = check_jobs(self.jobs or environment.schedulable_cpus() or 1)
        with interrupts.deferred(), _ctrl_c_held():  # a stop waits until it can be closed
            engine.scratch = scratch.make("dask")  # the workers' space, not the user's folder
            engine.cluster = distributed.LocalCluster(
                n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None,
                silence_logs=logging.CRITICAL, local_directory=engine.scratch,
                preload=[clusters.PRELOAD])
            engine.client = distributed.Client(engine.cluster)

    def where(self):
        return "a local cluster"

    def scheduler(self):
        return "local"


def max_local_jobs():
    """(most local workers this machine can run at once, the reason): two per core, and
    MEMORY_PER_JOB of the memory available for each."""
    cores = environment.schedulable_cpus() or 1
    available = environment.available_memory()
    by_memory = available // MEMORY_PER_JOB if available else 2 * cores
    limit = max(1, min(2 * cores, by_memory))
    return limit, "%d cores, %.1f GiB available, %d GiB per job" % (
        cores, (available or 0) / float(1 << 30), MEMORY_PER_JOB >> 30)


def check_jobs(jobs):
    """`jobs` if this machine can run that many local workers at once, else ToolError."""
    limit, why = max_local_jobs()
    if jobs > limit:
        raise ToolError("--jobs %d is more local workers than this machine can run (at most "
                        "%d: %s): use --jobs %d or fewer, or a cluster (--scheduler)"
                        % (jobs, limit, why, limit))
    return jobs


@contextlib.contextmanager
def _ctrl_c_held():
    """SIGINT blocked while the embedded cluster starts: its worker processes (and its event
    loop's thread) inherit the block, so a Ctrl-C to the terminal reaches this process alone,
    once the cluster exists and can be closed, instead of printing a traceback in each one."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
