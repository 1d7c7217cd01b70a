"""Real processes for cluster tests and benchmarks: a private PostgreSQL, a private Redis,
nginx running ``deploy/nginx.conf``, and N Chapar nodes sharing them.

Why private instances: fault tests stop and restart the database and Redis, and the
machine's shared PostgreSQL (5432) and Redis (6379) serve every other test and session
(GUIDE §3). Each instance here lives in its own temporary directory, listens on a free
loopback port, and is gone when :meth:`stop` returns.

Why nginx runs the repository's own ``deploy/nginx.conf``: the configuration operators
install is the one under test. :func:`render_nginx_conf` changes only what must differ in a
test (node addresses, listening port, file paths) and fails loudly if the template no
longer has the lines it expects.

No pytest here: ``bench/cluster.py`` uses the same helpers.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.server import ServerProcess

REPO = Path(__file__).resolve().parents[1]
NGINX_TEMPLATE = REPO / "deploy" / "nginx.conf"
WAIT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int, probe: bytes, expect: bytes) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            if probe:
                s.sendall(probe)
            return s.recv(64).startswith(expect) if expect else True
    except OSError:
        return False


# -- which tools this machine has -------------------------------------------------------
def postgres_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl: the newest /usr/lib/postgresql/<v>/bin
    (Debian keeps them off PATH), else wherever PATH finds initdb."""

    def version(p: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", p.parent.parent.name))

    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    if found:
        return max(found, key=lambda d: version(d / "initdb"))
    on_path = shutil.which("initdb")
    return Path(on_path).resolve().parent if on_path else None


def missing_tools() -> list[str]:
    """The programs a cluster test needs that this machine lacks (empty: all present)."""
    missing = []
    bindir = postgres_bindir()
    if bindir is None or not (bindir / "pg_ctl").exists():
        missing.append("initdb/pg_ctl (apt-get install postgresql)")
    if shutil.which("redis-server") is None:
        missing.append("redis-server (apt-get install redis-server)")
    if nginx_binary() is None:
        missing.append("nginx (apt-get install nginx-light)")
    return missing


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )


# -- PostgreSQL ---------------------------------------------------------------------------
class PrivatePostgres:
    """A PostgreSQL cluster of its own: ``initdb`` into a temporary directory, ``pg_ctl``
    on a free port, trust authentication, the socket in that directory (so it never
    touches the machine's /var/run/postgresql).

    PostgreSQL refuses to run as root, so under root every command runs as the
    ``postgres`` OS user (``runuser``) in a directory that user owns. ``fsync=off`` keeps
    initdb and the test fast; it does not weaken what the tests check, because they kill
    PostgreSQL's processes, not the machine: whatever a commit wrote reaches the page
    cache and survives, exactly as a process crash would leave it.
    """

    def __init__(self, os_user: str = "postgres", settings: dict[str, str] | None = None) -> None:
        bindir = postgres_bindir()
        if bindir is None:
            raise RuntimeError("initdb not found: apt-get install postgresql")
        self.bindir = bindir
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix="chapar-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        if self.as_root:
            pw = pwd.getpwnam(os_user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.os_user = os_user
        # Benchmarks pass fsync=on: durable commits, as SQLite's synchronous=FULL.
        self.settings = {"fsync": "off", "shared_buffers": "32MB", "max_connections": "200"}
        self.settings.update(settings or {})
        self._initialised = False

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / argv[0]), *argv[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", self.os_user, "--", *cmd]
        return subprocess.run(
            cmd, capture_output=True, text=True, check=check, timeout=120, cwd=self.dir
        )

    def start(self) -> None:
        if not self._initialised:
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
            self._initialised = True
        options = " ".join(
            [
                f"-p {self.port}",
                f"-k {self.dir}",
                "-c listen_addresses=127.0.0.1",
                *(f"-c {k}={v}" for k, v in self.settings.items()),
            ]
        )
        done = self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
            "-t", str(int(WAIT_SECONDS)), "start", check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {done.stderr}\n{self.log_tail()}")

    def stop(self, mode: str = "fast") -> None:
        """``fast``: a clean shutdown; ``immediate``: the processes quit at once, without a
        checkpoint, and the next start recovers from the WAL, as after a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self, mode: str = "immediate") -> None:
        self.stop(mode)
        self.start()

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def log_tail(self, chars: int = 2000) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-chars:]
        return ""

    def destroy(self) -> None:
        if self._initialised and self.running():
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


# -- Redis --------------------------------------------------------------------------------
class PrivateRedis:
    """One redis-server on a free loopback port, in its own directory, without
    persistence: killing it loses everything, like the crash of a cache."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found: apt-get install redis-server")
        self.binary = binary
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="chapar-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.proc is None, "already running"
        self.proc = subprocess.Popen(
            [
                *(self.binary, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.dir)),
                *("--maxclients", "10000"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + WAIT_SECONDS
        while not _answers(self.port, b"PING\r\n", b"+PONG"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(WAIT_SECONDS)
            self.proc = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def destroy(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


# -- nginx --------------------------------------------------------------------------------
_NODES_BLOCK = re.compile(r"(?m)^([ \t]*)# nodes:begin\n.*?^[ \t]*# nodes:end\n", re.S)


def _replace_once(pattern: str, repl: str, text: str) -> str:
    new, n = re.subn(pattern, repl, text, flags=re.M)
    if n != 1:
        raise ValueError(f"deploy/nginx.conf: expected one line matching {pattern!r}, found {n}")
    return new


def render_nginx_conf(
    template: str, nodes: Iterable[str], listen: str, workdir: Path, worker_processes: int = 1
) -> str:
    """The template with its nodes, listening address and file paths replaced.

    ``nodes`` are ``host:port`` strings; each keeps the template's server parameters
    (max_fails, fail_timeout). Everything else — timeouts, headers, health rules — is the
    template's own."""
    m = _NODES_BLOCK.search(template)
    if m is None:
        raise ValueError("deploy/nginx.conf: no '# nodes:begin' ... '# nodes:end' block")
    indent = m.group(1)
    params = re.search(r"server\s+\S+\s+([^;]*);", m.group(0))
    extra = f" {params.group(1)}" if params and params.group(1) else ""
    lines = "".join(f"{indent}server {node}{extra};\n" for node in nodes)
    text = template[: m.start()] + lines + template[m.end() :]
    # Paths of the running system become paths in workdir; the user line goes (as root,
    # the workers then run as nobody, who can reach the 0777 temp dirs made below).
    text = _replace_once(r"^user\s+[^;]+;\n", "", text)
    text = _replace_once(r"^pid\s+[^;]+;", f"pid {workdir / 'nginx.pid'};", text)
    text = _replace_once(r"^error_log\s+[^;]+;", f"error_log {workdir / 'error.log'} info;", text)
    text = _replace_once(
        r"^worker_processes\s+[^;]+;", f"worker_processes {worker_processes};", text
    )
    text = _replace_once(r"^(\s*)access_log\s+\S+", rf"\1access_log {workdir / 'access.log'}", text)
    text = _replace_once(r"^(\s*)listen\s+[^;]+;", rf"\1listen {listen};", text)
    temp = [
        f"client_body_temp_path {workdir / 'body'};",
        f"proxy_temp_path {workdir / 'proxy'};",
        f"fastcgi_temp_path {workdir / 'fastcgi'};",
        f"uwsgi_temp_path {workdir / 'uwsgi'};",
        f"scgi_temp_path {workdir / 'scgi'};",
    ]
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (workdir / sub).mkdir(mode=0o777, exist_ok=True)
        (workdir / sub).chmod(0o777)
    return _replace_once(r"^http\s*\{\n", "http {\n    " + "\n    ".join(temp) + "\n", text)


class Nginx:
    """nginx in the foreground (``daemon off``) as a child of this process, running
    ``deploy/nginx.conf`` rendered for the given nodes."""

    def __init__(
        self, nodes: Sequence[str], workdir: Path | None = None, worker_processes: int = 1
    ) -> None:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("nginx not found: apt-get install nginx-light")
        self.binary = binary
        self.port = free_port()
        # Not under pytest's private (0700) directory: the workers, as nobody, write
        # request and response bodies that do not fit in memory to temp dirs in here.
        self._own_dir = workdir is None
        self.dir = workdir or Path(tempfile.mkdtemp(prefix="chapar-nginx-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)
        self.conf = self.dir / "nginx.conf"
        self.conf.write_text(
            render_nginx_conf(
                NGINX_TEMPLATE.read_text(),
                nodes,
                f"127.0.0.1:{self.port}",
                self.dir,
                worker_processes,
            )
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def check(self) -> None:
        """``nginx -t``: the rendered template parses."""
        done = subprocess.run(
            [self.binary, "-t", "-p", str(self.dir), "-c", str(self.conf)],
            capture_output=True,
            text=True,
            timeout=WAIT_SECONDS,
        )
        if done.returncode != 0:
            raise RuntimeError(f"nginx -t failed:\n{done.stderr}")

    def start(self) -> None:
        self.check()
        with (self.dir / "stderr.log").open("ab") as err:
            self.proc = subprocess.Popen(
                [self.binary, "-p", str(self.dir), "-c", str(self.conf), "-g", "daemon off;"],
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        deadline = time.monotonic() + WAIT_SECONDS
        while not _answers(self.port, b"", b""):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start:\n{self.error_log()}")
            time.sleep(0.02)

    def error_log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.dir / "error.log").read_text(errors="replace")[-4000:]
        return ""

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: finish what is in flight
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def destroy(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


# -- the nodes ----------------------------------------------------------------------------
def node_env(database_url: str, redis_url: str, **settings: str) -> dict[str, str]:
    """The environment of a node of the cluster: the shared store and bus, and
    ``CHAPAR_<NAME>`` for each extra setting given as ``name=value``."""
    env = {"CHAPAR_DATABASE_URL": database_url, "CHAPAR_REDIS_URL": redis_url}
    env.update({f"CHAPAR_{k.upper()}": v for k, v in settings.items()})
    return env


def start_nodes(nodes: Sequence[ServerProcess]) -> None:
    """Start the first node alone (it applies the migrations), then the others together:
    their start-up (imports, connections) overlaps."""
    if not nodes:
        return
    nodes[0].start()
    with ThreadPoolExecutor(max_workers=max(1, len(nodes) - 1)) as pool:
        for started in [pool.submit(n.start) for n in nodes[1:]]:
            started.result()


def http_status(url: str, timeout: float = 5.0) -> int:
    """The status of a GET (0: no answer at all)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
    except OSError:
        return 0


def metric(text: str, name: str) -> float | None:
    """The value of an unlabelled sample in Prometheus' text format."""
    m = re.search(rf"(?m)^{re.escape(name)} (\S+)$", text)
    return float(m.group(1)) if m else None


def node_metrics(node: ServerProcess) -> str:
    with urllib.request.urlopen(node.url + "/metrics", timeout=5) as r:
        body: bytes = r.read()
    return body.decode()
