"""Damage a generated sol's products on purpose, the ways real downlinks and archives do.

Used by tests and ``rovercam bench flows`` to check that bad products are quarantined with a
reason while the sol completes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["corrupt_products", "DAMAGES"]

#: How a product is damaged, cycled in this order.
DAMAGES = ("truncated", "garbled-label", "absurd-size")


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":  # a downlink gap: the file ends early
        path.write_bytes(data[: max(64, len(data) // 3)])
    elif how == "garbled-label":  # bit rot in the first bytes: no longer an ODL label
        path.write_bytes(bytes(b ^ 0x5A for b in data[:256]) + data[256:])
    elif how == "absurd-size":  # a label declaring a billion lines must be refused, not obeyed
        text = data.replace(b"LINES", b"LINES = 999999999 /*", 1) if b"LINES" in data else data[: len(data) // 2]
        path.write_bytes(text)
    else:
        raise ValueError(f"unknown damage {how!r}; known: {', '.join(DAMAGES)}")


def corrupt_products(raw_dir: str | Path, *, count: int, seed: int = 0,
                     exclude: list[str] | tuple[str, ...] = ()) -> dict[str, str]:
    """Damage ``count`` of the ``.IMG`` products in ``raw_dir``, chosen at random.

    Parameters
    ----------
    raw_dir : path-like
        A generated sol's ``raw/`` folder (attached-label PDS3 products).
    count : int, keyword-only
        How many products to damage.
    seed : int, keyword-only
    exclude : sequence of str, keyword-only
        File names never chosen (e.g. products the generator already made bad).

    Returns
    -------
    dict of str -> str
        File name -> the damage done (see :data:`DAMAGES`).
    """
    files = [f for f in sorted(Path(raw_dir).glob("*.IMG")) if f.name not in exclude]
    if not 0 <= count <= len(files):
        raise ValueError(f"count must be in [0, {len(files)}], got {count}")
    n = count
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(files), size=n, replace=False)) if n else []
    done = {}
    for i, k in enumerate(chosen):
        how = DAMAGES[i % len(DAMAGES)]
        _damage(files[k], how)
        done[files[k].name] = how
    return done
