"""Fixtures: the real test model (SP_TEST_MODEL) and stores on both backends (DATABASE_URL)."""

import os
import uuid

import pytest

import story_portal as sp


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        # The test script provides it; running pytest by hand without it is a setup error.
        raise RuntimeError(f"{name} is not set: run the suite through scripts/python-test.sh")
    return value


@pytest.fixture(scope="session")
def model_path() -> str:
    return _required("SP_TEST_MODEL")


@pytest.fixture(scope="session")
def model(model_path: str) -> sp.Model:
    return sp.Model(model_path, slots=4, context_per_slot=1024)


@pytest.fixture(params=["embedded", "postgres"])
def location(request, tmp_path) -> str:
    """Where a fresh store lives: a directory, or a PostgreSQL schema of its own."""
    if request.param == "embedded":
        return str(tmp_path / "store")
    return _required("DATABASE_URL")


@pytest.fixture
def open_store(location: str):
    schema = f"py_{uuid.uuid4().hex}"

    def open_(**options) -> sp.KnowledgeStore:
        if location.startswith("postgres"):
            options.setdefault("schema", schema)
        return sp.KnowledgeStore.open(location, **options)

    return open_
