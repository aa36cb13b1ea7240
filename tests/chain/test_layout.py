"""The chain package's shape: one-way imports between its modules, no private names shared."""
from __future__ import annotations

import ast
from pathlib import Path

import rovercam.chain

PACKAGE = Path(rovercam.chain.__file__).parent
ORDER = ["frame", "plan", "pixels", "codec", "run"]  # each may import only modules before it


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every ``from rovercam.chain.<module> import ...``, TYPE_CHECKING ones included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rovercam.chain."):
            out.append((node.module.rsplit(".", 1)[1], [a.name for a in node.names]))
    return out


def test_modules_import_one_way_and_share_no_private_names():
    assert sorted(p.stem for p in PACKAGE.glob("*.py")) == sorted(ORDER + ["__init__"])
    for name in ORDER:
        for module, names in _imports(PACKAGE / f"{name}.py"):
            assert ORDER.index(module) < ORDER.index(name), f"{name} imports {module}"
            assert not [n for n in names if n.startswith("_")], f"{name} imports private {names} from {module}"


def test_modules_stay_small():
    for path in PACKAGE.glob("*.py"):
        assert len(path.read_text().splitlines()) < 600, path.name
