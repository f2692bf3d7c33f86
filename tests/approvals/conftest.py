"""The store contract runs on both backends: every test here that takes `store` (or `broker`,
`store_url`) runs once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
