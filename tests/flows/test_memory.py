"""The C allocator of a process that runs sols (rovercam_flows.memory): few arenas, and freed
memory handed back; the remedy for the soak's resident-memory growth (docs/reliability.md,
"Soak").

Truth: glibc's own account of its arenas (``malloc_info``), ``/proc/self/status`` (VmRSS) around
a heap the test fragments itself, and the calls :func:`rovercam_flows.stages.run_sol` makes.
"""
from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

glibc = pytest.mark.skipif(not sys.platform.startswith("linux") or not hasattr(ctypes.CDLL(None), "malloc_trim"),
                           reason="malloc_trim is glibc's")


#: Threads alive at once, each allocating, then glibc's arena count (a fresh process).
_ARENAS = """
import ctypes, sys, tempfile, threading
if sys.argv[1] == "capped":
    from rovercam_flows.memory import limit_malloc_arenas
    assert limit_malloc_arenas(2)
elif sys.argv[1] == "flows":
    import rovercam_flows.stages  # what a process that runs sols imports first
together = threading.Barrier(8)
def work():
    block = bytearray(4096)  # malloc'd by this thread: it takes an arena
    together.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
libc.malloc_info.argtypes, libc.fclose.argtypes = [ctypes.c_int, ctypes.c_void_p], [ctypes.c_void_p]
with tempfile.NamedTemporaryFile(suffix=".xml") as out:
    f = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, f)
    libc.fclose(f)
    print(open(out.name).read().count("<heap nr="))
"""


def _arenas(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES")}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    out = subprocess.run([sys.executable, "-c", _ARENAS, mode], env=env, capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    return int(out.stdout)


@glibc
def test_threads_of_a_process_that_imported_the_flows_share_two_arenas():
    assert _arenas("default") > 2  # glibc's default: an arena per thread, up to 8 per core
    assert _arenas("capped") <= 2
    assert _arenas("flows") <= 2  # capped as the flows are imported, before any worker thread


def test_the_arena_cap_is_validated_and_left_to_the_environment(monkeypatch):
    from rovercam_flows.memory import limit_malloc_arenas

    with pytest.raises(ValueError, match="arenas"):
        limit_malloc_arenas(0)
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert not limit_malloc_arenas(2)


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


@glibc
def test_freed_memory_in_a_worker_threads_arena_goes_back_to_the_system():
    from rovercam_flows.memory import release_freed_memory

    held: list[bytearray] = []

    def work() -> None:  # a worker thread's arena, as the stages' threads have
        blocks = [bytearray(64 * 1024) for _ in range(1600)]  # 100 MiB, touched, below the mmap threshold
        held.append(blocks[-1])  # the last block stays: the arena cannot shrink from its top
        del blocks

    t = threading.Thread(target=work)
    t.start()
    t.join()
    kept = _rss_mb()
    assert release_freed_memory()
    assert kept - _rss_mb() > 50  # what malloc kept after the free, given back


def test_run_sol_caps_the_arenas_and_releases_freed_memory_after_a_run_and_a_failed_one(tmp_path, monkeypatch):
    from rovercam.config import load

    from rovercam_flows import stages

    settings = load(environ={}, overrides={"storage": {"root": str(tmp_path / "store")}})
    calls: list[str] = []
    monkeypatch.setattr(stages, "limit_malloc_arenas", lambda: calls.append("limit") or True)
    monkeypatch.setattr(stages, "release_freed_memory", lambda: calls.append("release") or True)

    def done(sol, paths, settings, refresh, report, before):
        calls.append("run")
        return report

    monkeypatch.setattr(stages, "_run_stages", done)
    stages.run_sol(7, [], settings, flow_name="ingest-sol")
    assert calls == ["limit", "run", "release"]

    def fails(*args):
        calls.append("run")
        raise RuntimeError("a stage raised")

    calls.clear()
    monkeypatch.setattr(stages, "_run_stages", fails)
    with pytest.raises(RuntimeError):
        stages.run_sol(8, [], settings, flow_name="ingest-sol")
    assert calls == ["limit", "run", "release"]
