"""The import structure of the project, read from the source (ast, nothing is imported or run).

Every .py file under pipelines/ and dashboard/ (and streamlit_app.py) is parsed; every `import x` / `from x import y`
anywhere in it counts, at module level or inside a function (a function-level import is a dependency all the same,
only a later one). `from package import name` counts as an import of the submodule `package.name` when that file
exists, else of the package. Importing `a.b.c` is not counted as importing the packages `a` and `a.b` (their
`__init__` files hold no project code here, except pipelines/stats/__init__.py, which gathers its own submodules).

The rules (docs/architecture.md):
- no cycle among the modules;
- pipelines/ never imports streamlit or dashboard: the library runs without the app;
- the stages import one way: stats <- metrics <- ingest <- release <- (demo, docs, __main__); contract.py,
  sqltext.py and errors.py (the shared base) import nothing of the project, and stats imports nothing outside
  itself;
- the dashboard imports one way: (i18n, data) <- (filters, charts) <- auth <- components <- (pages, print) <-
  streamlit_app;
  a page never imports another page;
- views only draw: the pages and dashboard/charts.py never import pipelines.stats (interval columns come with the
  library's frames) and never import duckdb (dashboard/data.py is the only place the app touches the database).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from conftest import ROOT

PACKAGES = ("pipelines", "dashboard")
BASE = ("pipelines", "pipelines.contract", "pipelines.sqltext", "pipelines.errors")  # import nothing of the project
STAGES = {"stats": 0, "metrics": 1, "ingest": 2, "release": 3, "demo": 4, "docs": 4, "__main__": 4}
DASHBOARD_LAYERS = {"i18n": 0, "data": 0, "filters": 1, "charts": 1, "auth": 2, "report": 2, "components": 3,
                    "print": 4}  # print: the print header and style, beside the pages, drawn by streamlit_app
# Views the command line draws too (no streamlit in them or anything they import): `python -m pipelines report`
COMMAND_LINE_VIEWS = {"dashboard.report"}
PAGE_LAYER, APP_LAYER = 4, 5
# Imports that break a rule today and cannot be fixed in the files of this change: (importer, imported) -> why.
# test_known_exceptions_still_exist fails once one is fixed, so that its entry is removed here.
KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_files() -> dict[str, Path]:
    files = {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))
             if ".venv" not in p.parts}
    files["streamlit_app"] = ROOT / "streamlit_app.py"
    return files


MODULES = project_files()


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    is_package = MODULES[importer].name == "__init__.py"
    base = importer.split(".")[: len(importer.split(".")) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(name: str) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import in the module, at any depth."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"), filename=str(MODULES[name]))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(name, node)
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield (sub if sub in MODULES else target), node.lineno


def graph() -> dict[str, set[str]]:
    """Project module -> the project modules it imports (self-imports of a package's own name left out)."""
    out: dict[str, set[str]] = {}
    for name in MODULES:
        out[name] = {target for target, _ in imports_of(name) if target in MODULES and target != name}
    return out


def edges(importer_prefix: str = "") -> Iterator[tuple[str, str, int]]:
    for name in MODULES:
        if name == importer_prefix or name.startswith(importer_prefix):
            for target, line in imports_of(name):
                yield name, target, line


def where(name: str, line: int) -> str:
    return f"{MODULES[name].relative_to(ROOT)}:{line}"


def find_cycle(g: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(g[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(g):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def stage(name: str) -> int | None:
    parts = name.split(".")
    if parts[0] != "pipelines" or name in BASE:
        return None
    return STAGES.get(parts[1])


def dashboard_layer(name: str) -> int | None:
    if name == "streamlit_app":
        return APP_LAYER
    parts = name.split(".")
    if parts[0] != "dashboard" or len(parts) == 1:
        return None
    if parts[1] == "pages":
        return PAGE_LAYER if len(parts) == 3 else None
    return DASHBOARD_LAYERS.get(parts[1], -1)


def project_target(target: str) -> bool:
    return target.split(".")[0] in PACKAGES


def violations(check) -> list[str]:
    found = []
    for importer, target, line in edges():
        if (importer, target) in KNOWN_EXCEPTIONS:
            continue
        problem = check(importer, target)
        if problem:
            found.append(f"{where(importer, line)}: {importer} imports {target}: {problem}")
    return found


# --------------------------------------------------------------------------------------------------------------
# the graph is what it should be (the rules below test something)
# --------------------------------------------------------------------------------------------------------------


def test_the_graph_sees_every_kind_of_import():
    g = graph()
    assert len(MODULES) > 40
    assert "pipelines.metrics.counting" in g["pipelines.metrics.analysis"]  # from pipelines.metrics import counting
    assert "pipelines.stats" in g["pipelines.metrics.analysis"]  # from pipelines import stats (a package)
    assert "pipelines.ingest.store" in g["pipelines.release.access"]  # from pipelines.ingest.store import name
    assert "pipelines.metrics.responses" in g["pipelines.metrics.small_cells"]  # inside a function
    assert "dashboard.components" in g["dashboard.pages.overview"]  # from dashboard import components as ui
    assert "pipelines.stats._common" in g["pipelines.stats.spc"]


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


# --------------------------------------------------------------------------------------------------------------
# the rules
# --------------------------------------------------------------------------------------------------------------


def test_no_import_cycle():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_pipelines_never_import_streamlit_or_the_dashboard():
    """The library runs without the app. One door: the command line (pipelines/__main__.py) may call a view that
    draws without streamlit (COMMAND_LINE_VIEWS: the monthly report, drawn with the dashboard's charts and texts)."""
    bad = [f"{where(name, line)}: {target}" for name, target, line in edges("pipelines")
           if target.split(".")[0] in ("streamlit", "dashboard")
           and not (name == "pipelines.__main__" and target in COMMAND_LINE_VIEWS)]
    assert bad == []


def test_the_views_the_command_line_draws_never_import_streamlit():
    g = graph()
    seen, todo = set(), list(COMMAND_LINE_VIEWS)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += sorted(g[name])
    assert "dashboard.charts" in seen and "dashboard.i18n" in seen  # the closure is followed
    bad = [f"{where(name, line)}: {target}" for name in sorted(seen) for target, line in imports_of(name)
           if target.split(".")[0] == "streamlit"]
    assert bad == []


def test_the_base_modules_and_stats_import_nothing_of_the_project():
    assert {"pipelines.contract", "pipelines.sqltext"} <= set(MODULES)
    bad = [f"{where(name, line)}: {target}" for name, target, line in edges()
           if name in BASE and project_target(target)]
    bad += [f"{where(name, line)}: {target}" for name, target, line in edges("pipelines.stats")
            if project_target(target) and not (target == "pipelines.stats" or target.startswith("pipelines.stats."))]
    assert bad == []


def test_the_stages_import_one_way():
    """stats <- metrics <- ingest <- release <- (demo, docs, __main__): a stage imports its own and earlier stages
    and the base modules, never a later stage."""
    assert {name.split(".")[1] for name in MODULES if stage(name) is not None} == set(STAGES)

    def check(importer: str, target: str) -> str:
        mine, theirs = stage(importer), stage(target)
        if mine is None or theirs is None or theirs <= mine:
            return ""
        return f"stage {importer.split('.')[1]} may not import the later stage {target.split('.')[1]}"

    assert violations(check) == []


def test_the_dashboard_imports_one_way():
    unknown = [name for name in MODULES if dashboard_layer(name) == -1]
    assert unknown == [], "a new dashboard module needs its place in DASHBOARD_LAYERS (and the module docstrings)"

    def check(importer: str, target: str) -> str:
        mine, theirs = dashboard_layer(importer), dashboard_layer(target)
        if mine is None or theirs is None:
            return ""
        if mine == theirs == PAGE_LAYER:
            return "a page never imports another page"
        if theirs >= mine and importer != "streamlit_app":
            return "the dashboard imports one way: (i18n, data) <- (filters, charts) <- auth <- components <- pages"
        return ""

    assert violations(check) == []


def test_views_only_draw():
    """Pages and charts draw what the library computed: no pipelines.stats (interval columns come with the
    frames), no duckdb (dashboard/data.py is the database's only door)."""
    views = [name for name in MODULES if name.startswith("dashboard.pages.") or name == "dashboard.charts"]
    assert "dashboard.charts" in views and "dashboard.pages.overview" in views
    bad = [f"{where(name, line)}: {target}" for name in views for target, line in imports_of(name)
           if target == "duckdb" or target.startswith("duckdb.") or target == "pipelines.stats"
           or target.startswith("pipelines.stats.")]
    assert bad == []


def test_known_exceptions_still_exist():
    gone = [(importer, target) for importer, target in KNOWN_EXCEPTIONS if target not in graph()[importer]]
    assert gone == [], f"no longer imported, remove from KNOWN_EXCEPTIONS: {gone}"


def streamlit_page_private_attributes() -> set[str]:
    """The private attributes StreamlitPage sets on itself (`self._x = ...`), read from Streamlit's source."""
    import inspect

    import streamlit as st

    tree = ast.parse(Path(inspect.getsourcefile(st.Page)).read_text(encoding="utf-8"))
    cls = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == st.Page.__name__)
    return {t.attr for n in ast.walk(cls) if isinstance(n, (ast.Assign, ast.AnnAssign))
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"
            and t.attr.startswith("_")}


def test_no_private_attribute_of_a_streamlit_page_is_read():
    """Pages are told apart by what st.Page was given (`url_path`, the page table), never by a private attribute
    of StreamlitPage (`_page`, `_url_path`, ...) that a Streamlit release may rename."""
    private = streamlit_page_private_attributes()
    assert {"_page", "_url_path", "_default"} <= private
    files = [MODULES[n] for n in MODULES if n.startswith("dashboard") or n == "streamlit_app"]
    files += sorted((ROOT / "tests").glob("*.py"))
    bad = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in private:
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: .{node.attr}")
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                  and node.func.id in ("getattr", "hasattr") and len(node.args) > 1
                  and isinstance(node.args[1], ast.Constant) and node.args[1].value in private):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.func.id}(..., {node.args[1].value!r})")
    assert bad == []
