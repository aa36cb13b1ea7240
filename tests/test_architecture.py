"""The house plan (docs/architecture.md), enforced.

- Dependencies run one way, down the layers of docs/architecture.md: flows -> tasks -> rovercam,
  and inside rovercam from the edges (cli, testing) down to the foundation (errors, layout).
- No import circles, counting every import: module level, inside functions, and type-only.
- No module imports another module's private (``_underscore``) names.
- No module is longer than 600 lines.
- rovercam never imports Prefect; every package folder is installed.
"""
from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: import name -> folder of the repository
ROOTS = {"rovercam": "rovercam", "rovercam_tasks": "tasks", "rovercam_flows": "flows",
         "rovercam_benchmarks": "benchmarks"}

#: Layers from the ground up (docs/architecture.md draws them). A unit may import its own layer
#: and the layers below it, never one above.
LAYERS: list[tuple[str, set[str]]] = [
    ("foundation", {"rovercam", "rovercam.errors", "rovercam.provenance", "rovercam.bands", "rovercam.layout"}),
    ("settings", {"rovercam.registry", "rovercam.config"}),
    ("geometry and storage", {"rovercam.camera", "rovercam.storage"}),
    ("products", {"rovercam.products"}),
    ("pixels and sources", {"rovercam.radiometry", "rovercam.metrics", "rovercam.sources", "rovercam.terrain"}),
    ("frame chain and generator", {"rovercam.chain", "rovercam.synth"}),
    ("mosaics and stereo", {"rovercam.mosaic", "rovercam.stereo"}),
    ("catalog", {"rovercam.catalog"}),
    ("stages", {"rovercam.ingest", "rovercam.publish", "rovercam.edl", "rovercam.viewer", "rovercam.cachekey"}),
    ("pipeline", {"rovercam.pipeline"}),
    ("edges", {"rovercam.testing", "rovercam.cli"}),
    ("tasks", {"rovercam_tasks"}),
    ("flows", {"rovercam_flows"}),
    ("benchmarks", {"rovercam_benchmarks"}),
]
LAYER_OF = {unit: i for i, (_, units) in enumerate(LAYERS) for unit in units}

#: The one sanctioned upward step: the command line's orchestrating verbs import the flows and
#: the benchmarks inside the verb (checked by test_cli_imports_orchestration_only_inside_verbs).
UPWARD_OK = {("rovercam.cli", "rovercam_flows"), ("rovercam.cli", "rovercam_benchmarks")}

MAX_LINES = 600


def _modules() -> dict[str, Path]:
    mods = {}
    for name, folder in ROOTS.items():
        for path in (REPO / folder).rglob("*.py"):
            parts = [name, *path.relative_to(REPO / folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The repository module ``name`` refers to (a module, or the package holding a name)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> list[tuple[str, str, int]]:
    """(target module, imported name, line) of every import in ``module``, at any depth."""
    path = MODULES[module]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(t, a.name, node.lineno) for a in node.names if (t := _resolve(a.name))]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for a in node.names:
                target = _resolve(f"{source}.{a.name}") if f"{source}.{a.name}" in MODULES else _resolve(source)
                if target:
                    out.append((target, a.name, node.lineno))
    return [(t, n, line) for t, n, line in out if t != module]


GRAPH = {m: _imports(m) for m in MODULES}


def _unit(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "rovercam" and len(parts) > 1 else parts[0]


def test_every_unit_has_a_layer():
    assert sorted({_unit(m) for m in MODULES} - set(LAYER_OF)) == []


def test_dependencies_run_down_the_layers():
    upward = []
    for module, imports in GRAPH.items():
        a = _unit(module)
        for target, name, line in imports:
            b = _unit(target)
            if LAYER_OF[b] > LAYER_OF[a] and (a, b) not in UPWARD_OK:
                upward.append(f"{MODULES[module].relative_to(REPO)}:{line} imports {target} "
                              f"({LAYERS[LAYER_OF[a]][0]} -> {LAYERS[LAYER_OF[b]][0]})")
    assert upward == []


def _circles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w, _, _ in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(GRAPH)))
    for v in GRAPH:
        if v not in index:
            visit(v)
    return found


def test_no_import_circles():
    assert _circles() == []


def test_the_circle_check_finds_a_circle():
    # The check itself must be able to fail: a two-module loop is seen.
    saved = dict(GRAPH)
    try:
        GRAPH["rovercam.errors"] = [*GRAPH["rovercam.errors"], ("rovercam.layout", "x", 1)]
        GRAPH["rovercam.layout"] = [*GRAPH["rovercam.layout"], ("rovercam.errors", "y", 1)]
        assert ["rovercam.errors", "rovercam.layout"] in _circles()
    finally:
        GRAPH.clear()
        GRAPH.update(saved)


def test_no_module_imports_another_modules_private_names():
    private = [f"{MODULES[m].relative_to(REPO)}:{line} takes {name} from {target}"
               for m, imports in GRAPH.items() for target, name, line in imports
               if name.split(".")[-1].startswith("_") and not name.startswith("__")]
    assert private == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_over_the_line_limit(module):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{MODULES[module].relative_to(REPO)}: {lines} lines (limit {MAX_LINES}); split it"


def test_rovercam_never_imports_prefect():
    offenders = {}
    for module, path in MODULES.items():
        # the command line is the application's edge: its verbs may set up Prefect's logging
        # inside the verb (never at module level: the next test)
        if not module.startswith("rovercam.") or _unit(module) == "rovercam.cli":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            if any(n.split(".")[0] == "prefect" for n in names):
                offenders.setdefault(str(path.relative_to(REPO)), []).append(node.lineno)
    assert offenders == {}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _unit(m) == "rovercam.cli"))
def test_cli_imports_orchestration_only_inside_verbs(module):
    tree = ast.parse(MODULES[module].read_text())
    top = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            top.add(node.module.split(".")[0])
    assert not top & {"prefect", "rovercam_flows", "rovercam_tasks", "rovercam_benchmarks"}


def test_the_cli_is_a_package_of_verb_modules():
    # the check above must see every verb module, not an empty selection
    assert {"rovercam.cli", "rovercam.cli.catalog", "rovercam.cli.orchestration"} <= set(MODULES)


def test_importing_every_subpackage_leaves_prefect_unloaded():
    code = (
        "import sys, pkgutil, importlib, rovercam\n"
        "for m in pkgutil.walk_packages(rovercam.__path__, 'rovercam.'):\n"
        "    importlib.import_module(m.name)\n"
        "print('prefect' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "False"


def test_every_package_folder_is_installed():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    folders = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "rovercam").rglob("*.py")}
    assert sorted(folders - listed) == []
    assert {config["package-dir"][name] for name in ("rovercam_flows", "rovercam_tasks", "rovercam_benchmarks")} \
        == {"flows", "tasks", "benchmarks"}


def test_every_data_file_in_the_package_is_installed():
    import fnmatch

    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs = config["package-data"]
    missing = []
    for path in (REPO / "rovercam").rglob("*"):
        if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(REPO)
        package = max((p for p in config["packages"] if p.startswith("rovercam")
                       and rel.parts[:len(p.split("."))] == tuple(p.split("."))),
                      key=lambda p: len(p.split(".")))
        inner = rel.relative_to(*package.split(".")).as_posix()
        if not any(fnmatch.fnmatch(inner, g) for g in globs.get(package, ())):
            missing.append(str(rel))
    assert missing == []
