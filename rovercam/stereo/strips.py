"""Row strips: image-wide work done strip by strip, on up to 4 threads.

Strips of 256 rows keep each float32 temporary of a 5120-pixel-wide image near 5 MB, so the
dozen temporaries of a step stay near the cache; numpy and OpenCV release the GIL, so strips
run on every core.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

__all__ = ["STRIP_ROWS", "for_each_strip"]

#: Rows per strip.
STRIP_ROWS = 256


def for_each_strip(height: int, run: Callable[[int, int], None], *, rows: int = STRIP_ROWS) -> None:
    """Call ``run(y0, y1)`` for every strip ``[y0, y1)`` of ``height`` rows, on up to 4 threads.

    ``run`` writes its own rows of the caller's output (strips never overlap), so the order in
    which strips finish does not matter.
    """
    starts = range(0, height, rows)
    workers = min(len(starts), os.cpu_count() or 1, 4)
    spans = [(y0, min(height, y0 + rows)) for y0 in starts]
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda span: run(*span), spans))
    else:
        for y0, y1 in spans:
            run(y0, y1)
