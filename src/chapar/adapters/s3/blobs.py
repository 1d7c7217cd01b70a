"""The scale-out blob store: an S3-compatible bucket through obstore.

Why obstore and not aiobotocore: obstore is the Python face of Apache Arrow's Rust
``object_store`` crate — natively async, typed (it ships stubs, so mypy strict holds without
a stub package), with retries and connection pooling built in, and it does not pin
botocore or aiohttp, which aiobotocore does (its exact botocore pin fights every other AWS
package in the environment). It speaks to AWS, MinIO, Ceph RGW, Garage, SeaweedFS and
moto's server alike.

Configuration is one URL (``blob_url`` in the settings)::

    s3://bucket[/prefix][?endpoint=http://127.0.0.1:9000&region=us-east-1]

Credentials are not part of the URL: they come from the usual ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` (or any other source obstore reads: instance roles, web
identity), so a URL can be logged and shown without leaking a secret. An ``http://``
endpoint is allowed (a bucket on the same private network); path-style requests are used
whenever an endpoint is given, because most self-hosted servers do not serve
``bucket.host`` names.

Every blob is already ciphertext (services/media.py), so the bucket needs no server-side
encryption to keep files unreadable; an operator may still turn it on.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import obstore
from obstore.exceptions import BaseError, NotFoundError
from obstore.store import S3Store

from chapar.errors import Unavailable

# S3 DeleteObjects takes up to 1,000 keys a request.
_DELETE_BATCH = 1000


def parse_blob_url(url: str) -> tuple[str, str | None, dict[str, str]]:
    """(bucket, prefix, options) of an ``s3://`` URL; ValueError says what is wrong."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"blob_url {url!r}: expected s3://bucket[/prefix][?endpoint=...]")
    prefix = parts.path.strip("/") or None
    options: dict[str, str] = {}
    for key, values in parse_qs(parts.query, keep_blank_values=False).items():
        if key not in ("endpoint", "region"):
            raise ValueError(f"blob_url: unknown option {key!r} (endpoint, region)")
        options[key] = values[-1]
    return parts.netloc, prefix, options


class S3BlobStore:
    """BlobStore on one bucket (and optional key prefix)."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str | None = None,
        endpoint: str | None = None,
        region: str | None = None,
        credentials: Mapping[str, str] | None = None,
    ) -> None:
        config: dict[str, str | bool] = {"region": region or "us-east-1"}
        if endpoint:
            config["endpoint"] = endpoint
            config["virtual_hosted_style_request"] = False
        for name in ("access_key_id", "secret_access_key"):
            if credentials and name in credentials:
                config[name] = credentials[name]
        self.bucket = bucket
        self._store = S3Store(
            bucket,
            prefix=prefix,
            config=config,  # type: ignore[arg-type]  # a dict of S3Config's keys
            client_options={
                "allow_http": bool(endpoint and endpoint.startswith("http://")),
                "connect_timeout": timedelta(seconds=5),
                "timeout": timedelta(seconds=60),
            },
            # Bounded: a request fails (503 to the caller) instead of hanging for minutes.
            retry_config={"max_retries": 3, "retry_timeout": timedelta(seconds=20)},
        )

    @classmethod
    def from_url(cls, url: str, credentials: Mapping[str, str] | None = None) -> S3BlobStore:
        bucket, prefix, opts = parse_blob_url(url)
        return cls(
            bucket,
            prefix=prefix,
            endpoint=opts.get("endpoint"),
            region=opts.get("region"),
            credentials=credentials,
        )

    async def put(self, key: str, data: bytes) -> None:
        # A single PUT is atomic in S3: readers see the old object or the whole new one.
        try:
            await obstore.put_async(self._store, key, data)
        except (BaseError, FileNotFoundError) as e:  # a 404 on a put: no such bucket
            raise _unavailable("put", key, e) from e

    async def get(self, key: str) -> bytes | None:
        try:
            result = await obstore.get_async(self._store, key)
            return bytes(await result.bytes_async())
        except (FileNotFoundError, NotFoundError):
            return None
        except BaseError as e:
            raise _unavailable("get", key, e) from e

    async def delete(self, keys: list[str]) -> None:
        try:
            for i in range(0, len(keys), _DELETE_BATCH):
                # Deleting a missing key is not an error in S3.
                await obstore.delete_async(self._store, keys[i : i + _DELETE_BATCH])
        except (FileNotFoundError, NotFoundError):
            return
        except BaseError as e:
            raise _unavailable("delete", keys[0] if keys else "", e) from e

    async def close(self) -> None:
        # obstore's connection pool is released with the store object; nothing to await.
        return None


def _unavailable(op: str, key: str, e: BaseException) -> Unavailable:
    """Translate obstore's errors at the boundary (httpx-style): callers see Unavailable."""
    return Unavailable("BLOB_STORE_UNAVAILABLE", f"blob store {op} {key!r} failed: {e}"[:500])
