"""Clusters as they are run for real: a secured one (TLS, with a CA and certificates made here by
openssl), and one whose scheduler, client and workers are separate network hosts (network
namespaces joined by a bridge, made here) with one worker's link cut in the middle of a run."""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import psutil
import pytest

from tf1_lstm.util import scratch as scratch_folders

from conftest import REPO, assert_no_traceback, on_37, run_cli
from dask_cluster import QUICK, cluster, numbers, tagged_env, training_children, wait_until

ON_37 = on_37("another cluster (TLS, hosts on a network) under the engine code of the embedded "
              "report, which 3.6 runs; Dask's side is the same version on both")
TLS_ENV = ("DASK_DISTRIBUTED__COMM__TLS__CA_FILE", "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT",
           "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY")


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_pki(folder):
    """A CA, and one certificate it signed, for the scheduler, workers and client alike."""
    if not shutil.which("openssl"):
        pytest.skip("needs openssl")
    os.makedirs(folder)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            "/CN=tf1-lstm test CA", "-keyout", "ca.key", "-out", "ca.pem", cwd=folder)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=tf1-lstm test node",
            "-keyout", "node.key", "-out", "node.csr", cwd=folder)
    openssl("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-out", "node.pem", cwd=folder)
    return {name: os.path.join(folder, name) for name in ("ca.pem", "node.pem", "node.key")}


@ON_37
def test_a_tls_cluster(tmp_path, token, quick_embedded):
    pki = make_pki(str(tmp_path / "pki"))
    flags = ["--tls-ca-file", pki["ca.pem"], "--tls-cert", pki["node.pem"], "--tls-key",
             pki["node.key"]]
    client = dict(zip(TLS_ENV, (pki["ca.pem"], pki["node.pem"], pki["node.key"])))
    with cluster(tmp_path, token, tls=flags, client_env=client) as (address, _):
        assert address.startswith("tls://")
        out = str(tmp_path / "tls")
        code, _, err = run_cli(QUICK + ["--out", out, "--scheduler", address],
                               env=tagged_env(token, **client))
        assert code == 0, err
        code, _, err = run_cli(QUICK + ["--out", str(tmp_path / "plain"), "--scheduler",
                                        address], env=tagged_env(token), timeout=120)
        assert code == 2 and all(name in err for name in TLS_ENV), err  # no certificate: refused
    assert numbers(out)[1] == numbers(quick_embedded)[1]


# --- several network hosts on one machine ------------------------------------------------------

PREFIX = "tf1t" + uuid.uuid4().hex[:4]  # this run's names: namespaces, bridge, links
SUBNET = "10.213.77."  # only ever inside the namespaces made here


def ip(*args, check=True):
    return subprocess.run(["ip"] + list(args), check=check, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, universal_newlines=True)


@contextlib.contextmanager
def network(hosts):
    """{host: (command prefix, address)}: one namespace per host, and a switch namespace whose
    bridge joins them; all removed afterwards, even on failure."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("needs root and iproute2 to make network namespaces")
    switch = PREFIX + "-sw"
    made = [switch]
    try:
        ip("netns", "add", switch)
        ip("-n", switch, "link", "add", "br0", "type", "bridge")
        ip("-n", switch, "link", "set", "br0", "up")
        placed = {}
        for i, host in enumerate(hosts):
            ns = "%s-%s" % (PREFIX, host)
            ip("netns", "add", ns)
            made.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "p%d" % i,
               "netns", switch)
            ip("-n", switch, "link", "set", "p%d" % i, "master", "br0", "up")
            address = SUBNET + str(i + 2)
            ip("-n", ns, "addr", "add", address + "/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
            placed[host] = (["ip", "netns", "exec", ns], address, "p%d" % i)
        yield placed, switch
    finally:
        for ns in made:  # what still runs in a namespace goes with it
            pids = subprocess.run(["ip", "netns", "pids", ns], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, universal_newlines=True).stdout
            for pid in pids.split():
                with contextlib.suppress(OSError):
                    os.kill(int(pid), signal.SIGKILL)
            ip("netns", "del", ns, check=False)


@ON_37
def test_hosts_on_a_network_and_a_link_cut_mid_run(tmp_path, token):
    scratch = tmp_path / "tmp"
    scratch.mkdir()

    def leftovers():
        return [n for n in os.listdir(str(scratch)) if n.startswith("tf1-lstm-")]

    embedded = str(tmp_path / "embedded")
    # the RNN: the quicker cell, its runs still long enough to be cut in the middle
    quick = [{"200": "1500", "lstm,rnn": "rnn"}.get(a, a) for a in QUICK]
    code, _, err = run_cli(quick + ["--out", embedded], env=tagged_env(token))
    assert code == 0, err
    with network(["sched", "client", "w1", "w2"]) as (hosts, switch):
        order = [hosts[h][:2] for h in ("sched", "client", "w1", "w2")]
        with cluster(tmp_path, token, hosts=order, worker_env={"TMPDIR": str(scratch)}) \
                as (address, workers):
            out = str(tmp_path / "networked")
            proc = subprocess.Popen(hosts["client"][0] + [
                sys.executable, "-m", "tf1_lstm"] + quick + ["--out", out, "--scheduler",
                                                             address],
                cwd=REPO, env=tagged_env(token), stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, universal_newlines=True)
            wait_until(lambda: training_children(workers[0]))
            victims = training_children(workers[0])
            assert victims, "worker 1 never started a run"
            time.sleep(3)
            ip("-n", switch, "link", "set", hosts["w1"][2], "down")  # the cable is pulled
            out_text, err = proc.communicate(timeout=900)
            assert proc.returncode == 0, err
            assert_no_traceback(out_text, err)
            _, alive = psutil.wait_procs(victims, timeout=60)
            assert not alive, "the cut-off worker's run kept training"
            # the cut-off worker stops its run once it sees its link gone (TCP keepalive, then
            # engine.SCHEDULER_LOST), or finishes it
            wait_until(lambda: not training_children(workers[0]), timeout=300)
            assert not training_children(workers[0]), "the cut-off worker trained on"
        # the workers are gone now: what the cut-off one left (if it was stopped before it could
        # clean up) is swept by the next tf1-lstm process on the machine, and nothing else is left
        scratch_folders.sweep(str(scratch))
        assert leftovers() == [], "scratch that no sweep removes"
        assert numbers(out)[1] == numbers(embedded)[1]
