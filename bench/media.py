"""Media benchmark: upload and download MB/s through the origin, through a CDN edge on a
cache hit, and nginx on the same machine as the baseline in the same run; then origin
offload: N downloads of one file through the edge while the origin sends it once.

Processes (all on 127.0.0.1, each a child of this script): a Chapar origin on an empty
SQLite database with every file put on the edge (cdn_policy=all), one ``chapar edge``,
and nginx (Debian's nginx-light, installed with apt-get if missing and we are root; one
worker, sendfile on, DAV PUT for uploads) with a temporary config and prefix.

Rows:
  upload     origin: PUT 512 KiB parts (--concurrency in flight) + messages.sendMedia,
                     which hashes, re-encrypts and stores the file (new content each round)
             nginx:  the same parts PUT to disk through its DAV module
             (uploads are driven by this process, aiohttp)
  download   origin: GET the media URL: read from the blob store, decrypt, stream
             edge:   GET every encrypted part from the edge's cache (what it sends)
             nginx:  GET the plaintext file from disk; and the same cut into 512 KiB
                     files, one GET per part, the edge's request pattern
             (downloaded by curl, --parallel 4 for the per-part rows, so the client is not
             what is measured; --client aiohttp to use this process instead)
             edge + chapar.client.cdn: the client library in this process, which checks
                     the SHA-256 of every part and decrypts (bounded by this process)
Each download row runs --downloads downloads of the file, --parallel at a time, in
--rounds rounds that interleave the rows; the median is printed. The machine is shared:
the script first waits (up to 20 s) for it to be quiet and prints how busy it was.

    .venv/bin/python bench/media.py
    .venv/bin/python bench/media.py --size-mb 128 --downloads 16 --offload 1000
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp

from bench.common import (
    Child,
    fmt_num,
    free_port,
    machine_info,
    process_cpu_seconds,
    render_table,
    wait_until_quiet,
)
from chapar.client.cdn import download_redirect, get_media, get_media_url

PART = 512 * 1024
MB = 1024 * 1024
TEST_CODE = "222222"


def nginx_config(root: Path, port: int) -> str:
    tmp = root / "tmp"
    # As root, nginx's workers would drop to "nobody", who cannot write into our temp dir.
    user = "user root;" if os.geteuid() == 0 else ""
    return f"""
daemon off;
{user}
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location = /healthz {{ return 200 "ok"; }}
        location /files/ {{ root {root}; }}
        location /up/ {{
            root {root};
            dav_methods PUT;
            create_full_put_path on;
            client_max_body_size 1m;
        }}
    }}
}}
"""


def nginx_part_url(base: str, upload: int, n: int) -> str:
    return f"{base}/up/{upload}/{n}"


def find_nginx() -> str | None:
    """Debian's nginx, installing nginx-light if we may; None (and a message) if not."""
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("nginx not found: apt-get install -y nginx-light ...", flush=True)
        try:
            subprocess.run(
                ["apt-get", "install", "-y", "-q", "nginx-light"],
                check=True,
                timeout=300,
                capture_output=True,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )
        except (OSError, subprocess.SubprocessError) as e:
            print(f"could not install nginx ({e}); the nginx baseline is skipped")
            return None
        return shutil.which("nginx") or "/usr/sbin/nginx"
    print("nginx not found and cannot install it here; the nginx baseline is skipped")
    return None


class Bench:
    def __init__(self, http: aiohttp.ClientSession, origin: str, edge: str, args: Any) -> None:
        self.http = http
        self.origin = origin
        self.edge = edge
        self.args = args
        self.token = ""
        self.user_id = 0
        self._ids = iter(range(int(time.time()) * 1000, 2**62))

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.http.post(f"{self.origin}/api/{method}", json=params, headers=headers) as r:
            body = await r.json()
        if not body.get("ok"):
            raise RuntimeError(f"{method}: {body}")
        return body["result"]

    async def sign_up(self) -> None:
        phone = f"+99966{int(time.time() * 1000) % 10_000_000:07d}"
        sent = await self.call("auth.sendCode", {"phone": phone})
        res = await self.call(
            "auth.signUp",
            {
                "phone": phone,
                "phone_code_hash": sent["phone_code_hash"],
                "code": TEST_CODE,
                "first_name": "Bench",
            },
        )
        self.token, self.user_id = res["token"], res["user"]["id"]

    async def put_parts(self, url_of: Callable[[int], str], data: bytes, auth: bool) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
        count = -(-len(data) // PART)
        sem = asyncio.Semaphore(self.args.concurrency)

        async def one(n: int) -> None:
            async with (
                sem,
                self.http.put(
                    url_of(n), data=data[n * PART : (n + 1) * PART], headers=headers
                ) as r,
            ):
                if r.status not in (200, 201, 204):
                    raise RuntimeError(f"PUT {url_of(n)}: {r.status} {await r.text()}")

        await asyncio.gather(*[one(n) for n in range(count)])

    async def upload_origin(self, data: bytes) -> int:
        """Upload and send to oneself; returns the message id."""
        fid = next(self._ids)
        count = -(-len(data) // PART)
        await self.put_parts(
            lambda n: f"{self.origin}/api/files/{fid}/parts/{n}?total={count}", data, True
        )
        sent = await self.call(
            "messages.sendMedia",
            {
                "peer": {"user_id": self.user_id},
                "random_id": fid,
                "file": {"id": fid, "parts": count, "mime_type": "video/mp4", "name": "b.mp4"},
            },
        )
        return int(sent["message"]["id"])

    async def drain(self, url: str, headers: dict[str, str] | None = None) -> int:
        """GET and count the bytes without keeping them (like curl -o /dev/null)."""
        n = 0
        async with self.http.get(url, headers=headers) as r:
            if r.status != 200:
                raise RuntimeError(f"GET {url}: {r.status}")
            async for chunk in r.content.iter_chunked(1 << 20):
                n += len(chunk)
        return n

    async def curl(self, urls: list[str], headers: dict[str, str] | None = None) -> int:
        """Download with curl (C, so the client is not what is measured), 4 transfers at
        a time over reused connections; returns the bytes received."""
        argv = ["curl", "-sS", "--fail", "--parallel", "--parallel-max", "4"]
        argv += ["-w", "%{size_download}\n"]
        for k, v in (headers or {}).items():
            argv += ["-H", f"{k}: {v}"]
        for url in urls:
            argv += ["-o", "/dev/null", url]
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"curl {urls[0]}: {err.decode(errors='replace')[:300]}")
        return sum(int(x) for x in out.split())

    async def by_parts(self, urls: list[str]) -> int:
        """GET every part's URL, 4 at a time (as client/cdn.py does), bytes counted only."""
        sem = asyncio.Semaphore(4)

        async def one(url: str) -> int:
            async with sem:
                return await self.drain(url)

        return sum(await asyncio.gather(*[one(u) for u in urls]))


async def rate(times: int, parallel: int, one: Callable[[], Awaitable[int]]) -> tuple[float, int]:
    """(MB/s, bytes) for ``times`` runs of ``one``, ``parallel`` at a time."""
    sem = asyncio.Semaphore(parallel)

    async def run() -> int:
        async with sem:
            return await one()

    t0 = time.perf_counter()
    total = sum(await asyncio.gather(*[run() for _ in range(times)]))
    return total / MB / (time.perf_counter() - t0), total


def median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (nginx's master and worker)."""
    total = process_cpu_seconds(pid) or 0.0
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            total += process_cpu_seconds(int(child)) or 0.0
    return total


def origin_parts_served(log: Path) -> int:
    return len(re.findall(r"cdn part served", log.read_text(errors="replace")))


async def edge_stats(http: aiohttp.ClientSession, edge: str) -> dict[str, int]:
    async with http.get(f"{edge}/stats") as r:
        stats: dict[str, int] = await r.json()
        return stats


async def run(args: Any, root: Path) -> None:
    origin_port, edge_port = free_port(), free_port()
    origin_url, edge_url = f"http://127.0.0.1:{origin_port}", f"http://127.0.0.1:{edge_port}"
    children: list[Child] = []
    env = {
        "CHAPAR_TEST_NUMBERS": "true",
        "CHAPAR_SQLITE_SYNCHRONOUS": "NORMAL",
        "CHAPAR_CDN_EDGES": edge_url,
        "CHAPAR_CDN_POLICY": "all",
        "CHAPAR_DAILY_UPLOAD_BYTES": str(10**13),
    }
    origin = Child(
        [sys.executable, "-m", "chapar", "serve", "--port", str(origin_port),
         "--data-dir", str(root / "origin")],
        root / "origin.log",
        env,
    )  # fmt: skip
    edge = Child(
        [sys.executable, "-m", "chapar", "edge", "--origin", origin_url, "--port",
         str(edge_port), "--cache-dir", str(root / "edge"), "--cache-size", "4G"],
        root / "edge.log",
    )  # fmt: skip
    nginx_bin = None if args.no_nginx else find_nginx()
    nginx_url = ""
    data = os.urandom(args.size_mb * MB)
    try:
        origin.start(origin_url + "/healthz")
        children.append(origin)
        edge.start(edge_url + "/healthz")
        children.append(edge)
        if nginx_bin:
            nroot = root / "nginx"
            (nroot / "tmp").mkdir(parents=True)
            (nroot / "files").mkdir()
            (nroot / "files" / "blob.bin").write_bytes(data)
            (nroot / "files" / "parts").mkdir()
            for n in range(0, len(data), PART):
                (nroot / "files" / "parts" / str(n // PART)).write_bytes(data[n : n + PART])
            port = free_port()
            (nroot / "nginx.conf").write_text(nginx_config(nroot, port))
            nginx = Child([nginx_bin, "-p", str(nroot), "-c", str(nroot / "nginx.conf")],
                          root / "nginx.out")  # fmt: skip
            nginx.start(f"http://127.0.0.1:{port}/healthz")
            children.append(nginx)
            nginx_url = f"http://127.0.0.1:{port}"
        busy = wait_until_quiet(20, 30)
        conn = aiohttp.TCPConnector(limit=64)
        timeout = aiohttp.ClientTimeout(total=600)
        async with aiohttp.ClientSession(connector=conn, timeout=timeout) as http:
            b = Bench(http, origin_url, edge_url, args)
            await b.sign_up()
            # (kind, path, MB/s, server CPU seconds per GiB moved)
            rows: list[tuple[str, str, float | None, float | None]] = []
            nginx_pid = nginx.pid if nginx_url else 0

            # -- uploads: fresh content each round, so dedup never skips the work
            uploads = [os.urandom(args.size_mb * MB) for _ in range(args.uploads)]
            up_o: list[float] = []
            up_n: list[float] = []
            cpu_o = cpu_n = 0.0
            for i, blob in enumerate(uploads):
                t0, c0 = time.perf_counter(), tree_cpu(origin.pid)
                await b.upload_origin(blob)
                up_o.append(args.size_mb / (time.perf_counter() - t0))
                cpu_o += tree_cpu(origin.pid) - c0
                if nginx_url:
                    t0, c0 = time.perf_counter(), tree_cpu(nginx_pid)
                    await b.put_parts(functools.partial(nginx_part_url, nginx_url, i), blob, False)
                    up_n.append(args.size_mb / (time.perf_counter() - t0))
                    cpu_n += tree_cpu(nginx_pid) - c0
            gib = args.uploads * args.size_mb / 1024
            rows.append(("upload", "origin (PUT parts + sendMedia)", median(up_o), cpu_o / gib))
            rows.append(("upload", "nginx (DAV PUT parts)", median(up_n), cpu_n / gib))

            # -- downloads of one file
            msg_id = await b.upload_origin(data)
            peer = {"user_id": b.user_id}
            first, report = await get_media(http, origin_url, b.token, peer, msg_id)
            assert first == data and report.via_cdn, "the edge must serve the file"
            answer = await get_media_url(http, origin_url, b.token, peer, msg_id)
            assert answer.cdn is not None
            cdn = answer.cdn
            media_url = origin_url + answer.url
            n, par = args.downloads, args.parallel
            edge_parts = [
                f"{cdn.edge_url}/cdn/{cdn.file_id}/{i}?token={cdn.token}"
                for i in range(len(cdn.part_hashes))
            ]

            async def checked() -> int:
                return len(await download_redirect(http, origin_url, cdn))

            auth = {"Authorization": f"Bearer {b.token}"}
            paths: dict[str, Callable[[], Awaitable[int]]] = {}
            nginx_file = f"{nginx_url}/files/blob.bin"
            nginx_parts = [f"{nginx_url}/files/parts/{i}" for i in range(len(cdn.part_hashes))]
            if args.client == "curl":
                paths["origin (decrypting)"] = lambda: b.curl([media_url], auth)
                paths["edge, cache hit (ciphertext)"] = lambda: b.curl(edge_parts)
                if nginx_url:
                    paths["nginx (sendfile from disk)"] = lambda: b.curl([nginx_file])
                    paths["nginx, one GET per 512 KiB part"] = lambda: b.curl(nginx_parts)
            else:
                paths["origin (decrypting)"] = lambda: b.drain(media_url)
                paths["edge, cache hit (ciphertext)"] = lambda: b.by_parts(edge_parts)
                if nginx_url:
                    paths["nginx (sendfile from disk)"] = lambda: b.drain(nginx_file)
                    paths["nginx, one GET per 512 KiB part"] = lambda: b.by_parts(nginx_parts)
            # The client library checks and decrypts in this (Python) process: its row
            # is bounded by this process, whatever --client says.
            paths["edge + chapar.client.cdn (hash check, decrypt)"] = checked
            # Rounds interleave the paths, so a burst of load from elsewhere on this shared
            # machine hits all of them alike; each row is the median of its rounds.
            samples: dict[str, list[float]] = {name: [] for name in paths}
            cpu = dict.fromkeys(paths, 0.0)
            moved = dict.fromkeys(paths, 0)
            for _ in range(args.rounds):
                for name, one in paths.items():
                    pid = nginx_pid if name.startswith("nginx") else origin.pid
                    pid = edge.pid if name.startswith("edge") else pid
                    c0 = tree_cpu(pid)
                    mbs, nbytes = await rate(n, par, one)
                    cpu[name] += tree_cpu(pid) - c0
                    moved[name] += nbytes
                    samples[name].append(mbs)
            for name in paths:
                per_gib = cpu[name] / (moved[name] / 1024**3)
                rows.append(("download", name, median(samples[name]), per_gib))
            if not nginx_url:
                rows.append(("download", "nginx (sendfile from disk)", None, None))

            # -- offload: many downloads of one small file through the edge
            small = os.urandom(args.offload_kb * 1024)
            small_msg = await b.upload_origin(small)
            before_log = origin_parts_served(root / "origin.log")
            before = await edge_stats(http, edge_url)
            t0 = time.perf_counter()
            sem = asyncio.Semaphore(16)
            served_via_edge = 0

            async def one_small() -> None:
                nonlocal served_via_edge
                async with sem:
                    got, rep = await get_media(http, origin_url, b.token, peer, small_msg)
                    assert got == small
                    served_via_edge += rep.parts_from_edge

            await asyncio.gather(*[one_small() for _ in range(args.offload)])
            offload_s = time.perf_counter() - t0
            after = await edge_stats(http, edge_url)

        info = machine_info()
        print(f"\nmedia benchmark — {info['date']}, {info['cpu']} x{info['nproc']}, "
              f"Python {info['python']}, git {info['git']}")  # fmt: skip
        print(f"machine busy before start: {fmt_num(busy)}% of one core")
        print(f"file {args.size_mb} MiB; uploads x{args.uploads} (concurrency "
              f"{args.concurrency}); downloads x{n} per round, {par} at a time, "
              f"{args.rounds} rounds (medians); downloads by {args.client}\n")  # fmt: skip
        base_up = next((m for w, h, m, _ in rows if h == "nginx (DAV PUT parts)"), None)
        base_down = next((m for w, h, m, _ in rows if h == "nginx (sendfile from disk)"), None)
        table = []
        for what, how, speed, cost in rows:
            base = base_up if what == "upload" else base_down
            ratio = f"{speed / base:.2f}" if speed is not None and base else "-"
            table.append([what, how, fmt_num(speed, 1), ratio, fmt_num(cost, 2)])
        header = ["", "path", "MB/s", "x nginx", "server CPU s/GiB"]
        print(render_table(header, table, left=2))
        print(
            "(server CPU: of the process that serves the row — origin, edge or nginx's "
            "master and worker — per GiB moved; steadier than MB/s on a shared machine)"
        )
        origin_sent = origin_parts_served(root / "origin.log") - before_log
        parts = -(-len(small) // PART)
        print(
            f"\noffload: {args.offload} downloads of one {args.offload_kb} KiB file "
            f"({parts} parts) through the edge in {offload_s:.1f} s "
            f"({args.offload / offload_s:,.0f} downloads/s, each with messages.getMediaUrl)\n"
            f"  parts the edge served: {served_via_edge}; "
            f"parts the edge fetched from the origin: "
            f"{after['origin_fetches'] - before['origin_fetches']}; "
            f"parts the origin logged sending: {origin_sent} "
            f"(= the file once: {origin_sent == parts})"
        )
    finally:
        for c in reversed(children):
            c.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--size-mb", type=int, default=64, help="size of the file")
    p.add_argument("--uploads", type=int, default=3, help="upload rounds")
    p.add_argument("--rounds", type=int, default=3, help="download rounds (median reported)")
    p.add_argument("--concurrency", type=int, default=4, help="parts in flight per upload")
    p.add_argument("--downloads", type=int, default=8, help="downloads per round")
    p.add_argument("--parallel", type=int, default=2, help="downloads at a time")
    p.add_argument("--offload", type=int, default=1000, help="downloads for the offload row")
    p.add_argument("--offload-kb", type=int, default=1024)
    p.add_argument("--no-nginx", action="store_true")
    p.add_argument(
        "--client",
        choices=["curl", "aiohttp"],
        default="curl" if shutil.which("curl") else "aiohttp",
        help="what downloads the origin, edge and nginx rows (default curl, if installed)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="chapar-bench-media-"))
    try:
        try:
            import uvloop
        except ImportError:
            asyncio.run(run(args, root))
        else:
            uvloop.run(run(args, root))
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
