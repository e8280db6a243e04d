"""Fixtures of the reliability suite: a fresh database on a real PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


def _postgres_url() -> str | None:
    return os.environ.get("OVERSIGHT_TEST_POSTGRES_URL")


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[str]:
    """A fresh database on the real PostgreSQL server that ``scripts/ci_services.sh`` starts."""
    base = _postgres_url()
    if base is None:
        if os.environ.get("OVERSIGHT_REQUIRE_POSTGRES") == "1":
            pytest.fail("OVERSIGHT_TEST_POSTGRES_URL is not set (scripts/ci_services.sh sets it)")
        pytest.skip("no PostgreSQL server (set OVERSIGHT_TEST_POSTGRES_URL)")
    from sqlalchemy import create_engine, text

    name = f"oversight_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
