"""Generated documents are up to date with the code, and the README keeps its two commands."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

from pipelines import contract
from pipelines.docs import GENERATED


@pytest.mark.parametrize("rel", sorted(GENERATED, key=str), ids=str)
def test_generated_docs_are_current(rel):
    committed = (ROOT / rel).read_text(encoding="utf-8")
    assert committed == GENERATED[rel](), f"{rel} is stale: run `python -m pipelines docs`"


def test_data_contract_lists_every_column():
    text = (ROOT / "docs" / "data-contract.md").read_text(encoding="utf-8")
    for table in contract.TABLES:
        assert f"## `{table.name}`" in text
        for column in table.columns:
            assert f"| `{column.name}` |" in text


def test_readme_has_exactly_two_setup_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Two commands.*?```sh\n(.*?)```", readme, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["make run", "make test"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^run:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("make test")
