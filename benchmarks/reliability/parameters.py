"""Hostile parameters and injection: every bad value refused cleanly, nothing read that should not be.

Three surfaces, on one small published catalog (sample mosaics, :func:`rovercam.testing.sample_mosaic`):

- **command line** (:func:`rovercam.cli.main`, in this process): sol -1 and 10**12, a sol past
  the generator's four digits, ``--latest 0``, unknown stages and cameras, reversed or huge sol
  ranges, ``--limit`` past any integer, sources ``file:///etc``, ``/``, ``/proc/self``, a URL with
  credentials, the storage root itself, a folder holding it, its ``incoming/``;
- **flows**: Prefect's parameter validation of ``ingest-sol``, ``reprocess-sol``,
  ``build-mosaics`` and ``process-edl`` (``validate_parameters``, what a run from the UI or a
  deployment goes through) and the flow bodies' own checks (``.fn``: a refused source, a camera
  the sol does not have);
- **injection**: catalog searches (:func:`rovercam.catalog.query.search_outputs`,
  ``search_products``) with SQL metacharacters, classic injection strings, LIKE wildcards, very
  long values and out-of-range numbers; and the viewer's HTTP routes (output ids, tile z/x/y,
  ``value.json`` coordinates including NaN/inf/1e308, file names with traversal and encoded
  slashes, hostile ``Range`` headers) against a running server.

Figures:

- ``hostile_param_cases``: command-line and flow cases tried;
- ``hostile_param_clean_errors``: of them, refused with a clean error: the command exits with
  status 2 and one line on stderr, no traceback; a flow raises Prefect's ``ParameterTypeError``
  naming the field, or a :class:`rovercam.errors.RovercamError` whose message is one line;
- ``injection_cases``: catalog-search and viewer requests tried;
- ``injection_safe``: of them, answered correctly: a search returns exactly the rows a literal
  comparison gives (none, for every hostile string) or refuses with ParameterError; a viewer
  request gets its expected status (200 for the benign controls, 400/404/416 for the hostile
  ones, never 500), no response carries the bytes of a canary file planted in the storage root
  and beside it, and no file outside the catalog's listed files is opened by Python code while
  the requests run (an audit hook on ``open``; GDAL's own reads of the listed COG are not seen);
- ``hostile_param_failures``, ``injection_failures``: the cases that were not (names), for a
  report to show.
"""
from __future__ import annotations

import contextlib
import http.client
import io
import sys
from pathlib import Path
from typing import Any, Callable

__all__ = ["run"]

_CANARY = b"rovercam-canary-do-not-serve"
#: Paths opened while the viewer answers (None: not recording). Audit hooks cannot be removed.
_opened: list[str] | None = None
_hooked = False


def _audit(event: str, args: tuple) -> None:
    if _opened is not None and event == "open" and isinstance(args[0], (str, bytes, Path)):
        _opened.append(str(args[0]))


def _cli_clean(argv: list[str]) -> bool:
    """``rovercam ARGV`` exits 2 with one stderr line and no traceback."""
    from rovercam.cli import main

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(argv)
            except SystemExit as exc:
                status = exc.code
    except Exception:  # an exception escaping main is a traceback for the user
        return False
    lines = err.getvalue().strip().splitlines()
    return status == 2 and len(lines) == 1 and "Traceback" not in out.getvalue() + err.getvalue()


def _flow_clean(call: Callable[[], Any], field: str | None = None) -> bool:
    """``call()`` raises Prefect's ParameterTypeError naming ``field``, or a one-line RovercamError."""
    from prefect.exceptions import ParameterTypeError

    from rovercam.errors import RovercamError

    try:
        call()
    except ParameterTypeError as exc:
        return field is None or field in str(exc)
    except RovercamError as exc:
        return "\n" not in str(exc) and len(str(exc)) < 1000
    except Exception:
        return False
    return False


def _published(root: Path) -> tuple[Any, Any, list[Any]]:
    """A store and catalog with three sample mosaics (sol 100 NAVCAM left and right, sol 200 MCZ)."""
    from rovercam.catalog import Catalog
    from rovercam.publish import publish_mosaic
    from rovercam.storage import Store
    from rovercam.testing import sample_mosaic

    store, cat = Store(str(root)), Catalog(root / "catalog.sqlite")
    run_id = cat.start_run("process-sol", sol=100, software_version="bench", config_hash="c" * 64)
    first = sample_mosaic(0, width=120, height=60)
    for pid, sha in first.provenance.inputs.items():
        cat.record_product(pid, sha, sol=100, instrument="NAVCAM_LEFT", start_time=first.start_time,
                           path=str(root / "incoming" / f"{pid}.IMG"))
    outs = [publish_mosaic(m, store=store, catalog=cat, run_id=run_id)
            for m in (first, sample_mosaic(2, instrument="NAVCAM_RIGHT", width=120, height=60),
                      sample_mosaic(3, sol=200, instrument="MCZ_LEFT", width=120, height=60))]
    return store, cat, outs


def _param_cases(root: Path, workdir: Path) -> dict[str, Callable[[], bool]]:
    from rovercam_flows.build_mosaics import build_mosaics
    from rovercam_flows.ingest_sol import ingest_sol
    from rovercam_flows.process_edl import process_edl
    from rovercam_flows.reprocess_sol import reprocess_sol

    r = str(root)
    drop = workdir / "drop"
    drop.mkdir(exist_ok=True)
    over = {"storage": {"root": r}}
    cli = {
        "run --sol -1": ["run", "--input", str(drop), "--sol", "-1", "--out", r],
        "run --sol 10**12": ["run", "--input", str(drop), "--sol", str(10**12), "--out", r],
        "run --sol 1e3": ["run", "--input", str(drop), "--sol", "1e3", "--out", r],
        "run --latest 0": ["run", "--input", str(drop), "--latest", "0", "--out", r],
        "run --latest 10**6": ["run", "--input", str(drop), "--latest", str(10**6), "--out", r],
        "run --input file:///etc": ["run", "--input", "file:///etc", "--sol", "1", "--out", r],
        "run --input /etc": ["run", "--input", "/etc", "--out", r],
        "run --input file:///": ["run", "--input", "file:///", "--out", r],
        "run --input /proc/self": ["run", "--input", "/proc/self", "--out", r],
        "run --input credentials": ["run", "--input", "https://ops:secret@archive.example/vol/", "--out", r],
        "run --input root": ["run", "--input", r, "--out", r],
        "run --input root's parent": ["run", "--input", str(root.parent), "--out", r],
        "run --input root/incoming": ["run", "--input", str(root / "incoming"), "--out", r],
        "run --input missing": ["run", "--input", str(workdir / "nowhere"), "--out", r],
        "reprocess --stages nope": ["reprocess", "--sol", "100", "--stages", "nope", "--out", r],
        "reprocess --cameras NOPE": ["reprocess", "--sol", "100", "--cameras", "NOPE", "--out", r],
        "reprocess --sol 10**12": ["reprocess", "--sol", str(10**12), "--out", r],
        "reprocess --sol 5 (none)": ["reprocess", "--sol", "5", "--out", r],
        "catalog --sols 5-1": ["catalog", "--out", r, "outputs", "--sols", "5-1"],
        "catalog --sols 0-10**30": ["catalog", "--out", r, "outputs", "--sols", f"0-{10**30}"],
        "catalog --sol 9*5000": ["catalog", "--out", r, "outputs", "--sol", "9" * 5000],
        "catalog runs --limit -1": ["catalog", "--out", r, "runs", "--limit", "-1"],
        "catalog runs --limit 10**30": ["catalog", "--out", r, "runs", "--limit", str(10**30)],
        "catalog --since garbage": ["catalog", "--out", r, "outputs", "--since", "x" * 10000],
        "catalog lineage ../../etc": ["catalog", "--out", r, "lineage", "../../etc/passwd"],
        "synth --sol 10000": ["synth", "--out", str(workdir / "synth"), "--sol", "10000", "--profile", "tiny"],
    }
    cases: dict[str, Callable[[], bool]] = {f"cli {k}": (lambda a=a: _cli_clean(a)) for k, a in cli.items()}
    validation = {
        "reprocess-sol sol=-1": (reprocess_sol, {"sol": -1}, "sol"),
        "reprocess-sol sol=10**12": (reprocess_sol, {"sol": 10**12}, "sol"),
        "reprocess-sol sol='1; DROP'": (reprocess_sol, {"sol": "1; DROP TABLE runs"}, "sol"),
        "reprocess-sol stages=[nope]": (reprocess_sol, {"sol": 1, "stages": ["nope"]}, "stages"),
        "reprocess-sol cameras=[NAV CAM;]": (reprocess_sol, {"sol": 1, "cameras": ["NAV CAM;"]}, "cameras"),
        "reprocess-sol cameras=[../x]": (reprocess_sol, {"sol": 1, "cameras": ["../x"]}, "cameras"),
        "build-mosaics projection=mercator": (build_mosaics, {"sol": 1, "projection": "mercator"}, "projection"),
        "build-mosaics sol=10**12": (build_mosaics, {"sol": 10**12}, "sol"),
        "process-edl sol=-1": (process_edl, {"sol": -1, "input_dir": str(drop)}, "sol"),
        "process-edl input_dir=''": (process_edl, {"sol": 1, "input_dir": ""}, "input_dir"),
        "ingest-sol sol=10**12": (ingest_sol, {"source": str(drop), "sol": 10**12}, "sol"),
        "ingest-sol latest=0": (ingest_sol, {"source": str(drop), "latest": 0}, "latest"),
        "ingest-sol source=''": (ingest_sol, {"source": ""}, "source"),
    }
    for k, (fl, params, field) in validation.items():
        cases[f"flow {k}"] = lambda fl=fl, params=params, field=field: _flow_clean(
            lambda: fl.validate_parameters(params), field)
    bodies = {
        "ingest-sol source=file:///etc": lambda: ingest_sol.fn(source="file:///etc", sol=1, overrides=over),
        "ingest-sol source=/": lambda: ingest_sol.fn(source="/", sol=1, overrides=over),
        "ingest-sol source=credentials": lambda: ingest_sol.fn(source="s3://KEY:SECRET@bucket/x", overrides=over),
        "ingest-sol source=root": lambda: ingest_sol.fn(source=r, sol=1, overrides=over),
        "ingest-sol root inside source": lambda: ingest_sol.fn(source=str(root.parent), sol=1, overrides=over),
        "ingest-sol source in incoming/": lambda: ingest_sol.fn(source=str(root / "incoming" / "sol00001"),
                                                                sol=1, overrides=over),
        "reprocess-sol cameras=[NOPE]": lambda: reprocess_sol.fn(sol=100, cameras=["NOPE"], overrides=over),
        "build-mosaics cameras=[MCZ]": lambda: build_mosaics.fn(sol=100, cameras=["MCZ"], overrides=over),
    }
    for k, call in bodies.items():
        cases[f"flow body {k}"] = lambda call=call: _flow_clean(call)
    return cases


def _search_cases(cat: Any) -> dict[str, Callable[[], bool]]:
    from rovercam.catalog.query import search_outputs, search_products
    from rovercam.errors import ParameterError

    hostile = ["' OR '1'='1", "' OR 1=1 --", "'; DROP TABLE outputs; --", "\" OR \"\"=\"",
               "NAVCAM_LEFT' UNION SELECT * FROM products --", "%", "_", "%%", "NAVCAM%", "NAV%", "N_VCAM",
               "NAVCAM_LEF_", "\\", "\\%", "*", "..", "../../etc/passwd", "x" * 255]
    cases: dict[str, Callable[[], bool]] = {}
    for value in hostile:
        for field in ("camera", "kind", "mission"):
            cases[f"search {field}={value[:30]!r}"] = lambda f=field, v=value: search_outputs(cat, **{f: v}) == []
        cases[f"search products camera={value[:30]!r}"] = lambda v=value: search_products(cat, camera=v) == []

    def refused(**kw: Any) -> bool:
        try:
            search_outputs(cat, **kw)
        except ParameterError:
            return True
        return False

    for kw in ({"sol": -1}, {"sol": 10**12}, {"sols": (0, 10**30)}, {"sols": (5, 1)}, {"camera": "x" * 10000},
               {"camera": "NAV\x00CAM"}, {"mission": "M2020\n"}, {"sol": float("nan")}, {"sol": float("inf")}):
        cases[f"search {kw!r}"[:80]] = lambda kw=kw: refused(**kw)
    cases["search camera=navcam (control)"] = lambda: len(search_outputs(cat, camera="navcam")) == 2
    cases["search sols=(0, 99999) (control)"] = lambda: len(search_outputs(cat, sols=(0, 99999))) == 3
    return cases


def _viewer_requests(oid: str, name: str) -> list[tuple[str, str, dict[str, str], set[int]]]:
    """(label, raw path, headers, accepted statuses)."""
    v = f"/api/outputs/{oid}/value.json"
    f = f"/files/{oid}/{name}"
    bad = {400, 404}
    reqs = [
        ("output (control)", f"/api/outputs/{oid}.json", {}, {200}),
        ("tile (control)", f"/tiles/{oid}/0/0/0.jpg", {}, {200}),
        ("value x/y (control)", f"{v}?x=10&y=10", {}, {200}),
        ("file (control)", f, {}, {200}),
        ("range (control)", f, {"Range": "bytes=0-99"}, {206}),
        ("output id injection", "/api/outputs/%27%20OR%20%271%27%3D%271.json", {}, bad),
        ("output id wildcard %", "/api/outputs/%25.json", {}, bad),
        ("output id wildcard _", "/api/outputs/_.json", {}, bad),
        ("output id 100k chars", "/api/outputs/" + "A" * 100_000 + ".json", {}, bad | {414, 431}),
        ("output id traversal", "/api/outputs/..%2F..%2Fcatalog.sqlite.json", {}, bad),
        ("tile z huge", f"/tiles/{oid}/{10**30}/0/0.jpg", {}, bad),
        ("tile x huge", f"/tiles/{oid}/0/{10**30}/0.jpg", {}, bad),
        ("tile y negative", f"/tiles/{oid}/0/0/-1.jpg", {}, bad),
        ("tile id injection", f"/tiles/{oid}'--/0/0/0.jpg", {}, bad),
        ("value nan", f"{v}?x=nan&y=1", {}, bad),
        ("value inf", f"{v}?az=inf&el=0", {}, bad),
        ("value -inf", f"{v}?x=-inf&y=0", {}, bad),
        ("value 1e308", f"{v}?x=1e308&y=1e308", {}, {200} | bad),
        ("value az 1e308", f"{v}?az=1e308&el=0", {}, {200} | bad),
        ("value 5000 digits", f"{v}?x=1{'0' * 5000}&y=1", {}, bad),
        ("value hex", f"{v}?x=0x10&y=1", {}, bad),
        ("value injection", f"{v}?x=1%27%20OR%201%3D1&y=1", {}, bad),
        ("value both", f"{v}?az=1&el=2&x=3&y=4", {}, bad),
        ("file traversal", f"/files/{oid}/../../secret.txt", {}, bad),
        ("file encoded slash", f"/files/{oid}/..%2F..%2Fsecret.txt", {}, bad),
        ("file double-encoded", f"/files/{oid}/%252e%252e%252fcatalog.sqlite", {}, bad),
        ("file dot-dot encoded", f"/files/{oid}/%2e%2e/%2e%2e/catalog.sqlite", {}, bad),
        ("file backslash", f"/files/{oid}/..%5C..%5Csecret.txt", {}, bad),
        ("file NUL", f"/files/{oid}/{name}%00.txt", {}, bad),
        ("file not listed", f"/files/{oid}/secret.txt", {}, bad),
        ("file catalog", "/catalog.sqlite", {}, bad),
        ("file wildcard id", f"/files/%25/{name}", {}, bad),
        ("file 5000-char name", f"/files/{oid}/" + "a" * 5000, {}, bad),
        ("static traversal", "/static/..%2F..%2Fserver.py", {}, bad),
        ("range huge end", f, {"Range": f"bytes=0-{10**30}"}, {206}),
        ("range 10000 digits", f, {"Range": "bytes=" + "9" * 10000 + "-"}, {416}),
        ("range 10000-digit suffix", f, {"Range": "bytes=-" + "9" * 10000}, {206}),
        ("range zero suffix", f, {"Range": "bytes=-0"}, {416}),
        ("range reversed", f, {"Range": "bytes=5-1"}, {200}),
        ("range several", f, {"Range": "bytes=0-1,3-4"}, {200}),
        ("range other unit", f, {"Range": "items=0-1"}, {200}),
        ("range unicode digits", f, {"Range": "bytes=\u0663-"}, {200, 400}),
    ]
    return reqs


def _viewer_cases(root: Path, store: Any, cat: Any, outs: list[Any],
                  workdir: Path) -> tuple[dict[str, Callable[[], bool]], dict[str, Any]]:
    """Viewer requests, and the state they share (the library; the server's URL, set by :func:`run`
    once one server is started for all of them)."""
    from rovercam.testing.web import raw_get
    from rovercam.viewer.library import Library

    (root / "secret.txt").write_bytes(_CANARY)
    (workdir / "secret.txt").write_bytes(_CANARY)
    library = Library(cat, store)
    library.refresh()
    pub = outs[0]
    oid = pub.output_id
    name = Path(pub.cog_path).name
    listed = {str(Path(store.root) / k) for r in cat.outputs() for k in r.storage_keys.values()}
    cases: dict[str, Callable[[], bool]] = {}
    state: dict[str, Any] = {}

    def ask(path: str, headers: dict[str, str], ok: set[int]) -> bool:
        global _opened
        _opened = []
        try:
            status, body = raw_get(state["url"], path, headers)
        except (OSError, http.client.HTTPException):
            return False
        finally:
            opened, _opened = _opened, None
        data_reads = [p for p in opened if str(Path(p).resolve()).startswith((str(Path(store.root).resolve()),
                                                                              str(workdir.resolve())))]
        outside = [p for p in data_reads if str(Path(p).resolve()) not in listed]
        return status in ok and _CANARY not in body and not outside

    for label, path, headers, ok in _viewer_requests(oid, name):
        cases[f"viewer {label}"] = lambda p=path, h=headers, ok=ok: ask(p, h, ok)
    state["library"] = library
    return cases, state


def _passes(case: Callable[[], bool]) -> bool:
    """A case's verdict; an exception escaping it (a traceback for a user) is a failure."""
    try:
        return bool(case())
    except Exception:
        return False


def run(*, quick: bool = False, workdir: Path) -> dict[str, object]:
    """Try every case (all of them also with ``quick``: they take seconds) in ``workdir``."""
    global _hooked
    import logging

    from rovercam.viewer.server import running_server

    workdir = Path(workdir)
    root = workdir / "root"
    store, cat, outs = _published(root)
    if not _hooked:
        sys.addaudithook(_audit)
        _hooked = True
    logging.getLogger("rovercam").setLevel(logging.CRITICAL)  # refused requests log warnings; not figures
    try:
        params = _param_cases(root, workdir)
        failed_params = [k for k, case in params.items() if not _passes(case)]
        injections = _search_cases(cat)
        viewer, state = _viewer_cases(root, store, cat, outs, workdir)
        with running_server(state["library"]) as url:
            state["url"] = url
            failed_injections = [k for k, case in {**injections, **viewer}.items() if not _passes(case)]
    finally:
        logging.getLogger("rovercam").setLevel(logging.NOTSET)
        cat.close()
    n_inj = len(injections) + len(viewer)
    return {
        "hostile_param_cases": len(params),
        "hostile_param_clean_errors": len(params) - len(failed_params),
        "injection_cases": n_inj,
        "injection_safe": n_inj - len(failed_injections),
        "hostile_param_failures": ", ".join(failed_params) or "none",
        "injection_failures": ", ".join(failed_injections) or "none",
    }
