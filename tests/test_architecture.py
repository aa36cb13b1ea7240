"""The layout's one-way dependency rule: flows -> tasks -> rovercam, and rovercam never imports Prefect."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _imports(folder: str) -> dict[str, set[str]]:
    out = {}
    for path in (REPO / folder).rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        out[str(path.relative_to(REPO))] = names
    return out


def test_rovercam_never_imports_prefect_flows_or_tasks():
    offenders = {f: n & {"prefect", "rovercam_flows", "rovercam_tasks"} for f, n in _imports("rovercam").items()}
    # The one exception: the command line is the application's edge, and its orchestrating verbs
    # (demo, run) import rovercam_flows inside the verb, never at module level (checked below).
    offenders.pop("rovercam/cli.py", None)
    assert {f: n for f, n in offenders.items() if n} == {}


def test_cli_imports_orchestration_only_inside_verbs():
    tree = ast.parse((REPO / "rovercam" / "cli.py").read_text())
    top = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            top.add(node.module.split(".")[0])
    assert not top & {"prefect", "rovercam_flows", "rovercam_tasks"}


def test_tasks_do_not_import_flows():
    offenders = {f: n for f, n in _imports("tasks").items() if "rovercam_flows" in n}
    assert offenders == {}


def test_importing_every_subpackage_leaves_prefect_unloaded():
    code = (
        "import sys, pkgutil, importlib, rovercam\n"
        "for m in pkgutil.walk_packages(rovercam.__path__, 'rovercam.'):\n"
        "    importlib.import_module(m.name)\n"
        "print('prefect' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "False"
