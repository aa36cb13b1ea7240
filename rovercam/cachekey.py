"""Cache keys: what a result depends on, as one hex digest.

A key is the sha256 of the result's *input content* (product files by their sha256), the
configuration sections that change it, the calibration files it may read, and the version of the
code the stage runs (:func:`stage_code_version`: the stage's modules and everything of rovercam
they import, so editing the viewer or the command line reuses every result).
Keys are computed before any work, so an orchestrator can tell what is already done without
reading intermediate results; the same key names where the result is stored, so a result on disk
is a result for exactly those inputs.

Which configuration a stage depends on (a change anywhere in a section recomputes the stage and
everything after it):

=============  ==================================================================
stage          depends on
=============  ==================================================================
ingest         the product file, ``[limits]``
calibrate      the product file, ``[chain]``, ``[limits]``, ``[cameras.*]``, calibration files
stereo         its two frames' calibrate keys, ``[stereo]``, ``[stereo_stage]``, ``[publish]``
               (a site and drive's terrain: its pairs' stereo keys)
mosaic         its frames' calibrate keys, ``[mosaic]`` (``surface = "terrain"``: also the
               keys of its sites and drives' terrains)
publish        the mosaic key, ``[publish]``
=============  ==================================================================
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import rovercam
from rovercam.config import Settings

__all__ = ["digest", "code_version", "STAGE_MODULES", "STAGE_SECTIONS", "module_closure", "stage_code_digest",
           "stage_code_version", "calibration_fingerprint", "fingerprint", "fingerprint_parts", "ingest_key",
           "calibrate_key", "stereo_key", "terrain_key", "mosaic_key", "publish_key", "product_content_sha256",
           "sol_key"]


def digest(*parts: object) -> str:
    """sha256 hex digest of JSON-serialisable ``parts`` (keys sorted, compact)."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()


@lru_cache(maxsize=1)
def code_version() -> str:
    """``<version>+<sha256[:12] of the rovercam sources>``: the whole library's version.

    Every ``.py`` file under ``rovercam/`` is hashed once per process, so an edited checkout is
    told apart from the release (the catalog's run records, deployment versions). Cache keys use
    the narrower :func:`stage_code_version`.
    """
    root = Path(rovercam.__file__).resolve().parent
    return f"{rovercam.__version__}+{source_digest(sorted(root.rglob('*.py')), root=root)[:12]}"


#: The modules whose code a stage's results depend on: their static import closure
#: (:func:`module_closure`) is what :func:`stage_code_version` hashes.
STAGE_MODULES: dict[str, tuple[str, ...]] = {
    "ingest": ("rovercam.ingest",),
    "calibrate": ("rovercam.chain",),
    "stereo": ("rovercam.pipeline.stereo",),
    "mosaic": ("rovercam.mosaic.build",),
    "publish": ("rovercam.publish",),
}


def _module_file(name: str, root: Path) -> Path | None:
    """The source file of module ``name`` (``rovercam.x.y``) under the package folder ``root``."""
    parts = name.split(".")
    if parts[0] != root.name:
        return None
    base = root.joinpath(*parts[1:])
    for cand in (base / "__init__.py", base.with_suffix(".py")) if len(parts) > 1 else (root / "__init__.py",):
        if cand.is_file():
            return cand
    return None


#: A line that begins an import statement (at any indentation: inside functions too).
_IMPORT_LINE = re.compile(r"^[ \t]*(?:from[ \t]+[.\w]+[ \t]+import\b|import[ \t]+\w)", re.M)


def _statement_end(source: str, start: int) -> int:
    """Index of the newline that ends the statement starting at ``start`` (brackets and
    backslash continuations followed, comments skipped)."""
    depth, i = 0, start
    while i < len(source):
        c = source[i]
        if c == "#":
            i = source.find("\n", i)
            if i < 0:
                break
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "\\" and source.startswith("\n", i + 1):
            i += 2
            continue
        elif c == "\n" and depth <= 0:
            return i
        i += 1
    return len(source)


def _import_nodes(source: str, filename: str) -> list[ast.stmt]:
    """Every import statement of a module, as ast nodes.

    Parsing whole modules costs ~10 ms each (a stage's closure is ~50-75 modules), so the lines
    that begin an import are found by a scan and only those statements are parsed; when one of
    them does not parse alone, the whole module is parsed instead.
    """
    nodes: list[ast.stmt] = []
    for m in _IMPORT_LINE.finditer(source):
        try:
            nodes += ast.parse(source[m.start():_statement_end(source, m.start())].lstrip()).body
        except SyntaxError:
            return [n for n in ast.walk(ast.parse(source, filename)) if isinstance(n, (ast.Import, ast.ImportFrom))]
    return nodes


@lru_cache(maxsize=4096)
def _file_imports(path: str, mtime_ns: int, size: int) -> list[ast.stmt]:
    """:func:`_import_nodes` of a file, once per version of it (``mtime_ns``, ``size``)."""
    return _import_nodes(Path(path).read_text(encoding="utf-8"), path)


def _imported(nodes: list[ast.stmt], module: str, is_package: bool, root: Path) -> set[str]:
    """Names of the ``root`` package's modules that ``nodes`` import, with the packages Python
    runs on the way."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            found.add(origin)
            found.update(f"{origin}.{a.name}" for a in node.names)  # submodules named in the import
    out: set[str] = set()
    for name in found:
        parts = name.split(".")
        if parts[0] != root.name:
            continue
        out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return {m for m in out if _module_file(m, root) is not None}


def module_closure(modules: Iterable[str], *, root: str | os.PathLike[str] | None = None) -> list[Path]:
    """Source files of ``modules`` and of every module of the same package they import.

    The closure is static: ``import`` statements anywhere in a module (module level, inside
    functions, under ``TYPE_CHECKING``; each beginning a line) are followed, relative imports
    included; the packages a
    dotted import passes through count too (Python runs their ``__init__``). An entry that is a
    package brings all of its own modules. Imports of other distributions are not followed.

    Parameters
    ----------
    modules : iterable of str
        Dotted names, e.g. ``["rovercam.chain"]`` (a module or a package alike).
    root : path, optional, keyword-only
        The package folder (default: the installed ``rovercam``); its name is the package name.

    Returns
    -------
    list of Path
        Sorted; empty for names not found under ``root``.
    """
    base = Path(root).resolve() if root is not None else Path(rovercam.__file__).resolve().parent
    todo = list(modules)
    for name in list(todo):
        path = _module_file(name, base)
        if path is not None and path.name == "__init__.py":  # an entry package: all of it
            pkg = path.parent
            todo += [".".join((base.name, *p.relative_to(base).with_suffix("").parts)).removesuffix(".__init__")
                     for p in pkg.rglob("*.py")]
    seen: dict[str, Path] = {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name, base)
        if path is None:
            continue
        seen[name] = path
        st = path.stat()
        nodes = _file_imports(str(path), st.st_mtime_ns, st.st_size)
        todo += sorted(_imported(nodes, name, path.name == "__init__.py", base) - set(seen))
    return sorted(set(seen.values()))


def source_digest(paths: Iterable[Path], *, root: Path) -> str:
    """sha256 hex digest of source files: each one's path relative to ``root`` and its bytes."""
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def stage_code_digest(stage: str, *, root: str | os.PathLike[str] | None = None) -> str:
    """sha256 of the code ``stage``'s results depend on (:data:`STAGE_MODULES`, closed over
    imports); ``root`` as in :func:`module_closure`. Editing a module outside the closure (the
    viewer, the command line) leaves it unchanged.

    Raises
    ------
    ValueError
        An unknown stage.
    """
    if stage not in STAGE_MODULES:
        raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGE_MODULES)}")
    base = Path(root).resolve() if root is not None else Path(rovercam.__file__).resolve().parent
    return source_digest(module_closure(STAGE_MODULES[stage], root=base), root=base)


@lru_cache(maxsize=None)
def stage_code_version(stage: str) -> str:
    """``<version>+<sha256[:12]>`` of the code ``stage`` runs (:func:`stage_code_digest`), once
    per process: the code part of the stage's cache keys."""
    return f"{rovercam.__version__}+{stage_code_digest(stage)[:12]}"


def calibration_fingerprint(settings: Settings) -> str:
    """Digest of every file on the calibration search path (name, size, modification time).

    Replacing a LUT or a flat changes the fingerprint, so calibrated frames are recomputed.
    """
    entries: list[tuple[str, int, int]] = []
    for folder in settings.calibration_path:
        if not folder.is_dir():
            continue
        for dirpath, _, files in os.walk(folder):
            for name in files:
                st = os.stat(os.path.join(dirpath, name))
                entries.append((os.path.join(dirpath, name), st.st_size, st.st_mtime_ns))
    return digest(sorted(entries))


def _sections(settings: Settings, *names: str) -> dict:
    return settings.model_dump(mode="json", include=set(names))


#: The configuration sections each stage's own work depends on (its key also holds its inputs'
#: keys: a mosaic's holds its frames' calibrate keys, so it depends on ``[chain]`` too).
STAGE_SECTIONS: dict[str, tuple[str, ...]] = {
    "ingest": ("limits",),
    "calibrate": ("chain", "limits", "cameras"),
    "stereo": ("stereo", "stereo_stage", "publish"),
    "mosaic": ("mosaic",),
    "publish": ("publish",),
}
_INPUT_OF = {"calibrate": None, "ingest": None, "stereo": "calibrate", "mosaic": "calibrate", "publish": "mosaic"}


def fingerprint_parts(stage: str) -> tuple[str, ...]:
    """The :func:`fingerprint` entries a stage's keys depend on, its inputs' keys included
    (``"sol"``: every entry, and ``"product files"``, which the sol key holds)."""
    if stage == "sol":
        return ("product files", *dict.fromkeys(p for s in STAGE_MODULES for p in fingerprint_parts(s)))
    own = tuple(f"[{name}]" for name in STAGE_SECTIONS[stage])
    own += ("calibration files",) if stage == "calibrate" else ()
    own += (f"{stage} code",)
    upstream = _INPUT_OF[stage]
    return (fingerprint_parts(upstream) if upstream else ()) + own


def fingerprint(settings: Settings, *, calibration: str | None = None) -> dict[str, str]:
    """What the keys are made of, part by part, as short digests (16 hex digits).

    ``{"[chain]": ..., "[mosaic]": ..., "calibration files": ..., "mosaic code": ...}``: each
    configuration section that keys depend on, the calibration files (:func:`calibration_fingerprint`,
    or ``calibration`` when the caller has it) and each stage's code (:func:`stage_code_version`).
    Two fingerprints compared entry by entry say which part changed (:func:`fingerprint_parts`
    says which parts a stage depends on). Small and JSON-friendly: sol reports carry it.
    """
    cal = calibration if calibration is not None else calibration_fingerprint(settings)
    names = dict.fromkeys(n for section in STAGE_SECTIONS.values() for n in section)
    out = {f"[{n}]": digest(_sections(settings, n))[:16] for n in names}
    out["calibration files"] = cal[:16]
    out.update({f"{stage} code": digest(stage_code_version(stage))[:16] for stage in STAGE_MODULES})
    return out


def ingest_key(product_sha256: str, settings: Settings, *, sol: int | None = None) -> str:
    """Key of ingesting one product file (its content, the sol it is filed under, ``[limits]``)."""
    return digest("ingest", product_sha256, sol, _sections(settings, "limits"),
                  stage_code_version("ingest"))


def calibrate_key(product_sha256: str, settings: Settings, *, calibration: str | None = None) -> str:
    """Key of the whole frame chain on one product.

    ``calibration`` is :func:`calibration_fingerprint` when the caller already computed it (it
    walks the search path).
    """
    cal = calibration if calibration is not None else calibration_fingerprint(settings)
    return digest("calibrate", product_sha256, _sections(settings, "chain", "limits", "cameras"), cal,
                  stage_code_version("calibrate"))


def stereo_key(name: str, left_key: str, right_key: str, settings: Settings) -> str:
    """Key of one stereo pair's products, mesh and output: its name, its left and right frames'
    calibrate keys, ``[stereo]``, ``[stereo_stage]`` and ``[publish]``."""
    return digest("stereo", name, left_key, right_key, _sections(settings, *STAGE_SECTIONS["stereo"]),
                  stage_code_version("stereo"))


def terrain_key(name: str, pair_keys: Iterable[str], settings: Settings) -> str:
    """Key of one site and drive's merged terrain: its name, its pairs' stereo keys (any order),
    ``[stereo_stage]`` and ``[publish]``."""
    return digest("terrain", name, sorted(pair_keys), _sections(settings, "stereo_stage", "publish"),
                  stage_code_version("stereo"))


def mosaic_key(name: str, frame_keys: Iterable[str], settings: Settings, *,
               terrain: Iterable[str] | None = None) -> str:
    """Key of one mosaic: its name, its frames' calibrate keys (any order), ``[mosaic]``.

    ``terrain``: the keys (:func:`terrain_key`, any order) of the site and drive terrains a
    ``[mosaic] surface = "terrain"`` mosaic is projected onto, so new stereo results make a new
    mosaic; None (every other surface) leaves the key as it was without them.
    """
    parts: tuple[object, ...] = ("mosaic", name, sorted(frame_keys), _sections(settings, "mosaic"),
                                 stage_code_version("mosaic"))
    if terrain is not None:
        parts += ({"terrain": sorted(terrain)},)
    return digest(*parts)


def publish_key(mosaic_key_: str, settings: Settings) -> str:
    """Key of publishing one mosaic (the mosaic's key and ``[publish]``)."""
    return digest("publish", mosaic_key_, _sections(settings, "publish"),
                  stage_code_version("publish"))


def product_content_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 over every file of one product (:func:`rovercam.products.files.product_files`).

    A detached label and its data file, or a raw-site image and its JSON sidecar, travel together:
    a change to either changes the digest. Each file adds its name, then its bytes, in name order.
    Local paths only (fetch remote products first).
    """
    from rovercam.products.files import product_files

    h = hashlib.sha256()
    for member in sorted(p for p in product_files(path) if p.is_file()):
        h.update(member.name.encode())
        with open(member, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
    return h.hexdigest()


def sol_key(products: Iterable[tuple[str, str]], settings: Settings, *, calibration: str | None = None) -> str:
    """Key of a whole sol run: its products' (file name, content sha256) pairs, every section that
    changes results, the calibration files and the code. Equal keys mean nothing needs redoing."""
    cal = calibration if calibration is not None else calibration_fingerprint(settings)
    return digest("sol", sorted(products), _sections(settings, "limits", "chain", "cameras", "stereo", "stereo_stage",
                                                     "mosaic", "publish"),
                  cal, {stage: stage_code_version(stage) for stage in STAGE_MODULES})
