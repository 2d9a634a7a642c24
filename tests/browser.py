"""The headless Chromium that the site tests and the JupyterLab benchmark drive."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# Quiet and reproducible: no GPU, no sandbox (containers), no background requests.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
]


def find_chromium():
    """The Chromium named by ``$CHROMIUM`` (a name on the PATH or a path), or ``None``."""
    name = os.environ.get("CHROMIUM", "chromium")
    return shutil.which(name) or (name if Path(name).is_file() else None)
