"""The contract every BlobStore adapter must pass (GUIDE §2), on the filesystem always and
on S3 against a real S3-protocol server: moto's server mode, started here as a child
process on a free loopback port. Without moto installed the S3 runs skip, except under CI
(env CI set), where they fail: CI must prove the S3 adapter.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiohttp
import obstore
import pytest
from obstore.store import S3Store

from chapar.adapters.fs.blobs import FsBlobStore
from chapar.adapters.s3.blobs import S3BlobStore, parse_blob_url
from chapar.errors import Unavailable
from chapar.ports.blobs import BlobStore
from tests.server import Api, ServerProcess, free_port

CREDENTIALS = {"access_key_id": "testing", "secret_access_key": "testing"}


class MotoServer:
    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("moto did not start in time")

    def new_bucket(self) -> str:
        name = f"chapar-{uuid.uuid4().hex[:16]}"
        req = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT")
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200
        return name

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
        if os.environ.get("CI"):
            pytest.fail("moto[server] is not installed: CI must run the S3 blob contract")
        pytest.skip("install moto[server] (pip install -e '.[dev]') to run the S3 contract")
    srv = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    srv.start()
    yield srv
    srv.stop()


# Makes a store on the backend; two calls give two independent namespaces.
Factory = Callable[[], BlobStore]


@pytest.fixture(params=["fs", "s3"])
async def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Factory]:
    made: list[BlobStore] = []
    if request.param == "s3":
        moto: MotoServer = request.getfixturevalue("moto_server")
        bucket = moto.new_bucket()

        def make() -> BlobStore:
            store = S3BlobStore(
                bucket,
                prefix=f"p{len(made)}",
                endpoint=moto.endpoint,
                credentials=CREDENTIALS,
            )
            made.append(store)
            return store
    else:

        def make() -> BlobStore:
            store = FsBlobStore(tmp_path / f"blobs{len(made)}")
            made.append(store)
            return store

    yield make
    for s in made:
        await s.close()


@pytest.fixture
def blobs(new_store: Factory) -> BlobStore:
    return new_store()


async def test_put_then_get_returns_the_same_bytes(blobs: BlobStore) -> None:
    every_byte = bytes(range(256)) * 2048 + b"\x00tail"  # 512 KiB and a bit, all values
    await blobs.put("f/1/0", every_byte)
    await blobs.put("f/1/1", b"")
    assert await blobs.get("f/1/0") == every_byte
    assert await blobs.get("f/1/1") == b""


async def test_a_missing_key_is_none(blobs: BlobStore) -> None:
    assert await blobs.get("f/404/0") is None
    await blobs.put("f/1/0", b"x")
    assert await blobs.get("f/1/00") is None and await blobs.get("f/1/1") is None


async def test_put_replaces(blobs: BlobStore) -> None:
    await blobs.put("up/1/2/3", b"first")
    await blobs.put("up/1/2/3", b"second, longer")
    assert await blobs.get("up/1/2/3") == b"second, longer"


async def test_delete_removes_only_the_named_keys(blobs: BlobStore) -> None:
    for n in (1, 10, 11):
        await blobs.put(f"f/5/{n}", str(n).encode())
    await blobs.delete(["f/5/1", "f/5/999", "f/6/0"])  # missing keys are fine
    await blobs.delete([])
    assert await blobs.get("f/5/1") is None
    assert await blobs.get("f/5/10") == b"10" and await blobs.get("f/5/11") == b"11"
    await blobs.delete(["f/5/10", "f/5/11"])
    assert await blobs.get("f/5/10") is None and await blobs.get("f/5/11") is None


async def test_concurrent_puts_and_gets(blobs: BlobStore) -> None:
    keys = [f"f/{i}/{j}" for i in range(8) for j in range(4)]
    await asyncio.gather(*[blobs.put(k, k.encode() * 1000) for k in keys])
    got = await asyncio.gather(*[blobs.get(k) for k in keys])
    assert got == [k.encode() * 1000 for k in keys]


async def test_two_stores_do_not_see_each_other(new_store: Factory) -> None:
    a, b = new_store(), new_store()
    await a.put("f/1/0", b"a")
    assert await b.get("f/1/0") is None
    await b.put("f/1/0", b"b")
    await b.delete(["f/1/0"])
    assert await a.get("f/1/0") == b"a"


async def test_s3_failures_become_unavailable(moto_server: MotoServer) -> None:
    missing = S3BlobStore(
        f"no-such-bucket-{uuid.uuid4().hex[:8]}",
        endpoint=moto_server.endpoint,
        credentials=CREDENTIALS,
    )
    with pytest.raises(Unavailable) as e:
        await missing.put("f/1/0", b"x")
    assert e.value.type == "BLOB_STORE_UNAVAILABLE"


def test_blob_urls() -> None:
    assert parse_blob_url("s3://media") == ("media", None, {})
    assert parse_blob_url("s3://media/chapar/prod/?endpoint=http://127.0.0.1:9000&region=x") == (
        "media",
        "chapar/prod",
        {"endpoint": "http://127.0.0.1:9000", "region": "x"},
    )
    for bad in ("http://media", "s3://", "s3://b?secret=x", "/var/blobs"):
        with pytest.raises(ValueError):
            parse_blob_url(bad)


async def test_a_server_on_s3_keeps_only_ciphertext_in_the_bucket(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """The whole server with blob_url on S3: a file goes up and comes back intact, and
    no 64-byte run of it (sampled every 2 KiB) lies in the bucket or the data dir."""
    bucket = moto_server.new_bucket()
    srv = ServerProcess(
        tmp_path / "data",
        env={
            "CHAPAR_BLOB_URL": f"s3://{bucket}/chapar?endpoint={moto_server.endpoint}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        },
    )
    srv.start()
    part = 512 * 1024
    data = os.urandom(2 * part + 777)
    try:
        async with aiohttp.ClientSession() as http:
            api = Api(http, srv.url)
            token, me = await api.sign_up("S3")
            fid = int.from_bytes(os.urandom(6), "big")
            for n in range(3):
                async with http.put(
                    f"{srv.url}/api/files/{fid}/parts/{n}?total=3",
                    data=data[n * part : (n + 1) * part],
                    headers={"Authorization": f"Bearer {token}"},
                ) as r:
                    assert r.status == 200
            sent = await api.ok(
                "messages.sendMedia",
                {
                    "peer": {"user_id": me["id"]},
                    "random_id": fid,
                    "file": {"id": fid, "parts": 3, "mime_type": "application/zip"},
                },
                token,
            )
            async with http.get(
                srv.url + sent["message"]["media"]["url"],
                headers={"Authorization": f"Bearer {token}", "Range": f"bytes={part - 5}-"},
            ) as r:
                assert r.status == 206 and await r.read() == data[part - 5 :]
    finally:
        srv.stop()
    store = S3Store(
        bucket,
        endpoint=moto_server.endpoint,
        client_options={"allow_http": True},
        access_key_id="testing",
        secret_access_key="testing",
    )
    keys = [meta["path"] for batch in obstore.list(store) for meta in batch]
    assert sorted(k for k in keys if k.startswith("chapar/f/")) == [
        f"chapar/f/{sent['message']['media']['file_id']}/{n}" for n in range(3)
    ]
    samples = [data[i : i + 64] for i in range(0, len(data) - 64, 2048)]
    for key in keys:
        blob = bytes(obstore.get(store, key).bytes())
        assert not any(s in blob for s in samples), key
    assert not (tmp_path / "data" / "blobs").exists()  # nothing went to the filesystem
