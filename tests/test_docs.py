"""The docs build as a site: every relative link in docs/ resolves to a page or file inside
docs/ (what `mkdocs build --strict` requires), every page is in mkdocs.yml's nav, and every
command of the CLI has a row in the README's table. No TensorFlow."""

import os
import re

import pytest

from conftest import REPO, run_cli

pytestmark = pytest.mark.fast

DOCS = os.path.join(REPO, "docs")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def pages():
    return sorted(name for name in os.listdir(DOCS) if name.endswith(".md"))


@pytest.mark.parametrize("page", pages())
def test_every_relative_link_stays_in_the_docs_and_resolves(page):
    with open(os.path.join(DOCS, page)) as f:
        text = re.sub(r"```.*?```", "", f.read(), flags=re.S)
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = os.path.normpath(os.path.join(DOCS, target.split("#")[0]))
        assert path.startswith(DOCS + os.sep), "%s links %s outside docs/" % (page, target)
        assert os.path.exists(path), "%s links %s, which does not exist" % (page, target)


def test_every_page_is_in_the_nav():
    with open(os.path.join(REPO, "mkdocs.yml")) as f:
        nav = f.read()
    assert [p for p in pages() if p not in nav] == []


def test_the_readme_names_every_command():
    code, out, err = run_cli(["--help"])
    assert code == 0, err
    listed = out.split("COMMAND\n", 2)[2]
    commands = re.findall(r"^    ([a-z][a-z-]*)", listed, re.M)
    assert "train" in commands and "verify" in commands
    with open(os.path.join(REPO, "README.md")) as f:
        table = f.read().split("## Commands", 1)[1].split("##", 1)[0]
    assert [c for c in commands if "`%s`" % c not in table] == []
