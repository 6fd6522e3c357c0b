"""The engine: a Dask client on a cluster of one of the registered kinds (engine.clusters)."""

import collections
import contextlib
import logging
import sys
import time
import warnings

from tf1_lstm.studies.engine import clusters
from tf1_lstm.util import quiet, tfenvs
from tf1_lstm.util.errors import ToolError
from tf1_lstm.util.files import remove_quietly

STOP_WITHIN = 30  # seconds a stopped study waits for its runs on the workers to end
ASK_WITHIN = 10  # seconds the workers have to say which TensorFlow environment they run
TRACKER_QUIET = ("ignore:semaphore_tracker:UserWarning",  # Python 3.6 and 3.7
                 "ignore:resource_tracker:UserWarning")   # 3.8 and later


class Engine:
    """A Dask client on the cluster of kind `cluster` (clusters.KINDS), or on the one that runs
    at `scheduler` (or DASK_SCHEDULER_ADDRESS); `jobs`: its workers, `logs`: the folder of a
    kind's job logs, `options`: {dest: value} of the kind's own flags. With start=False (every
    run finished) no worker is asked for."""

    def __init__(self, scheduler=None, jobs=None, cluster=clusters.DEFAULT, logs=None,
                 options=None, start=True):
        try:
            import distributed
        except ImportError:
            raise ToolError(
                "studies run on Dask 2021.3.0, which this Python (%d.%d) has not got: run them "
                "from the default environment (./run report ...), with --tf %s to train in this "
                "one" % (sys.version_info[:2] + (tfenvs.own() or "NAME",)))
        for name in ["distributed"] + list(logging.root.manager.loggerDict):
            if name.startswith("distributed"):  # its own config sets some; our one line says it
                logging.getLogger(name).setLevel(logging.CRITICAL)
        from distributed.versions import VersionMismatchWarning
        warnings.filterwarnings("ignore", category=VersionMismatchWarning)  # versions_line
        # multiprocessing's tracker process (started with this interpreter's -W options) cleans
        # up the workers' semaphores after a SIGKILL of this process; its count of them is noise
        sys.warnoptions.extend(o for o in TRACKER_QUIET if o not in sys.warnoptions)
        self.address = clusters.address(scheduler)
        self.kind = clusters.get("scheduler" if self.address else cluster)(
            jobs, self.address, logs, options)
        self.cluster = self.client = self.scratch = self.lost = self.versions = None
        self.jobs, self.submitted = jobs, set()
        self.version = distributed.__version__
        try:
            if start:
                self.kind.start(self)
                self._quiet_lost_connections()
        except BaseException:
            self.close()
            raise

    def _quiet_lost_connections(self):
        """Workers that die at once (a SIGTERM to the whole process group, as `timeout`, SLURM
        and systemd send) leave futures holding a CommClosedError nobody retrieves (or, on a
        loaded machine, its OSError "Timed out trying to connect to ADDR"); asyncio
        would print each with its traceback. Those say nothing; anything else is printed."""
        from distributed.comm.core import CommClosedError
        from tornado.iostream import StreamClosedError

        def lost(err):
            return isinstance(err, (CommClosedError, StreamClosedError, ConnectionError)) or (
                type(err) is OSError and str(err).startswith("Timed out") and "connect" in str(err))

        def handler(loop, context):
            if not lost(context.get("exception")):
                loop.default_exception_handler(context)
        if self.client is not None:
            self.client.loop.asyncio_loop.set_exception_handler(handler)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def workers(self):
        return len(self.client.scheduler_info()["workers"]) if self.client else 0

    def worker_envs(self):
        """The TensorFlow environments of the workers connected now (a run with no `env` of
        its own trains in one of them); this process's own while none is connected."""
        if self.client is None:
            return {tfenvs.own()}
        try:
            found = set(self.client.run(tfenvs.own, callback_timeout=ASK_WITHIN).values())
        except Exception:  # a worker without tf1_lstm fails its runs in their own lines
            found = set()
        return found or {tfenvs.own()}

    def where(self):
        """Where the runs train, for a progress line."""
        return self.kind.where()

    def describe(self):
        return collections.OrderedDict([("cluster", self.kind.name),
                                        ("scheduler", self.kind.scheduler()),
                                        ("jobs", self.kind.recorded_jobs()),
                                        ("workers", self.workers()),
                                        ("distributed", self.version)])

    def stop(self, futures, within=STOP_WITHIN):
        """Stop every run in flight: the scheduler releases them, each worker sees that and
        stops its run (which saves and exits), and this waits until no worker is still running
        one of them, so nothing is left training or in scratch."""
        keys = {f.key for f in futures}
        try:
            self.client.cancel(list(futures))
            deadline = time.time() + within
            while time.time() < deadline:
                busy = self.client.run(_running, keys=keys)
                if not any(busy.values()):
                    return
                time.sleep(0.2)
        except Exception:  # a client or scheduler already gone: workers stop on their own
            pass

    def close(self):
        """Close the client (and a cluster of our own); what their stopped event loop leaves
        says nothing. distributed 2021.3.0 can stop it in the step that times out a wait of its
        own (its BatchedSend's, still held by the client); asyncio would log the error nobody
        retrieved whenever that is collected, under the command's last line or at exit."""
        if self.client is not None:
            self.client.loop.asyncio_loop.set_exception_handler(lambda loop, context: None)
        if self.cluster is not None:
            self.kind.end(self.cluster)
        with quiet.collected(), _quiet_logger("tornado.application"):
            for part in (self.client, self.cluster):
                if part is not None:
                    try:
                        part.close()
                    except Exception:  # closing what is already gone
                        pass
        if self.scratch is not None:
            remove_quietly(self.scratch)


@contextlib.contextmanager
def _quiet_logger(name):
    """`name` logs nothing while the block runs (what a closing cluster's late connections
    leave in tornado's log is no news to the user)."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _running(keys, dask_worker):
    """On each worker: how many of `keys` still have a thread running them."""
    return sum(1 for key in list(dask_worker.active_threads.values()) if key in keys)
