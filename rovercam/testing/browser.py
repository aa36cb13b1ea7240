"""Headless Chromium for browser tests and the viewer benchmark (Debian's binary, no download).

Playwright (``pip install 'rovercam[test]'``) drives it; this module only names the binary and
its flags, so importing it needs neither.
"""
from __future__ import annotations

__all__ = ["CHROMIUM", "CHROMIUM_ARGS"]

#: Debian's Chromium (``apt-get install chromium``).
CHROMIUM = "/usr/bin/chromium"
#: Headless Chromium on a machine with a closed network (no background connections), WebGL on
#: SwiftShader (software); the browser tests use the same flags.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
