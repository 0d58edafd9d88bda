"""A PostgreSQL server for the tests of the store on its second backend (annotations/store/postgres.py).

`FT_TEST_POSTGRES` (a server URL, e.g. `postgresql://postgres@/postgres?host=/tmp/pg&port=5432`, as `.ci/run`
exports it) names a running server; otherwise, where PostgreSQL's binaries are found (`pg_config --bindir`,
`/usr/lib/postgresql/*/bin`), a throw-away cluster is made in a temporary folder for the test session (its
unix socket in that folder, no TCP) and removed at the end. With neither, the PostgreSQL tests are skipped
with the reason, or fail where `FT_REQUIRE_POSTGRES=1` (CI) says a server must be there.

`initdb` refuses to run as root: as root the cluster belongs to Debian's `postgres` user (runuser).

Each test gets a database of its own: `CREATE DATABASE ... TEMPLATE` a database migrated once per session, a
file copy, so a test starts from a migrated store in milliseconds.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

TEMPLATE = "ft_migrated"


class PostgresUnavailable(Exception):
    """No server named and no binaries to start one: the reason, for pytest.skip."""


def find_bindir() -> Path | None:
    """The folder of initdb/pg_ctl: `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin."""
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if out.returncode == 0 and (Path(out.stdout.strip()) / "initdb").exists():
            return Path(out.stdout.strip())
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3].split(".")[0])
    )
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_database(url: str, database: str) -> str:
    """`url` naming another database on the same server."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


class Cluster:
    """A throw-away cluster in a temporary folder: `start()`, `.url`, `stop()` (removes the folder)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="ft-pg-"))
        self.port = _free_port()
        self.as_postgres = os.getuid() == 0  # initdb refuses root; Debian's package made the `postgres` user
        self.user = "postgres"
        query = urlencode({"host": str(self.folder), "port": self.port})
        self.url = f"postgresql://{self.user}@/postgres?{query}"

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        out = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise PostgresUnavailable(f"{args[0]} failed: {(out.stderr or out.stdout).strip()[-2000:]}")

    def start(self) -> str:
        if self.as_postgres:
            try:
                entry = pwd.getpwnam("postgres")
            except KeyError as e:
                raise PostgresUnavailable("running as root and there is no `postgres` user for initdb") from e
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        data = self.folder / "data"
        self._run("initdb", "-D", str(data), "-U", self.user, "-A", "trust", "-E", "UTF8", "--locale=C", "-N")
        options = (
            f"-k {self.folder} -p {self.port} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=300 -c shared_buffers=32MB"
        )
        self._run("pg_ctl", "-D", str(data), "-l", str(self.folder / "log"), "-w", "-o", options, "start")
        return self.url

    def stop(self) -> None:
        with contextlib.suppress(PostgresUnavailable, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


class Server:
    """The session's server: fresh databases on demand, one migrated template, all dropped at the end."""

    def __init__(self, url: str, cluster: Cluster | None = None) -> None:
        self.url, self.cluster = url, cluster
        self._lock = threading.Lock()
        self._count = 0
        self._prefix = f"ft_test_{os.getpid()}_"
        self._template_ready = False

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as admin:
            admin.execute(sql)

    def new_database(self, *, migrated: bool = True) -> str:
        """The URL of a new database: migrated (a copy of the session's template) or empty."""
        with self._lock:
            self._count += 1
            name = f"{self._prefix}{self._count}"
            if migrated and not self._template_ready:
                self._make_template()
        self._admin(f"CREATE DATABASE {name}" + (f" TEMPLATE {self._template}" if migrated else ""))
        return with_database(self.url, name)

    @property
    def _template(self) -> str:
        return f"{self._prefix}{TEMPLATE}"

    def _make_template(self) -> None:
        from annotations import store

        self._admin(f"CREATE DATABASE {self._template}")
        store.connect(with_database(self.url, self._template)).close()
        self._template_ready = True

    def drop(self, url: str) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {urlsplit(url).path.lstrip('/')} WITH (FORCE)")

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
            return
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as admin:
            names = [
                r[0]
                for r in admin.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE %s", [self._prefix + "%"]
                ).fetchall()
            ]
            for name in names:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def postgres_server() -> Iterator[Server]:
    """The server for this session (see the module's docstring); PostgresUnavailable says why not."""
    url = os.environ.get("FT_TEST_POSTGRES")
    if url:
        server = Server(url)
    else:
        bindir = find_bindir()
        if bindir is None:
            raise PostgresUnavailable(
                "no PostgreSQL server: set FT_TEST_POSTGRES to a server URL or install PostgreSQL's binaries "
                "(Debian: apt-get install postgresql; .ci/run does)"
            )
        cluster = Cluster(bindir)
        try:
            server = Server(cluster.start(), cluster)
        except BaseException:
            cluster.stop()
            raise
    try:
        yield server
    finally:
        server.close()
