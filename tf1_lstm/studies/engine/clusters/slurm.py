"""`--cluster slurm`: a study's Dask workers as SLURM jobs, through dask-jobqueue.

One single-threaded worker per job, on this environment's Python; lost jobs are replaced
(`adapt`), and closing the cluster cancels every job. Site settings (partition `queue`, account
`project`, walltime, memory, extra #SBATCH lines, interface) are dask-jobqueue's own
configuration, `~/.config/dask/jobqueue.yaml` or `DASK_JOBQUEUE__SLURM__*`, as every jobqueue
user already has it; the report decides only the number of jobs and how long to wait for one.
"""

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from tf1_lstm.core.settings import positive_int
from tf1_lstm.studies.engine import clusters
from tf1_lstm.studies.engine.clusters import Kind
from tf1_lstm.util import interrupts
from tf1_lstm.util.errors import ToolError
from tf1_lstm.util.files import remove_quietly

MEMORY = "2GB"  # per job, where jobqueue.slurm.memory is not configured: one training run
WORKER_DIR = "/tmp"  # the workers' scratch on their node, where local-directory is not set
WAIT = 300  # seconds a report waits for its first SLURM job to run (--slurm-wait)
POLL = 1.0  # seconds between looks at the queue
GONE_WITHIN = 60  # seconds closing waits for the cancelled jobs to leave the queue
# What SLURM's commands print when slurmctld is down or unreachable (not a refused job).
CONTROLLER_DOWN = ("Unable to contact slurm controller", "Socket timed out",
                   "Zero Bytes were transmitted or received")


class SlurmError(ToolError):
    """SLURM cannot run the study's workers; the message is one line naming why and the fix."""


class Slurm(Kind):
    name = "slurm"
    help = "SLURM jobs through dask-jobqueue, configured by its jobqueue.slurm settings"
    flags = (("--slurm-wait", dict(type=positive_int, default=None, metavar="SECONDS",
                                   help="how long SLURM jobs may pend before the report gives "
                                        "up (default: %d)" % WAIT)),)
    asks_for_jobs = True
    throughput = False
    job_env = "SLURM_JOB_ID"
    log_folder = "slurm"

    def wait(self):
        wait = self.options.get("slurm_wait")
        return WAIT if wait is None else wait

    def start(self, engine):
        import distributed
        with interrupts.deferred():  # a stop waits until the jobs can be cancelled
            cluster = start(self.jobs or 1, self.logs, self.wait())
            engine.cluster, engine.client = cluster, distributed.Client(cluster)
        wait_for_a_worker(engine.client, cluster, self.logs, self.wait())
        threading.Thread(target=self._watch, args=(engine,), daemon=True).start()

    def _watch(self, engine):
        """With no SLURM job running for --slurm-wait s (all died, none replaced in time), stop
        the runs in flight, so that the study ends in one line instead of waiting for ever."""
        since = None
        while engine.client is not None and engine.lost is None:
            try:
                workers = engine.client.scheduler_info()["workers"]
            except Exception:  # closing
                return
            since = None if workers else since or time.time()
            if since and time.time() - since > self.wait():
                engine.lost = not_running(engine.cluster, self.logs,
                                          "has run for %d s" % self.wait())
                engine.client.cancel(list(engine.submitted))
                return
            time.sleep(POLL)

    def end(self, cluster):
        try:
            end_jobs(cluster)
        except Exception:  # a cluster already closing: its own close cancels the jobs
            pass

    def where(self):
        return "SLURM jobs"

    def recorded_jobs(self):
        return self.jobs


def _config(key, default=None):
    import dask
    value = dask.config.get("jobqueue.slurm." + key, None)
    return default if value in (None, "") else value


def check():
    """SlurmError unless this process can submit SLURM jobs through dask-jobqueue."""
    try:
        import dask_jobqueue  # noqa: F401 (pinned in the default environment)
    except ImportError:
        raise SlurmError("--cluster slurm needs dask-jobqueue 0.7.3, which this Python (%d.%d) "
                         "has not got: run the report from the default environment (./run "
                         "report ...), with --tf NAME to train in another" % sys.version_info[:2])
    if not shutil.which("sbatch"):
        raise SlurmError("--cluster slurm submits jobs with sbatch, which is not on PATH: run "
                         "the report on a SLURM login node, or add SLURM's bin folder to PATH")


def start(jobs, logs, wait=WAIT, say=print):
    """A SLURMCluster holding `jobs` jobs (replaced when lost), its job logs under `logs`,
    once SLURM accepts its job script and one job runs; SlurmError otherwise (nothing queued)."""
    from dask_jobqueue import SLURMCluster
    check()
    cluster = SLURMCluster(
        cores=1, processes=1, memory=_config("memory", MEMORY), python=sys.executable,
        local_directory=_config("local-directory", WORKER_DIR), log_directory=logs,
        name="tf1-lstm", scheduler_options=dict({"dashboard_address": ":0"},
                                                **_config("scheduler-options", {})),
        extra=list(_config("extra", [])) + ["--preload", clusters.PRELOAD])
    try:
        _test_only(cluster.job_script())
        cluster.adapt(minimum_jobs=jobs, maximum_jobs=jobs)
        say("report: %d SLURM jobs asked for (job logs in %s)" % (jobs, logs))
        return cluster
    except BaseException:
        cluster.close()
        raise


def _test_only(script):
    """SlurmError quoting sbatch if SLURM would refuse the job script (partition, account,
    memory, time): asked with --test-only, so nothing is queued."""
    folder = tempfile.mkdtemp(prefix="tf1-lstm-sbatch-")
    path = os.path.join(folder, "job.sh")
    try:
        with open(path, "w") as f:
            f.write(script)
        done = subprocess.run(["sbatch", "--test-only", path], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as err:
        raise SlurmError("sbatch did not answer (%s): check that slurmctld is up (sinfo)" % err)
    finally:
        remove_quietly(folder)
    if done.returncode != 0:
        why = " / ".join(line.strip() for line in done.stdout.strip().splitlines()[-2:])
        if any(mark in done.stdout for mark in CONTROLLER_DOWN):
            raise SlurmError("SLURM's controller does not answer (%s): start slurmctld, or point "
                             "SLURM_CONF at your cluster's slurm.conf; `sinfo` tells whether "
                             "it is up" % why)
        raise SlurmError("SLURM refuses the report's job (%s): set the partition, account, "
                         "memory or walltime in dask-jobqueue's configuration (jobqueue.slurm "
                         "queue, project, memory, walltime; ~/.config/dask/jobqueue.yaml or "
                         "DASK_JOBQUEUE__SLURM__*)" % (why or "sbatch exit %d" % done.returncode))


def job_ids(cluster):
    """The SLURM job ids the cluster holds now."""
    return [job.job_id for job in list(cluster.workers.values())
            if getattr(job, "job_id", None)]


def queue_states(ids):
    """{job id: "STATE (reason)"} of these jobs as squeue reports them."""
    if not ids:
        return {}
    try:
        out = subprocess.run(["squeue", "-h", "-j", ",".join(ids), "-o", "%i %T %r"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             universal_newlines=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    states = {}
    for line in out.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3:
            states[parts[0]] = "%s (%s)" % (parts[1], parts[2])
    return states


def wait_for_a_worker(client, cluster, logs, wait=WAIT, what="to start"):
    """Return once a worker is connected; SlurmError naming squeue's reason after `wait` s."""
    deadline = time.time() + wait
    while time.time() < deadline:
        if client.scheduler_info()["workers"]:
            return
        time.sleep(POLL)
    raise SlurmError(not_running(cluster, logs, "ran within %d s %s" % (wait, what)))


def not_running(cluster, logs, what):
    """One line for jobs that do not run: all pending (squeue's reason: free the partition or
    wait longer), else running without their worker connecting or gone from the queue
    (cancelled, or died as they started): their logs say why."""
    states = queue_states(job_ids(cluster))
    listed = "; ".join("job %s %s" % item for item in sorted(states.items()))
    if states and all(state.startswith("PENDING") for state in states.values()):
        return ("no SLURM job of the report %s (%s): free the partition or raise --slurm-wait"
                % (what, listed))
    newest = sorted(glob.glob(os.path.join(logs, "*.err")), key=os.path.getmtime)[-1:]
    return ("no SLURM job of the report %s (%s): a job that runs or ran without its worker "
            "connecting says why in its log; %s" % (
                what, listed or "none in the queue: cancelled, or died as they started",
                "the newest: %s" % newest[0] if newest else "no log was written: ask SLURM "
                "(sacct -X)"))


def end_jobs(cluster, within=GONE_WITHIN):
    """Stop replacing jobs, cancel every one and wait until none is in the queue, all before
    the scheduler closes. distributed 2021.3.0 closes a SpecCluster's scheduler before its
    adaptive loop, which meanwhile submits new jobs; their workers then reach a stopped
    listener (tornado logs "invalid operation on non-started TCPListener" on the terminal)."""
    from distributed.utils import sync
    sync(cluster.loop, _settled, cluster)
    ids = job_ids(cluster)
    cluster.scale(0)
    sync(cluster.loop, cluster._correct_state)  # each job's close: scancel
    deadline = time.time() + within
    while queue_states(ids) and time.time() < deadline:
        time.sleep(POLL / 4)


async def _settled(cluster):
    """On the cluster's loop: the adaptive loop stopped and its last step done, every job
    it asked for submitted (so each has its id)."""
    import asyncio
    adaptive = getattr(cluster, "_adaptive", None)
    if adaptive is not None:
        adaptive.stop()
        while adaptive._adapting:
            await asyncio.sleep(0.05)
    await cluster._correct_state()
