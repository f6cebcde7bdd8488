"""Shared fixtures. Real data comes from ../shared/data (or $CURATE_SHARED_DATA); tests that
need it take the `shared_data` fixture and are skipped, with the reason, where it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("CURATE_SHARED_DATA", REPO.parent / "shared" / "data"))


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "shared_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.shared_data)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "README.md").is_file():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set CURATE_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def lid_model(shared_data) -> str:
    """lid.176 from the shared data (the registry package gives the same file)."""
    return str(shared_data / "models" / "lid.176.ftz")
