"""The layout is the architecture: the post's program (`core`) imports nothing from the use of a
trained model (`serving`) or from the studies, and `util` imports none of the three."""

import ast
import os

import pytest

from conftest import REPO

pytestmark = pytest.mark.fast
PACKAGE = os.path.join(REPO, "tf1_lstm")
ALLOWED = {  # subpackage -> the tf1_lstm subpackages its modules may import
    "cli": {"cli", "core", "serving", "studies", "util"},
    "core": {"core", "util"},
    "serving": {"core", "serving", "util"},
    "studies": {"core", "serving", "studies", "util"},
    "util": {"util"},
}


def imported_subpackages(path):
    """The tf1_lstm.<subpackage> names a module imports (the package root counts as '')."""
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
            parts = name.split(".")
            if parts[0] == "tf1_lstm" and len(parts) > 1 and parts[1] != "__version__":
                found.add(parts[1])
    return found


@pytest.mark.parametrize("subpackage", sorted(ALLOWED))
def test_imports_stay_inside_the_layout(subpackage):
    folder = os.path.join(PACKAGE, subpackage)
    modules = [f for f in os.listdir(folder) if f.endswith(".py")]
    assert modules
    for module in modules:
        wrong = imported_subpackages(os.path.join(folder, module)) - ALLOWED[subpackage]
        assert not wrong, "%s/%s imports tf1_lstm.%s" % (subpackage, module, ", ".join(wrong))


def test_the_check_sees_a_forbidden_import(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text("def f():\n    from tf1_lstm.studies import report\n")
    assert imported_subpackages(str(path)) - ALLOWED["core"] == {"studies"}
