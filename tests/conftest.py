from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
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
