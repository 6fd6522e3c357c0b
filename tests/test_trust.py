"""What the client writes is decided by the client: a temp name is its own, a worker's result is
checked before a byte of it is written, a scratch folder goes once its processes are gone. No
TensorFlow: the fast tier."""

import hashlib
import json
import os
import subprocess
import sys

import pytest

from tf1_lstm.core import records
from tf1_lstm.studies import engine
from tf1_lstm.studies.engine import worker
from tf1_lstm.util import files, scratch

from conftest import REPO

pytestmark = pytest.mark.fast

COMMITTED = os.path.join(REPO, "reports", "mnist-5seeds-10000steps", "runs", "lstm-seed0")
RUN = engine.spec("lstm", 0, 10000, 1)


def test_atomic_dir_touches_nothing_beside_its_target(tmp_path):
    target = tmp_path / "run"
    for name in ("run.old", "run.tmp-%d" % os.getpid()):  # what 0.2.0 removed
        (tmp_path / name).mkdir()
        (tmp_path / name / "notes.txt").write_text("mine")
    for _ in range(2):  # made, then replaced
        with files.atomic_dir(str(target)) as tmp:
            os.makedirs(tmp)
            (open(os.path.join(tmp, "a"), "w")).close()
    assert sorted(os.listdir(str(tmp_path))) == ["run", "run.old", "run.tmp-%d" % os.getpid()]
    assert (tmp_path / "run.old" / "notes.txt").read_text() == "mine"
    with pytest.raises(RuntimeError):
        with files.atomic_dir(str(target)) as tmp:
            os.makedirs(tmp)
            raise RuntimeError("the block failed")
    assert os.listdir(str(target)) == ["a"]  # the old one stays whole
    assert len(os.listdir(str(tmp_path))) == 3


def real_result():
    """What train_task returns, made from a real finished run (sealed, as a run is now)."""
    found = worker._collect(COMMITTED)
    found[records.SEAL] = json.dumps({"files": {name: hashlib.sha256(found[name]).hexdigest()
                                                for name in ("config.json", "metrics.json")},
                                      "digest": ""}).encode()
    return {"name": RUN.name, "files": found, "log": "log",
            "scratch": "/nowhere/" + RUN.name, "host": "h", "worker": "tcp://w:1",
            "task_seconds": 1.0, "finished_at": 0.0}


def test_a_real_result_is_accepted():
    assert engine.checked_result(real_result(), RUN)["name"] == RUN.name


def _metrics_edited(result):
    metrics = json.loads(result["files"]["metrics.json"].decode())  # novm: bytes
    metrics["test_accuracy"] = 0.99
    result["files"]["metrics.json"] = json.dumps(metrics).encode()


def _steps_edited(result):  # a record that disagrees with itself, sealed so
    _metrics_edited(result)
    files = json.loads(result["files"][records.SEAL].decode())["files"]  # novm: bytes
    metrics = json.loads(result["files"]["metrics.json"].decode())  # novm: bytes
    metrics["steps_done"] = 401
    result["files"]["metrics.json"] = json.dumps(metrics).encode()
    files["metrics.json"] = hashlib.sha256(result["files"]["metrics.json"]).hexdigest()
    result["files"][records.SEAL] = json.dumps({"files": files}).encode()


@pytest.mark.parametrize("change, why", [
    (lambda r: r.update(name="../../../victim"), "names another run"),
    (lambda r: r["files"].update({"/abs/path": b"x"}), "not a plain relative path"),
    (lambda r: r["files"].update({"../../x": b"x"}), "not a plain relative path"),
    (lambda r: r["files"].update({"model/./x": b"x"}), "not a plain relative path"),
    (lambda r: r["files"].update({"notes": "text, not bytes"}), "not a plain relative path"),
    (lambda r: r["files"].update({"config.json/x": b"x"}), "a file and a folder share a name"),
    (lambda r: r.pop("host"), "no host"),
    (lambda r: r["files"].pop("metrics.json"), "missing or malformed"),
    (lambda r: r["files"].update({"metrics.json": b'{"status": "complete"}'}), "has no"),
    (lambda r: r["files"].update({"config.json": b'{"cell": "rnn"}'}), "not a finished run"),
    (lambda r: r["files"].pop(records.SEAL), "it has no readable seal.json"),
    (_metrics_edited, "its metrics.json is not what its seal says"),
    (_steps_edited, "its records disagree: steps_done 401 in metrics.json, 10000 by config"),
])
def test_a_bad_result_is_refused(change, why):
    result = real_result()
    change(result)
    with pytest.raises(engine.RunError) as err:
        engine.checked_result(result, RUN)
    assert why in str(err.value) and "nothing of it was written" in str(err.value)


def test_refuse_symlinks_below_the_root_only(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out").mkdir()
    os.symlink(str(tmp_path / "elsewhere"), str(tmp_path / "out" / "runs"))
    files.refuse_symlinks(str(tmp_path / "out"), str(tmp_path / "out" / "logs" / "x.log"))
    with pytest.raises(files.UnsafePath):
        files.refuse_symlinks(str(tmp_path / "out"), str(tmp_path / "out" / "runs" / "a"))
    with pytest.raises(files.UnsafePath):
        files.refuse_symlinks(str(tmp_path / "out"), str(tmp_path / "elsewhere"))


def test_a_scratch_folder_goes_only_when_all_its_processes_have(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    mine = scratch.make("task")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    theirs = os.path.join(str(tmp_path), "tf1-lstm-task-%d-1-abcdef" % dead.pid)
    lent = os.path.join(str(tmp_path), "tf1-lstm-task-%d-1-ghijkl" % dead.pid)
    os.makedirs(theirs)
    os.makedirs(lent)
    scratch.lend(lent, child.pid)
    os.symlink(str(tmp_path / "x"), os.path.join(str(tmp_path), "tf1-lstm-task-1-1-mnopqr"))
    try:
        assert scratch.sweep() == [theirs]  # not mine, not the lent one, not the link
        child.kill()
        child.wait()
        assert scratch.sweep() == [lent]
        assert os.path.isdir(mine)
    finally:
        child.kill()
        files.remove_quietly(mine)
