"""Memory a sol run freed goes back to the operating system (rovercam_flows.memory): the
remedy for the soak's resident-memory growth (docs/reliability.md, "Soak").

Truth: ``/proc/self/status`` (VmRSS) around a heap the test fragments itself, and the calls
:func:`rovercam_flows.stages.run_sol` makes.
"""
from __future__ import annotations

import ctypes
import sys
import threading

import pytest

glibc = pytest.mark.skipif(not sys.platform.startswith("linux") or not hasattr(ctypes.CDLL(None), "malloc_trim"),
                           reason="malloc_trim is glibc's")


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


def test_run_sol_releases_freed_memory_after_a_run_and_after_a_failed_one(tmp_path, monkeypatch):
    from rovercam.config import load

    from rovercam_flows import stages

    settings = load(environ={}, overrides={"storage": {"root": str(tmp_path / "store")}})
    calls: list[str] = []
    monkeypatch.setattr(stages, "release_freed_memory", lambda: calls.append("release") or True)

    def done(sol, paths, settings, refresh, report, before):
        calls.append("run")
        return report

    monkeypatch.setattr(stages, "_run_stages", done)
    stages.run_sol(7, [], settings, flow_name="ingest-sol")
    assert calls == ["run", "release"]

    def fails(*args):
        calls.append("run")
        raise RuntimeError("a stage raised")

    calls.clear()
    monkeypatch.setattr(stages, "_run_stages", fails)
    with pytest.raises(RuntimeError):
        stages.run_sol(8, [], settings, flow_name="ingest-sol")
    assert calls == ["run", "release"]
