"""`oneclick sandbox hosts`: the sandbox's current names as hosts-file lines, in a block of its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main as cli
from components.turso.client import TursoClient
from sandbox import hostnames, hostsfile, server

OTHERS = "127.0.0.1 localhost\n# someone's comment\n10.0.0.1 printer.lan\n"


def test_blocks_are_replaced_idempotently_and_leave_everything_else_alone(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text(OTHERS)
    assert hostsfile.install("/a", ["x.turso.localhost", "y.pages.localhost"], hosts) is True
    assert hostsfile.install("/a", ["x.turso.localhost", "y.pages.localhost"], hosts) is False
    assert hostsfile.install("/b", ["z.turso.localhost"], hosts) is True
    assert hostsfile.install("/a", ["x.turso.localhost"], hosts) is True  # a block lists exactly its names
    text = hosts.read_text()
    assert text.startswith(OTHERS)
    assert text.count("x.turso.localhost") == 1
    assert "y.pages.localhost" not in text
    assert "127.0.0.1\tz.turso.localhost" in text
    assert hostsfile.remove("/a", hosts) is True
    assert hostsfile.remove("/b", hosts) is True
    assert hostsfile.remove("/b", hosts) is False
    assert hosts.read_text() == OTHERS


def test_an_unwritable_hosts_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(hostsfile.HostsFileError, match="does not exist") as missing:
        hostsfile.install("/a", ["x.localhost"], tmp_path / "nope")
    assert missing.value.fix is not None
    assert "ONECLICK_HOSTS_FILE" in missing.value.fix


def test_the_command_lists_databases_and_sites_and_installs_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "sbx"
    endpoint = server.start(directory, port=0)
    try:
        with TursoClient(endpoint.api_token, "acme", base_url=endpoint.url) as turso:
            turso.create_database("shop", "default")
            turso.create_database("blog", "default")
    finally:
        server.stop(directory)
    assert hostnames.current(directory) == ["blog-acme.turso.localhost", "shop-acme.turso.localhost"]
    hosts = tmp_path / "hosts"
    hosts.write_text(OTHERS)
    monkeypatch.setenv("ONECLICK_HOSTS_FILE", str(hosts))
    runner = CliRunner()
    printed = runner.invoke(cli, ["sandbox", "hosts", "--dir", str(directory)])
    assert printed.exit_code == 0, printed.output
    assert "127.0.0.1\tshop-acme.turso.localhost\n" in printed.output
    assert hosts.read_text() == OTHERS, "printing writes nothing"
    installed = runner.invoke(cli, ["sandbox", "hosts", "--install", "--dir", str(directory)])
    assert installed.exit_code == 0, installed.output
    assert hosts.read_text() == OTHERS + printed.output
    removed = runner.invoke(cli, ["sandbox", "hosts", "--remove", "--dir", str(directory)])
    assert removed.exit_code == 0, removed.output
    assert hosts.read_text() == OTHERS
    both = runner.invoke(cli, ["sandbox", "hosts", "--install", "--remove", "--dir", str(directory)])
    assert both.exit_code != 0
