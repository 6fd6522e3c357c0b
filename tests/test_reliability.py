"""Bad input and faults end in one line, a non-zero exit, no traceback and nothing half-written:
each case found when the tool was tried as a new user would (README, "Reliability")."""

import contextlib
import gzip
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib

import pytest

from conftest import DATA_DIR, REPO, Cli, one_line, run_cli

LABELS = "train-labels-idx1-ubyte"


def start(args, **env):
    return Cli(args, env=dict(os.environ, **env))


def wait_for_line(proc, prefix, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if line.startswith(prefix):
            return line
    raise AssertionError("no %r line" % prefix)


@pytest.fixture
def mount(tmp_path):
    """mount(size_mb, read_only=False, fill=None): a real small tmpfs, unmounted afterwards."""
    made = []

    def make(size_mb, read_only=False, fill=None):
        point = str(tmp_path / ("mnt%d" % len(made)))
        os.makedirs(point)
        if subprocess.call(["mount", "-t", "tmpfs", "-o", "size=%dm" % size_mb, "tmpfs", point],
                           stderr=subprocess.DEVNULL) != 0:
            pytest.skip("needs permission to mount a tmpfs (root)")
        made.append(point)
        if fill:
            fill(point)
        if read_only:
            subprocess.check_call(["mount", "-o", "remount,ro", point])
        return point

    yield make
    for point in made:
        subprocess.call(["umount", point])


# 1 -------------------------------------------------------------------------------------------
def test_a_run_directory_is_locked_while_it_trains(tmp_path):
    path = str(tmp_path / "run")
    first = start(["train", "--steps", "100000", "--seed", "2", "--checkpoint-every", "1",
                   "--data-dir", DATA_DIR, "--out", path])
    try:
        wait_for_line(first, "train accuracy =")
        code, _, err = run_cli(["train", "--resume", path, "--data-dir", DATA_DIR])
        line = one_line(code, err)
        assert "%s is being trained by PID %d" % (path, first.pid) in line
    finally:
        first.kill()  # SIGKILL: its lock file stays behind, stale
        first.wait()
    assert os.path.exists(os.path.join(path, ".lock"))
    with open(os.path.join(path, "config.json")) as f:
        config = f.read().replace('"steps": 100000', '"steps": 3')
    with open(os.path.join(path, "config.json"), "w") as f:
        f.write(config)
    code, out, err = run_cli(["train", "--resume", path, "--data-dir", DATA_DIR])
    assert code == 0, err  # the stale lock is taken over
    assert not os.path.exists(os.path.join(path, ".lock"))


# 2 -------------------------------------------------------------------------------------------
def _trickle(conn, stop):
    """Answer with headers, then one byte every 0.3 s."""
    try:
        conn.recv(4096)
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 100000\r\n\r\n")
        while not stop.is_set():
            conn.sendall(b"\x1f")
            time.sleep(0.3)
    except OSError:
        pass


def _serve(listener, mode, stop, accepted):
    listener.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        accepted.append(conn)
        if mode == "trickle":
            threading.Thread(target=_trickle, args=(conn, stop), daemon=True).start()


@contextlib.contextmanager
def slow_server(mode):
    """A real HTTP server on loopback: 'trickle' sends a byte every 0.3 s, 'silent' accepts and
    never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop, accepted = threading.Event(), []
    thread = threading.Thread(target=_serve, args=(listener, mode, stop, accepted), daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d/" % listener.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()


def only_labels_missing(target):
    os.makedirs(target)
    for name in os.listdir(DATA_DIR):
        if name.endswith(".gz") and not name.startswith(LABELS):
            os.symlink(os.path.join(DATA_DIR, name), os.path.join(target, name))
    return target


def no_part_files(folder):
    return not [f for f in os.listdir(folder) if f.endswith(".part")]


def test_a_trickling_mirror_meets_the_deadline(tmp_path):
    target = only_labels_missing(str(tmp_path / "d"))
    with slow_server("trickle") as (url, _):
        started = time.time()
        code, _, err = run_cli(["fetch-data", "--data-dir", target, "--mirror", url],
                               env_extra={"TF1_LSTM_FETCH_DEADLINE": "2",
                                          "TF1_LSTM_FETCH_STALL": "1",
                                          "TF1_LSTM_MNIST_MIRROR": ""})
    line = one_line(code, err)
    assert "2 s deadline" in line and time.time() - started < 30
    assert no_part_files(target)


def test_a_silent_mirror_costs_one_stall_not_one_per_file(tmp_path):
    target = str(tmp_path / "empty")
    with slow_server("silent") as (url, accepted):
        started = time.time()
        code, _, err = run_cli(["fetch-data", "--data-dir", target, "--mirror", url],
                               env_extra={"TF1_LSTM_FETCH_STALL": "2",
                                          "TF1_LSTM_MNIST_MIRROR": ""})
    line = one_line(code, err)
    assert "did not answer within 2 s" in line
    assert len(accepted) == 1, "the stalled mirror was asked again"
    assert time.time() - started < 20  # one stall (2 s) plus the public mirrors failing


def test_ctrl_c_while_fetching_leaves_no_part_file(tmp_path):
    target = only_labels_missing(str(tmp_path / "d"))
    with slow_server("trickle") as (url, accepted):
        proc = start(["fetch-data", "--data-dir", target, "--mirror", url],
                     TF1_LSTM_FETCH_DEADLINE="120")
        deadline = time.time() + 30
        while not [f for f in os.listdir(target) if f.endswith(".part")] and \
                time.time() < deadline:
            time.sleep(0.1)
        assert not no_part_files(target), "the fetch never started"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    line = one_line(proc.returncode, err, expected=130)
    assert "interrupted" in line
    assert no_part_files(target)


# 3 -------------------------------------------------------------------------------------------
def test_disk_full_while_checkpointing(mount):
    out = os.path.join(mount(3), "run")
    code, _, err = run_cli(["train", "--steps", "200", "--seed", "0", "--threads", "1",
                            "--checkpoint-every", "10", "--data-dir", DATA_DIR, "--out", out])
    line = one_line(code, err)
    assert "out of space at step" in line and "tf1-lstm train --resume %s" % out in line


# 4 -------------------------------------------------------------------------------------------
def test_read_only_data_dir_with_a_missing_file(mount):
    def fill(point):
        for name in os.listdir(DATA_DIR):
            if name.endswith(".gz") and not name.startswith(LABELS):
                shutil.copy(os.path.join(DATA_DIR, name), point)

    data = mount(30, read_only=True, fill=fill)
    for command in (["fetch-data"], ["train", "--steps", "1", "--out", os.path.join(
            os.path.dirname(data), "run4")]):
        code, _, err = run_cli(command + ["--data-dir", data, "--mirror", DATA_DIR])
        line = one_line(code, err)
        assert "cannot be written to (Read-only file system)" in line and data in line


# 5 -------------------------------------------------------------------------------------------
def test_a_damaged_final_model(tmp_path, run_dir):
    damaged = str(tmp_path / "damaged")
    shutil.copytree(run_dir, damaged)
    data_file = [f for f in os.listdir(os.path.join(damaged, "model")) if ".data-" in f][0]
    with open(os.path.join(damaged, "model", data_file), "r+b") as f:
        f.truncate(1000)
    image = str(tmp_path / "seven.png")
    _png(image)
    for command in (["evaluate", damaged, "--data-dir", DATA_DIR], ["predict", damaged, image],
                    ["export", damaged, str(tmp_path / "exported")]):
        code, _, err = run_cli(command)
        line = one_line(code, err)
        assert "model is damaged" in line and "step-000020" in line, line
    assert not os.path.exists(str(tmp_path / "exported"))


def _png(path):
    """A real MNIST test digit, as a PNG (white on black, as stored)."""
    from PIL import Image

    from tf1_lstm.core import data
    Image.fromarray(data.read_idx(DATA_DIR, "t10k-images-idx3-ubyte")[0]).save(path)


# 6 -------------------------------------------------------------------------------------------
def test_export_to_an_impossible_place(tmp_path, run_dir, mount):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    read_only = mount(1, read_only=True)
    for target, expected in (("/proc/x", "choose another directory"),
                             (str(a_file / "x"), "is a file"),
                             (os.path.join(read_only, "x"), "choose another directory")):
        code, _, err = run_cli(["export", run_dir, target])
        assert expected in one_line(code, err)


# 7 -------------------------------------------------------------------------------------------
def test_evaluate_a_run_in_a_read_only_place(tmp_path, run_dir, mount):
    copy = mount(20, read_only=True, fill=lambda p: shutil.copytree(run_dir, p + "/run"))
    code, out, err = run_cli(["evaluate", copy + "/run", "--data-dir", DATA_DIR])
    line = one_line(code, err)
    assert "test accuracy =" in out  # the results were printed before the files failed
    assert "could not write the results" in line and "--out" in line
    code, out, err = run_cli(["evaluate", copy + "/run", "--data-dir", DATA_DIR, "--out",
                              str(tmp_path / "results")])
    assert code == 0, err
    assert os.path.isfile(str(tmp_path / "results" / "evaluation.json"))


# 8 -------------------------------------------------------------------------------------------
def test_compare_refuses_what_is_not_a_report(tmp_path, run_dir):
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    empty = tmp_path / "empty"
    empty.mkdir()
    for other in (str(empty), run_dir, str(listed)):
        code, _, err = run_cli(["compare", other, other])
        assert "not a tf1-lstm report.json" in one_line(code, err)


# 9 -------------------------------------------------------------------------------------------
def test_bench_out_is_a_directory(tmp_path):
    started = time.time()
    code, _, err = run_cli(["bench", "--out", str(tmp_path)])
    assert "is a directory" in one_line(code, err) and time.time() - started < 30


# 10 ------------------------------------------------------------------------------------------
def test_ctrl_c_at_the_start_of_train(tmp_path):
    out = str(tmp_path / "run")
    proc = start(["train", "--data-dir", DATA_DIR, "--out", out])
    time.sleep(1.0)  # importing TensorFlow
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert "interrupted" in one_line(proc.returncode, err, expected=130)
    assert not os.path.exists(out)


def loaded(pid, library, timeout=60):
    """Wait until the process has mapped `library`: a point in its start-up, whatever the load."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open("/proc/%d/maps" % pid) as f:
            if library in f.read():
                return
        time.sleep(0.01)
    raise AssertionError("%s never loaded" % library)


@pytest.mark.parametrize("later", [0.0, 0.3, 0.7, 1.5, 3.0])
def test_ctrl_c_at_any_moment_of_start_up(tmp_path, later):
    """Found in CI: under load a Ctrl-C during TensorFlow's import was swallowed there, and the
    run went on training. numpy is loaded just after the CLI takes over Ctrl-C; from then on,
    through TF's import and the graph's construction, a Ctrl-C ends the command in one line."""
    out = str(tmp_path / "run")
    proc = start(["train", "--data-dir", DATA_DIR, "--out", out])
    loaded(proc.pid, "_multiarray_umath")
    time.sleep(later)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    line = one_line(proc.returncode, err, expected=130)
    if "resume with" not in line:  # stopped before the loop (3 s in is the loop on a fast machine)
        assert "interrupted" in line and not os.path.exists(out), line


def python(code):
    """Run a short script with interrupts installed as the CLI does; the finished process."""
    code = "import os, signal, sys\nfrom tf1_lstm.util import interrupts\n" + code
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=60)


def test_a_swallowed_ctrl_c_is_raised_again_at_the_next_check():
    code = ("interrupts.install()\n"
            "try:\n"
            "    os.kill(os.getpid(), signal.SIGINT)\n"
            "except BaseException:\n"
            "    pass  # what a library's catch-all does to it\n"
            "print('went on')\n"
            "interrupts.check()\n"
            "print('not reached')\n")
    proc = python(code)
    assert proc.stdout == "went on\n" and "KeyboardInterrupt" in proc.stderr


def test_a_ctrl_c_inside_a_finalizer_is_raised_just_after_it_without_a_traceback():
    """Found in CI (Python 3.6): a Ctrl-C during TensorFlow's import landed in importlib's
    module-lock callback, and Python printed it as "Exception ignored in", traceback and all."""
    code = ("import time\n"
            "interrupts.install()\n"
            "class Held:\n"
            "    def __del__(self):\n"
            "        os.kill(os.getpid(), signal.SIGINT)\n"
            "        sum(range(100000))  # the signal's handler runs in here\n"
            "try:\n"
            "    Held()\n"
            "    time.sleep(5)\n"
            "    print('not interrupted')\n"
            "except KeyboardInterrupt:\n"
            "    print('interrupted after the finalizer')\n")
    proc = python(code)
    assert proc.stdout == "interrupted after the finalizer\n" and proc.stderr == "", proc.stderr


def test_a_ctrl_c_raised_by_a_check_is_not_raised_again_by_the_retry():
    """Found in CI (Python 3.6, test_ctrl_c_while_fetching_leaves_no_part_file): a Ctrl-C in a
    finalizer arms a retry; the next check() raised it first, and the retry then raised a second
    one inside the cleanup it had started, leaving a `.part` file behind."""
    code = ("import time\n"
            "interrupts.install()\n"
            "class Held:\n"
            "    def __del__(self):\n"
            "        os.kill(os.getpid(), signal.SIGINT)\n"
            "Held()\n"
            "try:\n"
            "    interrupts.check()\n"
            "except KeyboardInterrupt:\n"
            "    try:\n"
            "        time.sleep(0.2)  # the cleanup: the retry was due 10 ms in\n"
            "        print('cleaned up')\n"
            "    except KeyboardInterrupt:\n"
            "        print('interrupted twice')\n")
    proc = python(code)
    assert proc.stdout == "cleaned up\n" and proc.stderr == "", (proc.stdout, proc.stderr)


def test_a_ctrl_c_inside_a_deferred_block_is_raised_when_it_ends():
    """A study sends its runs in such a block: a Ctrl-C there stops every run it sent."""
    code = ("interrupts.install()\n"
            "with interrupts.deferred():\n"
            "    os.kill(os.getpid(), signal.SIGINT)\n"
            "    print('finished the block')\n"
            "print('not reached')\n")
    proc = python(code)
    assert proc.stdout == "finished the block\n" and "KeyboardInterrupt" in proc.stderr


@pytest.mark.parametrize("unwind", [True, False])
def test_a_half_built_object_prints_nothing_under_the_interrupted_line(unwind):
    """The case CI met: a Ctrl-C inside tqdm's constructor (here, when it asks whether its
    stream is a terminal) leaves a bar whose finalizer fails; without the quiet unwind its
    traceback is printed under the line."""
    code = ("from tqdm import tqdm\n"
            "class Stream:\n"
            "    def isatty(self):\n"
            "        os.kill(os.getpid(), signal.SIGINT)\n"
            "    write = flush = lambda self, *text: None\n"
            "interrupts.install()\n"
            "try:\n"
            "    tqdm(total=10, file=Stream(), disable=None)\n"
            "except KeyboardInterrupt as err:\n"
            "    if %s:\n"
            "        interrupts.say_interrupted('cmd', err)\n"
            "    else:\n"
            "        print('cmd: interrupted', file=sys.stderr)\n" % unwind)
    proc = python(code)
    assert proc.stderr.startswith("cmd: interrupted\n")
    assert ("Exception ignored" in proc.stderr) is not unwind, proc.stderr


def test_a_graph_cut_short_prints_nothing_above_the_interrupted_line():
    """Found in CI (test_ctrl_c_at_any_moment_of_start_up): a Ctrl-C inside dynamic_rnn left
    TensorArrays never used; TensorFlow's logger, which holds the stderr it started with, printed
    "Object was never used" for each as the frames were freed."""
    code = ("import tensorflow as tf\n"
            "def build():\n"
            "    unread = tf.TensorArray(tf.float32, size=28).unstack(tf.zeros([28, 4]))\n"
            "    raise KeyboardInterrupt  # where the Ctrl-C landed\n"
            "try:\n"
            "    build()\n"
            "except KeyboardInterrupt as err:\n"
            "    interrupts.say_interrupted('cmd', err)\n"
            "print('went on', file=sys.stderr)\n")
    proc = python(code)
    lines = [line for line in proc.stderr.splitlines() if not line.startswith("WARNING")]
    assert lines == ["cmd: interrupted", "went on"], proc.stderr


# 11 ------------------------------------------------------------------------------------------
def test_predict_refuses_a_huge_image(tmp_path, run_dir):
    path = str(tmp_path / "huge.png")

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + \
            struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    with open(path, "wb") as f:  # a PNG whose header claims 15000 x 15000 pixels, 1 KB in all
        f.write(b"\x89PNG\r\n\x1a\n" +
                chunk(b"IHDR", struct.pack(">IIBBBBB", 15000, 15000, 8, 0, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(bytes(1000))) + chunk(b"IEND", b""))
    code, _, err = run_cli(["predict", run_dir, path])
    line = one_line(code, err)
    assert "15000 x 15000" in line and "25000000-pixel limit" in line


# 12 ------------------------------------------------------------------------------------------
def test_out_that_is_not_utf8_is_refused_before_training(tmp_path):
    out = os.path.join(str(tmp_path), os.fsdecode(b"x\xffname"))
    code, _, err = run_cli(["train", "--data-dir", DATA_DIR, "--out", out],
                           env_extra={"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"})
    assert "not valid UTF-8" in one_line(code, err)
    assert os.listdir(str(tmp_path)) == []


# 13 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("edit, command, expected", [
    ('[1]', "evaluate", "is not a run's config"),
    ('"cell": "gru"', "predict", "has cell='gru', which tf1-lstm never writes"),
    ('"cell": "rnn"', "predict", "config.json changed after the run finished: restore it as "
                                 "the run left it, or train the run again"),
    ('"cell": "rnn", unsealed', "predict", "does not fit its config.json (cell=rnn"),
])
def test_hand_edited_config(tmp_path, run_dir, edit, command, expected):
    """A run's seal names an edit first; a run older than seals, the model's misfit."""
    copy = str(tmp_path / "run")
    shutil.copytree(run_dir, copy)
    if edit.endswith(", unsealed"):
        edit = edit[:-len(", unsealed")]
        os.remove(os.path.join(copy, "seal.json"))
    path = os.path.join(copy, "config.json")
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(edit if edit.startswith("[") else text.replace('"cell": "lstm"', edit))
    image = str(tmp_path / "d.png")
    _png(image)
    args = [command, copy] + ([image] if command == "predict" else ["--data-dir", DATA_DIR])
    code, _, err = run_cli(args)
    assert expected in one_line(code, err)


def _stopped_run(tmp_path, run_dir):
    """A copy of the finished run turned back into a stopped one (no metrics, no model)."""
    copy = str(tmp_path / "stopped")
    shutil.copytree(run_dir, copy)
    for name in ("metrics.json", "seal.json"):
        os.remove(os.path.join(copy, name))
    shutil.rmtree(os.path.join(copy, "model"))
    return copy


def test_hand_emptied_progress_falls_back_to_an_older_checkpoint(tmp_path, run_dir):
    copy = _stopped_run(tmp_path, run_dir)
    with open(os.path.join(copy, "checkpoints", "step-000020", "progress.json"), "w") as f:
        f.write("{}")
    code, out, err = run_cli(["train", "--resume", copy, "--data-dir", DATA_DIR])
    assert code == 0, err
    assert "Resumed from %s after 10 steps" % os.path.join(copy, "checkpoints", "step-000010") \
        in out


# 14 ------------------------------------------------------------------------------------------
def test_truncated_sampler_has_no_ignored_exception(tmp_path, run_dir):
    copy = _stopped_run(tmp_path, run_dir)
    for step in os.listdir(os.path.join(copy, "checkpoints")):
        path = os.path.join(copy, "checkpoints", step, "sampler.npz")
        with open(path, "r+b") as f:
            f.truncate(100)
    code, _, err = run_cli(["train", "--resume", copy, "--data-dir", DATA_DIR])
    line = one_line(code, err)
    assert "no usable checkpoint" in line and "sampler.npz is damaged" in line


# 15 ------------------------------------------------------------------------------------------
def test_a_gzip_bomb_is_refused_at_the_size_the_file_may_have(tmp_path):
    target = only_labels_missing(str(tmp_path / "d"))
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    with open(os.path.join(target, LABELS + ".gz"), "wb") as f:
        f.write(squeeze.compress(b"\x00\x00\x08\x01" + struct.pack(">i", 60000)))
        for _ in range(256):  # 256 MiB of zeros in about 250 KB
            f.write(squeeze.compress(bytes(1 << 20)))
        f.write(squeeze.flush())
    started = time.time()
    code, _, err = run_cli(["fetch-data", "--data-dir", target])
    line = one_line(code, err)
    assert "expands beyond the 60008 bytes" in line and time.time() - started < 30


# wording -------------------------------------------------------------------------------------
def test_data_dir_that_is_a_file(tmp_path):
    a_file = tmp_path / "f"
    a_file.write_text("x")
    code, _, err = run_cli(["fetch-data", "--data-dir", str(a_file)])
    assert "is a file, not a folder" in one_line(code, err)


def test_a_corrupt_file_in_a_mirror_folder_is_named_there(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with gzip.open(os.path.join(DATA_DIR, LABELS + ".gz")) as f:
        raw = bytearray(f.read())
    raw[-1] = (raw[-1] + 1) % 10
    (mirror / (LABELS + ".gz")).write_bytes(gzip.compress(bytes(raw)))
    target = only_labels_missing(str(tmp_path / "d"))
    code, _, err = run_cli(["fetch-data", "--data-dir", target, "--mirror", str(mirror)],
                           env_extra={"TF1_LSTM_MNIST_MIRROR": ""})
    line = one_line(code, err)
    assert str(mirror / LABELS) + ".gz has SHA-256" in line
    assert ".part" not in line and "delete it" not in line


def test_a_data_error_leaves_no_empty_run_directory(tmp_path):
    out = str(tmp_path / "run")
    code, _, err = run_cli(["train", "--data-dir", str(tmp_path / "nowhere"), "--out", out],
                           env_extra={"TF1_LSTM_FETCH_STALL": "1"})
    one_line(code, err)
    assert not os.path.exists(out) and not os.path.exists(str(tmp_path / "nowhere"))


def test_using_a_stopped_run_points_to_resume(tmp_path, run_dir):
    copy = _stopped_run(tmp_path, run_dir)
    code, _, err = run_cli(["evaluate", copy, "--data-dir", DATA_DIR])
    assert "tf1-lstm train --resume %s" % copy in one_line(code, err)


def test_steps_has_a_sane_upper_bound():
    code, _, err = run_cli(["train", "--steps", "3000000000"])
    assert "between 1 and 1000000" in one_line(code, err)
