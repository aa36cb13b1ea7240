"""Installing a Debian package a test fixture needs (PostgreSQL, Chromium), the way CI can."""
from __future__ import annotations

import os
import shutil
import subprocess


def apt_install(package: str, *, timeout_s: float = 900) -> str:
    """``apt-get install -y package``, only as root with CI=true; returns what happened, for skip messages."""
    if os.environ.get("CI") != "true" or os.geteuid() != 0 or not shutil.which("apt-get"):
        return "not installing it (only done as root with CI=true)"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", package]):
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return f"{' '.join(cmd)} timed out"
        if proc.returncode != 0:
            return f"{' '.join(cmd)} failed: {proc.stderr.strip()[-300:]}"
    return "installed with apt-get"
