"""The layout is the architecture: the post's program (`core`) and the sister posts' (`posts`)
import nothing from the use of a trained model (`serving`) or from the studies, and `util`
imports none of them."""

import ast
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.fast
PACKAGE = os.path.join(REPO, "tf1_lstm")
ALLOWED = {  # subpackage -> the tf1_lstm subpackages its modules may import
    "cli": {"cli", "core", "posts", "serving", "studies", "util"},
    "core": {"core", "util"},
    "posts": {"core", "posts", "util"},  # the sister posts' programs: no harness either
    "serving": {"core", "serving", "util"},
    "studies": {"core", "posts", "serving", "studies", "util"},
    "util": {"util"},
}


def imported(path):
    """The tf1_lstm.* names a module imports, each as its parts after tf1_lstm."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module + "." + alias.name for alias in node.names]
        for name in names:
            parts = tuple(name.split("."))
            if parts[0] == "tf1_lstm" and len(parts) > 1 and parts[1] != "__version__":
                found.add(parts[1:])
    return found


def imported_subpackages(path):
    """The tf1_lstm.<subpackage> names a module imports."""
    return {parts[0] for parts in imported(path)}


def modules_under(folder):
    """Every .py file under `folder`, its subpackages' included."""
    return [os.path.join(root, name) for root, _, names in os.walk(folder)
            for name in names if name.endswith(".py")]


@pytest.mark.parametrize("subpackage", sorted(ALLOWED))
def test_imports_stay_inside_the_layout(subpackage):
    modules = modules_under(os.path.join(PACKAGE, subpackage))
    assert modules
    for module in modules:
        wrong = imported_subpackages(module) - ALLOWED[subpackage]
        assert not wrong, "%s imports tf1_lstm.%s" % (os.path.relpath(module, PACKAGE),
                                                      ", ".join(wrong))


def test_the_engine_is_a_floor_the_studies_stand_on():
    """studies/engine knows no study: reports, sections and tools import it, never the reverse."""
    modules = modules_under(os.path.join(PACKAGE, "studies", "engine"))
    assert len(modules) >= 8
    for module in modules:
        above = {".".join(parts[:2]) for parts in imported(module)
                 if parts[0] == "studies" and parts[1:2] != ("engine",)}
        assert not above, "%s imports tf1_lstm.%s" % (os.path.relpath(module, PACKAGE), above)


@pytest.mark.parametrize("command, modules", [
    ("train", ()), ("diagnose", ("tf1_lstm.studies.tools.diagnose",)),
    ("post", ("tf1_lstm.posts.run",))])
def test_a_study_s_training_process_imports_no_cli_and_no_engine(tmp_path, command, modules):
    """tf1_lstm.task builds each kind of run's config as its command does, without the command
    line (cli), the study engine or Dask in the process."""
    from tf1_lstm.core import task
    from tf1_lstm.studies import engine
    spec = engine.spec("lstm", 3, 20, 1, command=command,
                       options=(("post", "000"), ("epochs", 1)) if command == "post" else ())
    record = json.dumps(engine.task(spec, str(tmp_path / "run")))
    code = ("import json, sys, importlib\n"
            "config, _ = importlib.import_module(sys.argv[2]).job(json.loads(sys.argv[1]))\n"
            "print(json.dumps([config.run_dir, sorted(sys.modules)]))\n")
    done = subprocess.run([sys.executable, "-c", code, record, task.PROCESS], cwd=REPO, check=True,
                          stdout=subprocess.PIPE, universal_newlines=True)
    run_dir, loaded = json.loads(done.stdout)
    assert run_dir == str(tmp_path / "run") and task.PROCESS == "tf1_lstm.task"
    assert [m for m in loaded if m.startswith(("tf1_lstm.cli", "tf1_lstm.studies.engine",
                                               "distributed", "dask"))] == []
    assert set(modules) <= set(loaded)


def test_the_check_sees_a_forbidden_import(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text("def f():\n    from tf1_lstm.studies import report\n")
    assert imported_subpackages(str(path)) - ALLOWED["core"] == {"studies"}


def test_tfcompat_is_the_one_place_versions_differ():
    """No other module reaches for a version-specific API."""
    specific = re.compile(r"tensorflow\.contrib|tf\.contrib|tf_slim|tensorflow\.compat|"
                          r"compat\.v1|disable_v2_behavior")
    allowed = {os.path.join("core", "tfcompat.py"),
               os.path.join("studies", "tools", "bench.py")}  # the post's own reader (1.x)
    for root, _, names in os.walk(PACKAGE):
        for name in names:
            if not name.endswith(".py"):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, PACKAGE)
            with open(path) as f:
                code = "\n".join(line.split("#")[0] for line in f)
            if rel not in allowed:
                assert not specific.search(code), rel
