"""A throwaway PostgreSQL cluster for tests, the sandbox and the service, on loopback only.

Every role, the `postgres` superuser included, must present its password (SCRAM), over TCP and the
unix socket alike: the deploy service's workers run next to this cluster, and no login may work
without a password. The superuser's password is generated once and kept in the data directory
(`superuser.password`, mode 0600, readable only by the cluster's owner); `url` carries it.

Data lives in a git-ignored directory (.state/postgres by default); the server runs as the
`postgres` system user when we are root, because PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from core.errors import OneclickError
from core.localca import LocalCA
from core.settings import settings

HBA = """\
# Written by oneclick (automation/localpg.py) on every start. No trust: every login needs a password.
local all all scram-sha-256
host all all 127.0.0.1/32 scram-sha-256
"""


TLS_CONF = "oneclick-tls.conf"
TLS_INCLUDE = f"include_if_exists = '{TLS_CONF}'  # written by oneclick (automation/localpg.py)"
TLS_SETTINGS = """\
# Written by oneclick (automation/localpg.py) on every start: a certificate of the local CA (.state/ca).
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_min_protocol_version = 'TLSv1.2'
"""


class PostgresError(OneclickError, RuntimeError):
    """The local cluster could not be set up; the message says what to run."""


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def server_bin() -> Path | None:
    """Newest Debian PostgreSQL server binaries directory, if installed."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[-3]))
    return Path(candidates[-1]).parent if candidates else None


@dataclass(frozen=True)
class LocalPostgres:
    data_dir: Path
    port: int

    @staticmethod
    def default() -> LocalPostgres:
        return LocalPostgres(settings().paths.postgres_dir, settings().local.postgres_port)

    @property
    def password_file(self) -> Path:
        return self.data_dir / "superuser.password"

    @property
    def url(self) -> str:
        """The superuser's URL, password included (after the first `start`)."""
        try:
            password = quote(self.password_file.read_text().strip(), safe="")
        except FileNotFoundError:
            password = ""
        credentials = f"postgres:{password}" if password else "postgres"
        return f"postgresql://{credentials}@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        bin_dir = server_bin()
        if bin_dir is None:
            raise PostgresError("PostgreSQL server is not installed: run ./scripts/setup")
        command = [str(bin_dir / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False, input=stdin)

    def _set_superuser_password(self) -> None:
        """Give `postgres` a new random password, through a single-user backend (no login, no
        network), then keep it in `password_file` (0600). The server must be stopped."""
        password = secrets.token_urlsafe(24)  # letters, digits, '-' and '_': safe in SQL and URLs
        done = self._run(
            "postgres", "--single", "-D", str(self.data_dir), "postgres",
            stdin=f"ALTER ROLE postgres PASSWORD '{password}';\n",
        )  # fmt: skip
        if done.returncode != 0:
            raise PostgresError(f"could not set the superuser's password: {done.stderr.strip()[-500:]}")
        self.password_file.unlink(missing_ok=True)
        descriptor = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(password + "\n")

    def _own(self) -> None:
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.data_dir, user.pw_uid, user.pw_gid)

    @property
    def tls_url(self) -> str:
        """`url` with the server verified against the local CA (`sslmode=verify-full`)."""
        return f"{self.url}?sslmode=verify-full&sslrootcert={quote(str(LocalCA.default().cert_file))}"

    def _configure_tls(self) -> bool:
        """Serve TLS with a certificate of the local CA (`sslmode=require`, `verify-full` and
        `channel_binding=require` then work); the settings live in their own file that
        postgresql.conf includes, so a running cluster picks them up on reload. Returns True if
        anything changed. Without the `cryptography` package (core install) TLS stays off."""
        try:
            from core import certificates  # the `cryptography` package: not in the core install
        except ImportError:
            settings = "ssl = off\n"
        else:
            ca = certificates.ensure(LocalCA.default())
            # PostgreSQL reads its key only if its own user owns it and nobody else can read it.
            self._install(self.data_dir / "server.key", ca.server_key_file.read_bytes(), 0o600)
            self._install(self.data_dir / "server.crt", ca.server_cert_file.read_bytes(), 0o644)
            settings = TLS_SETTINGS
        changed = self._install(self.data_dir / TLS_CONF, settings.encode(), 0o644)
        conf = self.data_dir / "postgresql.conf"
        text = conf.read_text()
        if TLS_INCLUDE not in text:
            conf.write_text(text.rstrip("\n") + "\n" + TLS_INCLUDE + "\n")
            changed = True
        return changed

    def _install(self, path: Path, content: bytes, mode: int) -> bool:
        """Write `content` to `path` (owned by the cluster's user) unless it is there already."""
        if path.exists() and path.read_bytes() == content:
            return False
        tmp = path.with_name(path.name + ".tmp")
        tmp.unlink(missing_ok=True)
        descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(descriptor, "wb") as out:
            out.write(content)
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(tmp, user.pw_uid, user.pw_gid)
        tmp.replace(path)
        return True

    def running(self) -> bool:
        return self.data_dir.joinpath("postmaster.pid").exists() and (
            self._run("pg_ctl", "status", "-D", str(self.data_dir)).returncode == 0
        )

    def start(self) -> str:
        """Initialise on first use, start if stopped; idempotent. Returns the connection URL."""
        if not self.data_dir.joinpath("PG_VERSION").exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._own()
            init = self._run(
                "initdb", "-D", str(self.data_dir), "-U", "postgres", "-A", "trust", "-E", "UTF8"
            )
            if init.returncode != 0:
                raise PostgresError(
                    f"initdb failed: {init.stderr.strip()} (the postgres user must be able to reach "
                    f"{self.data_dir}; set ONECLICK_PG_DIR to a directory it can)"
                )
        if not self.password_file.exists():
            # A new cluster, or one made when the superuser logged in without a password.
            self.stop()
            self._set_superuser_password()
        hba = self.data_dir / "pg_hba.conf"
        reload = self._configure_tls()
        if hba.read_text() != HBA:
            hba.write_text(HBA)
            reload = True
        if reload and self.running():
            self._run("pg_ctl", "reload", "-D", str(self.data_dir))
        if not self.running():
            if _port_in_use(self.port):
                raise PostgresError(
                    f"port {self.port} on 127.0.0.1 is already in use by another program (another "
                    f"cluster?); choose a free one with ONECLICK_PG_PORT, or stop that program"
                )
            options = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
            log = self.data_dir / "server.log"
            started = self._run(
                "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data_dir), "-l", str(log), "-o", options
            )
            if started.returncode != 0:
                tail = log.read_text()[-1500:] if log.exists() else started.stderr
                raise PostgresError(f"PostgreSQL did not start on port {self.port}: {tail.strip()}")
        return self.url

    def stop(self) -> bool:
        if not self.running():
            return False
        self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data_dir))
        return True

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
