"""Bad input fails at once: one line on stderr naming the problem and the fix, exit 2, no files."""

import os

import pytest

from tf1_lstm import cli
from tf1_lstm.core import datasets

from conftest import DATA_DIR, one_line, run_cli


def fails(capsys, argv):
    """Run the CLI in-process; return its one stderr line, asserting exit 2 and no stdout."""
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(cli.main(argv))
    captured = capsys.readouterr()
    assert exit_info.value.code == 2, captured
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


@pytest.mark.fast
@pytest.mark.parametrize("argv, message", [
    (["train", "--steps", "0"], "--steps: must be between 1 and 1000000 (about 9 hours"),
    (["train", "--steps", "ten"], "--steps: 'ten' is not a whole number"),
    (["train", "--batch-size", "-3"], "--batch-size: must be a positive whole number"),
    (["train", "--lr", "0"], "--lr: must be a positive finite number"),
    (["train", "--lr", "nan"], "--lr: must be a positive finite number"),
    (["train", "--cell", "gru"], "--cell: invalid choice: 'gru'"),
    (["train", "--seed", "-1"], "--seed: must be between 0 and 2147483646"),
    (["train", "--threads", "0"], "--threads: must be between 1 and 256"),
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_flags(capsys, argv, message):
    assert message in fails(capsys, argv)


@pytest.mark.fast
def test_batch_larger_than_the_training_set(capsys, tmp_path):
    line = fails(capsys, ["train", "--batch-size", "60000", "--out", str(tmp_path / "r")])
    assert "larger than the 55000 training images" in line
    assert not os.path.exists(str(tmp_path / "r"))


@pytest.mark.fast
def test_unwritable_out_dir(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    line = fails(capsys, ["train", "--out", str(blocker / "run")])
    assert "is not a writable directory" in line and "choose another directory" in line


@pytest.mark.fast
def test_out_dir_that_already_holds_a_run(capsys, tmp_path):
    (tmp_path / "metrics.json").write_text("{}")
    line = fails(capsys, ["train", "--out", str(tmp_path)])
    assert "already holds files" in line


def test_missing_data_offline(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(datasets.DATASETS, "mnist",
                        datasets.MNIST._replace(mirrors=("http://127.0.0.1:9/",)))
    monkeypatch.delenv(datasets.MNIST.mirror_env, raising=False)
    empty = str(tmp_path / "nodata")
    line = fails(capsys, ["train", "--steps", "1", "--data-dir", empty,
                          "--out", str(tmp_path / "run")])
    assert "MNIST files missing from %s" % empty in line and "--mirror" in line
    assert not os.path.exists(str(tmp_path / "run" / "config.json"))


@pytest.mark.fast
def test_fetch_data_verifies_the_committed_copy():
    code, out, err = run_cli(["fetch-data", "--data-dir", DATA_DIR])
    assert code == 0, err
    assert len([line for line in out.splitlines() if "  ok  " in line]) == 4


@pytest.mark.fast
def test_help_and_version():
    code, out, _ = run_cli(["--help"])
    assert code == 0 and "train" in out
    code, out, _ = run_cli(["train", "--help"])
    assert code == 0 and "--seed" in out and "--cell {lstm,rnn,irnn}" in out
    code, out, _ = run_cli(["--version"])
    assert code == 0 and out.startswith("tf1-lstm ")


@pytest.mark.fast
def test_ctrl_c_while_the_flags_are_read_is_one_line(capsys, monkeypatch):
    """Found under load on Python 3.6: a Ctrl-C 0.5 s after the start arrived while the flags'
    parser was being built, before main's own handling, and printed a traceback."""
    def interrupted():
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["report"]) == 130
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "tf1-lstm: interrupted while starting; nothing was done\n"


BUGGED = ("import sys\nfrom tf1_lstm import cli\nfrom tf1_lstm.studies.tools import compare\n"
          "compare.compare = lambda *reports: {}['a key compare always has']  # a stand-in bug\n"
          "sys.exit(cli.main(sys.argv[1:]))\n")


@pytest.mark.fast
def test_a_bug_is_a_traceback_and_says_so_never_bad_input(tmp_path):
    """A programming error in a command is not "bad input" (exit 2): its traceback, one line
    saying it is a bug, exit 70. Bad input to the same command is still one line, exit 2."""
    import json
    import subprocess
    import sys
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"settings": {}, "claims": [], "runs": [], "environment": {}}))
    bugged = subprocess.run([sys.executable, "-c", BUGGED, "compare", str(report), str(report)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    assert bugged.returncode == 70, bugged.stderr
    assert "Traceback (most recent call last)" in bugged.stderr and "KeyError" in bugged.stderr
    assert bugged.stderr.strip().splitlines()[-1] == (
        "tf1-lstm compare: this is a bug in tf1-lstm, not in what you gave it: please report it "
        "with the command and the traceback above")
    report.write_text(json.dumps({"settings": {}, "claims": [], "runs": []}))
    code, _, err = run_cli(["compare", str(report), str(report)])
    line = one_line(code, err)
    assert "is not a tf1-lstm report.json (no settings, claims, runs, environment)" in line
