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


def test_each_outcomes_documented_sql_runs_and_counts_what_the_product_counts(metrics_con):
    """docs/sql/<outcome>.sql is the definition that runs: on the hand-made fixture it gives the same six counts as
    the dashboard's and the exports' counting (through the published mart)."""
    from conftest import TODAY

    from pipelines.metrics import counting, registry

    expected = counting.counts(metrics_con, as_of=TODAY).set_index("metric")
    for o in registry.OUTCOMES:
        sql = (ROOT / "docs" / "sql" / f"{o.key}.sql").read_text(encoding="utf-8")
        row = metrics_con.execute(sql, {"as_of": TODAY}).df().iloc[0]
        for column in counting.COUNT_COLUMNS:
            assert int(row[column]) == int(expected.loc[o.key, column]), (o.key, column)


def test_registry_values_are_contract_values():
    from pipelines.metrics import registry

    with pytest.raises(ValueError, match="`cosmetics` is not a value of `indication` in the data contract"):
        registry.value("indication", "cosmetics")
    assert registry.among("s.indication", "indication", ("cosmetic", "migraine")) == \
        "s.indication IN ('cosmetic', 'migraine')"
