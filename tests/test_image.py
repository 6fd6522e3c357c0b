"""The image, built and run: `docker run tf1-lstm train` prints the local numbers, on a `runs/` of
root's and of a user's; a report made in a container equals one made here; containers of the
image serve as a study's workers, one killed mid-run; the TF 2 GPU image (Dockerfile.tf2) prints
what the local TF 2.15.1 environment prints; and neither image adds anything of the machine that
built it. Needs the built images (TF1_LSTM_TEST_IMAGE and TF1_LSTM_TEST_IMAGE_TF2, each with
its _BASE) and an engine (DOCKER_HOST); .ci/run builds them."""

import json
import os
import re
import subprocess
import tarfile
import time
import uuid

import pytest

from conftest import DATA_DIR, Cli, assert_no_traceback, run_cli
from dask_cluster import cluster, numbers, tagged_env, wait_for_workers

IMAGE = os.environ.get("TF1_LSTM_TEST_IMAGE")
BASE = os.environ.get("TF1_LSTM_TEST_IMAGE_BASE")
IMAGE_TF2 = os.environ.get("TF1_LSTM_TEST_IMAGE_TF2")  # Dockerfile.tf2's, and its base
BASE_TF2 = os.environ.get("TF1_LSTM_TEST_IMAGE_TF2_BASE")
pytestmark = pytest.mark.skipif(not IMAGE, reason="needs a built image: TF1_LSTM_TEST_IMAGE=TAG "
                                "(and DOCKER_HOST); .ci/run builds one")
TRAIN = ["train", "--steps", "200", "--seed", "1", "--threads", "1"]
REPORT = ["report", "--seeds", "2", "--cells", "lstm,rnn", "--steps", "30", "--threads", "1",
          "--no-repeat", "--no-throughput"]
OWN_ENV = {"TF1_LSTM_IMAGE", "TF1_LSTM_IMAGE_BASE", "TF1_LSTM_GIT_COMMIT", "TF1_LSTM_DATA_DIR",
           "TF_CUDNN_DETERMINISTIC", "TF_CPP_MIN_LOG_LEVEL"}  # what the Dockerfile sets


def docker(*args, timeout=900, check=True):
    proc = subprocess.run(["docker"] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, (args, proc.stderr)
    return proc


def printed(out):
    """Every value the original prints: the train accuracies, then the test accuracy."""
    return re.findall(r"^(?:train|test) accuracy = (\S+)", out, re.M)


def test_help():
    proc = docker("run", "--rm", IMAGE, "--help")
    assert "train" in proc.stdout and "report" in proc.stdout
    assert_no_traceback(proc.stdout, proc.stderr)


@pytest.fixture(scope="module")
def local_train(tmp_path_factory):
    code, out, err = run_cli(TRAIN + ["--out", str(tmp_path_factory.mktemp("local") / "run"),
                                      "--data-dir", DATA_DIR])
    assert code == 0, err
    return printed(out)


@pytest.mark.parametrize("owner", [0, 4321])  # runs/ as root's, and as a user's
def test_train_in_the_container_prints_the_local_numbers(tmp_path, local_train, owner):
    runs = tmp_path / "runs"
    runs.mkdir()
    os.chown(str(runs), owner, owner)
    proc = docker("run", "--rm", "-v", "%s:/runs" % runs, IMAGE, *TRAIN)
    assert_no_traceback(proc.stdout, proc.stderr)
    assert printed(proc.stdout) == local_train and len(local_train) == 2
    (run_dir,) = list((runs / "runs").iterdir())
    assert os.stat(str(run_dir / "metrics.json")).st_uid == owner  # the folder's owner's
    with open(str(run_dir / "metrics.json")) as f:
        machine = json.load(f)["machine"]
    assert machine["container_image"] == IMAGE and machine["container_base"] == BASE


def test_a_report_in_the_container_equals_the_local_one(tmp_path):
    volume = tmp_path / "volume"
    volume.mkdir()
    proc = docker("run", "--rm", "-v", "%s:/runs" % volume, IMAGE, *REPORT,
                  "--out", "/runs/report")
    assert_no_traceback(proc.stdout, proc.stderr)
    local = str(tmp_path / "local")
    code, _, err = run_cli(REPORT + ["--data-dir", DATA_DIR, "--out", local])
    assert code == 0, err
    inside, here = numbers(str(volume / "report")), numbers(local)
    assert inside[1] == here[1]  # every run's test accuracy and loss curve
    assert inside[0]["environment"]["machine"]["container_base"] == BASE
    code, out, err = run_cli(["compare", str(volume / "report"), local])
    assert code == 0, err
    results = [line for line in out.splitlines()
               if not line.startswith("rule:") and ("test accuracy" in line or "verdict" in line)]
    assert results and not [r for r in results if "differs" in r], out
    wholes = re.findall(r"^(lstm|rnn) as a whole \(B - A\): (\w+);", out, re.M)
    assert wholes == [("lstm", "identical"), ("rnn", "identical")], out
    assert re.search(r"^container image .*%s.*differs" % re.escape(IMAGE), out, re.M), out
    assert re.search(r"^  built from .*%s" % re.escape(BASE), out, re.M), out


def _trainings_in(container):
    proc = docker("top", container, "-eo", "pid,args", check=False)
    return [line for line in proc.stdout.splitlines() if "tf1_lstm.task" in line]


def test_containers_of_the_image_as_workers(tmp_path, token):
    quick = [{"30": "400", "2": "1"}.get(a, a) for a in REPORT]  # one seed, long enough to be
    #                                                                killed mid-run
    embedded = str(tmp_path / "embedded")
    code, _, err = run_cli(quick + ["--out", embedded], env=tagged_env(token))
    assert code == 0, err
    with cluster(tmp_path, token, workers=0) as (address, _):
        names = ["tf1-lstm-worker-%s-%d" % (uuid.uuid4().hex[:8], i) for i in range(2)]
        try:
            for name in names:
                docker("run", "-d", "--rm", "--network", "host", "--name", name,
                       "--entrypoint", "dask-worker", IMAGE, address, "--nthreads", "1",
                       "--no-nanny", "--no-dashboard", "--host", "127.0.0.1")
            wait_for_workers(address, 2, [], tagged_env(token))
            out = str(tmp_path / "containers")
            proc = Cli(quick + ["--out", out, "--scheduler", address], env=tagged_env(token))
            deadline = time.time() + 300
            while not _trainings_in(names[0]) and time.time() < deadline:
                time.sleep(0.5)
            assert _trainings_in(names[0]), "the first container never trained"
            time.sleep(2)
            docker("kill", names[0])
            stdout, err = proc.communicate(timeout=900)
            assert proc.returncode == 0, err
        finally:
            for name in names:
                docker("rm", "-f", name, check=False)
    assert numbers(out)[1] == numbers(embedded)[1]


def _layers(image, workdir):
    """The file names in each layer of `image`, bottom first (from `docker save`)."""
    tar_path = os.path.join(workdir, "image.tar")
    with open(tar_path, "wb") as f:
        subprocess.run(["docker", "save", image], stdout=f, check=True, timeout=900)
    with tarfile.open(tar_path) as saved:
        manifest = json.load(saved.extractfile("manifest.json"))[0]
        found = []
        for layer in manifest["Layers"]:
            with tarfile.open(fileobj=saved.extractfile(layer)) as blob:
                found.append(blob.getnames())
    os.remove(tar_path)
    return found


@pytest.mark.parametrize("which", ["cuda10", "tf2"])
def test_the_image_adds_nothing_of_the_machine_that_built_it(tmp_path, which):
    image_tag, base_tag, pins = {"cuda10": (IMAGE, BASE, "requirements-image.txt"),
                                 "tf2": (IMAGE_TF2, BASE_TF2, "envs/${TF_ENV}.txt")}[which]
    if not image_tag or not base_tag:
        pytest.skip("needs the image and the base it was built from (.ci/run builds both)")

    def env(image):
        found = json.loads(docker("image", "inspect", "--format", "{{json .Config.Env}}",
                                  image).stdout) or []
        return dict(item.split("=", 1) for item in found)

    base, image = env(base_tag), env(image_tag)
    added = {k: v for k, v in image.items() if base.get(k) != v}
    assert set(added) <= OWN_ENV, added
    assert not [v for v in added.values() if "proxy" in v.lower() or "cert" in v.lower()]
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", image_tag).stdout
    assert pins in history  # the pinned requirements' own layer
    base_layers = len(json.loads(docker("image", "inspect", "--format",
                                        "{{json .RootFS.Layers}}", base_tag).stdout))
    ours = [name for layer in _layers(image_tag, str(tmp_path))[base_layers:] for name in layer]
    assert ours, "no layer of the project's own"
    leaked = [n for n in ours if re.search(r"(^|/)(ca-certificates|pip\.conf)(/|$)", n)
              or n.startswith(("etc/ssl", "root/.config/pip"))]
    assert not leaked, leaked


def test_the_tf2_image_trains_as_the_tf2_environment_does(tmp_path):
    """Dockerfile.tf2's image: the same lines, numbers and records as `./run --tf 2.15.1 train`
    here (same TensorFlow, same CPU), and it says it is TF 2."""
    if not IMAGE_TF2:
        pytest.skip("needs the TF 2 image: TF1_LSTM_TEST_IMAGE_TF2 (.ci/run builds it)")
    from conftest import TF2, tf2_cli
    local = tf2_cli(TRAIN + ["--out", str(tmp_path / "local")])
    assert local.returncode == 0, local.stderr
    runs = tmp_path / "runs"
    runs.mkdir()
    proc = docker("run", "--rm", "-v", "%s:/runs" % runs, IMAGE_TF2, *TRAIN)
    assert_no_traceback(proc.stdout, proc.stderr)
    assert printed(proc.stdout) == printed(local.stdout) and len(printed(local.stdout)) == 2
    (run_dir,) = list((runs / "runs").iterdir())
    with open(str(run_dir / "config.json")) as f:
        config = json.load(f)
    with open(str(run_dir / "metrics.json")) as f:
        machine = json.load(f)["machine"]
    assert config["environment"] == TF2 and config["tf"]["api"] == "tensorflow.compat.v1"
    assert machine["container_image"] == IMAGE_TF2 and machine["container_base"] == BASE_TF2
