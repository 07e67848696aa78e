"""The local PostgreSQL serves TLS with a certificate of the local CA: the connection strings Neon's API
hands out (`sslmode=require&channel_binding=require`) and `sslmode=verify-full` both connect."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import psycopg
import pytest

from automation.localpg import TLS_CONF, LocalPostgres
from core import certificates
from core.localca import LocalCA


def test_verify_full_against_the_local_ca_connects_over_tls(
    local_postgres: LocalPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    with psycopg.connect(local_postgres.tls_url, connect_timeout=10) as conn:
        ssl_on, version = conn.execute(
            "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        ).fetchone() or (False, None)
    assert ssl_on is True
    assert version in ("TLSv1.2", "TLSv1.3")
    # libpq's own variable instead of the URL parameter, and the host by name.
    env_url = local_postgres.url.replace("@127.0.0.1:", "@localhost:") + "?sslmode=verify-full"
    monkeypatch.setenv("PGSSLROOTCERT", str(LocalCA.default().cert_file))
    with psycopg.connect(env_url, connect_timeout=10) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_neon_style_urls_with_channel_binding_connect(local_postgres: LocalPostgres) -> None:
    url = local_postgres.url + "?sslmode=require&channel_binding=require"
    with psycopg.connect(url, connect_timeout=10) as conn:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)


def test_another_ca_is_refused(local_postgres: LocalPostgres, tmp_path: Path) -> None:
    stranger = certificates.ensure(LocalCA(tmp_path / "other-ca"))
    url = f"{local_postgres.url}?sslmode=verify-full&sslrootcert={stranger.cert_file}"
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        psycopg.connect(url, connect_timeout=10)


def test_tls_files_belong_to_the_server_and_a_second_start_changes_nothing(
    local_postgres: LocalPostgres,
) -> None:
    key = local_postgres.data_dir / "server.key"
    assert key.stat().st_mode & 0o777 == 0o600
    if os.geteuid() == 0:
        assert key.stat().st_uid == pwd.getpwnam("postgres").pw_uid
    assert "ssl = on" in (local_postgres.data_dir / TLS_CONF).read_text()
    assert local_postgres._configure_tls() is False
