"""A real single-node SLURM cluster (munged, slurmctld, slurmd) under one folder, for tests.

Everything lives in the folder: configuration, keys, state, spool, logs and PID files; the
daemons listen on loopback on ports of their own. Clients find it through SLURM_CONF (env()).
Needs root and the Debian packages slurm-wlm and munge (CI installs them).
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

NODE = "tf1node"
PARTITION = "debug"
PROGRAMS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo",
            "scontrol")

CONF = """ClusterName=tf1lstm
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
AuthType=auth/munge
AuthInfo=socket={dir}/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/slurmctld.log
SlurmdLogFile={dir}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName={partition} Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""


def missing():
    """Why a SLURM cluster cannot be started here (None: it can)."""
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    absent = [p for p in PROGRAMS if not shutil.which(p, path=path)]
    if absent:
        return ("needs SLURM and munge (apt-get install --no-install-recommends slurm-wlm "
                "munge): %s not found" % ", ".join(absent))
    if os.geteuid() != 0:
        return "starts slurmctld and slurmd as root"
    return None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sbin(name):
    return shutil.which(name, path="/usr/sbin:/sbin:" + os.environ.get("PATH", ""))


class Slurm:
    """start() the daemons, env() for clients, stop() them by PID file."""

    def __init__(self, cpus=2, memory_mb=8000):
        self.dir = tempfile.mkdtemp(prefix="tf1-lstm-slurm-")
        os.chmod(self.dir, 0o755)  # munged wants 755 along its socket's path
        self.cpus, self.memory = cpus, memory_mb
        self.conf = os.path.join(self.dir, "slurm.conf")

    def env(self):
        return {"SLURM_CONF": self.conf}

    def _run(self, *argv, **kw):
        return subprocess.run(argv, env=dict(os.environ, **self.env()), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True, timeout=60,
                              **kw)

    def start(self):
        for sub in ("munge", "state", "spool"):
            os.makedirs(os.path.join(self.dir, sub), mode=0o755)
        with open(self.conf, "w") as f:
            f.write(CONF.format(node=NODE, host=socket.gethostname().split(".")[0],
                                dir=self.dir, ctld_port=_free_port(), d_port=_free_port(),
                                cpus=self.cpus, memory=self.memory, partition=PARTITION))
        munge = os.path.join(self.dir, "munge")
        key = os.path.join(munge, "munge.key")
        for argv in ([_sbin("mungekey"), "-c", "-k", key],
                     [_sbin("munged"), "--socket=" + os.path.join(munge, "munge.socket"),
                      "--key-file=" + key, "--pid-file=" + os.path.join(munge, "munged.pid"),
                      "--log-file=" + os.path.join(munge, "munged.log"),
                      "--seed-file=" + os.path.join(munge, "munged.seed")],
                     [_sbin("slurmctld")], [_sbin("slurmd"), "-N", NODE]):
            done = self._run(*argv)
            if done.returncode != 0:
                self.stop()
                raise RuntimeError("%s failed: %s" % (os.path.basename(argv[0]),
                                                      done.stdout.strip()[-500:]))
        try:
            self.wait_idle()
        except RuntimeError:
            self.stop()
            raise
        return self

    def wait_idle(self, timeout=60):
        deadline = time.time() + timeout
        state = ""
        while time.time() < deadline:
            state = self._run("sinfo", "-h", "-n", NODE, "-o", "%T").stdout.strip()
            if state == "idle":
                return
            time.sleep(0.5)
        logs = self.log("slurmctld.log")[-800:] + self.log("slurmd.log")[-800:]
        raise RuntimeError("the SLURM node is %r, not idle, after %d s: %s"
                           % (state, timeout, logs))

    def log(self, name):
        try:
            with open(os.path.join(self.dir, name)) as f:
                return f.read()
        except OSError:
            return ""

    def jobs(self):
        """[(job id, state, reason)] in the queue."""
        out = self._run("squeue", "-h", "-o", "%i %T %r").stdout
        return [tuple(line.split(None, 2)) for line in out.splitlines() if line.strip()]

    def scontrol(self, *args):
        return self._run("scontrol", *args)

    def stop(self):
        for pidfile in ("slurmd.pid", "slurmctld.pid", os.path.join("munge", "munged.pid")):
            _kill(os.path.join(self.dir, pidfile))
        shutil.rmtree(self.dir, ignore_errors=True)


def _kill(pidfile, wait=15):
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip())
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        return
    deadline = time.time() + wait
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.2)
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


if __name__ == "__main__":  # a throwaway cluster by hand: docs/cluster.md
    why = missing()
    if why:
        raise SystemExit("slurm_cluster: " + why)
    stops = {signal.SIGINT, signal.SIGTERM}
    cluster = Slurm().start()  # before the block below, which the daemons would inherit
    for stop in stops:  # a shell's background job starts with SIGINT ignored: sigwait drops it
        signal.signal(stop, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_BLOCK, stops)  # taken by sigwait below, not by Python
    print("export SLURM_CONF=%s DASK_JOBQUEUE__SLURM__INTERFACE=lo" % cluster.conf, flush=True)
    print("(Ctrl-C stops the cluster and removes its folder)", flush=True)
    try:
        signal.sigwait(stops)
    finally:
        cluster.stop()
