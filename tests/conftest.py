from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import psycopg
import pytest

from tests.server import Api, ServerProcess


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the tests that only need a running one (each uses fresh users)."""
    srv = ServerProcess(tmp_path_factory.mktemp("chapar-shared"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A private server, for tests that stop, kill or reconfigure it."""
    srv = ServerProcess(tmp_path / "data")
    yield srv
    if srv.proc is not None:
        srv.kill()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def api(server: ServerProcess, http: aiohttp.ClientSession) -> Api:
    return Api(http, server.url)


PG_URL = os.environ.get("CHAPAR_TEST_POSTGRES_URL")


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server on the machine's PostgreSQL, in a schema of its own that is dropped after."""
    if not PG_URL:
        pytest.skip("set CHAPAR_TEST_POSTGRES_URL to run server tests on PostgreSQL")
    schema = f"srv_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    srv = ServerProcess(
        tmp_path_factory.mktemp("chapar-pg"),
        env={"CHAPAR_DATABASE_URL": f"{PG_URL}?schema={schema}"},
    )
    try:
        srv.start()
        yield srv
        srv.stop()
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def any_server(request: pytest.FixtureRequest) -> ServerProcess:
    """The shared server on each store: for tests that must hold on every engine."""
    name = "server" if request.param == "sqlite" else "pg_server"
    srv: ServerProcess = request.getfixturevalue(name)
    return srv
