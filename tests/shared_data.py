"""Where the shared public data sets live: ``../shared/data`` beside the checkout, or $PASTURE_SHARED_DATA.

Tests and benchmarks that read them skip (or fall back) with a clear reason when the folder is absent,
as on a user's clone.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    override = os.environ.get("PASTURE_SHARED_DATA")
    return Path(override) if override else (REPO_ROOT.parent / "shared" / "data")


def shared_file(name: str) -> Path:
    return shared_data_dir() / name
