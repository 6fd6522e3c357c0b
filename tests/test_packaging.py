"""`pip install .` alone (no ./run) gives a tf1-lstm whose every command imports: setup.cfg
declares what each needs. A fresh venv, requirements.txt's pins as constraints."""

import os
import shutil
import subprocess
import venv

import pytest

from conftest import REPO, assert_no_traceback

COMMANDS = ("train", "diagnose", "report", "compare", "evaluate", "predict", "export", "bench",
            "bench-engine", "fetch-data")


@pytest.mark.slow
def test_a_plain_pip_install_runs_every_command(tmp_path):
    env_dir = str(tmp_path / "venv")
    venv.create(env_dir, with_pip=True)
    python = os.path.join(env_dir, "bin", "python")
    pip = [python, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["install", "pip==21.3.1"], check=True)
    source = str(tmp_path / "source")  # pip builds in its source folder: a copy, not the checkout
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".venv*", ".git", "reports", "runs", "data", "build", "*.egg-info", "__pycache__"))
    subprocess.run(pip + ["install", "-c", os.path.join(REPO, "requirements.txt"), source],
                   check=True, cwd=str(tmp_path))
    check = subprocess.run([python, "-m", "pip", "check"], stdout=subprocess.PIPE,
                           universal_newlines=True)
    assert check.returncode == 0, check.stdout
    tool = os.path.join(env_dir, "bin", "tf1-lstm")
    for command in COMMANDS:
        proc = subprocess.run([tool, command, "--help"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True, cwd=str(tmp_path))
        assert proc.returncode == 0, (command, proc.stderr)
        assert_no_traceback(proc.stdout, proc.stderr)
    modules = subprocess.run([python, "-c", "import tf1_lstm.studies.report, "
                              "tf1_lstm.studies.engine, tf1_lstm.serving.evaluate, "
                              "tf1_lstm.serving.images, distributed, matplotlib, PIL, tqdm"],
                             cwd=str(tmp_path), stderr=subprocess.PIPE, universal_newlines=True)
    assert modules.returncode == 0, modules.stderr
