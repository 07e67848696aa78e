"""`oneclick doctor`: is every tool oneclick needs present and working?"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from dataclasses import dataclass

import click

from automation.environment import TOOLS_BIN
from automation.localpg import server_bin
from sandbox import server as sandbox_server
from sandbox.endpoint import sandbox_dir

SETUP = "./scripts/setup"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def _run(*command: str, timeout: float = 20.0) -> tuple[int, str]:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, str(exc)
    return done.returncode, (done.stdout + done.stderr).strip()


def check_pulumi_cli() -> Check:
    sdk = importlib.metadata.version("pulumi")
    code, out = _run(str(TOOLS_BIN / "pulumi"), "version")
    if code != 0:
        return Check("Pulumi CLI", False, "missing from .tools/bin", SETUP)
    if out.lstrip("v") != sdk:
        return Check("Pulumi CLI", False, f"{out} does not match the pulumi Python SDK {sdk}", SETUP)
    return Check("Pulumi CLI", True, f"{out} (matches the Python SDK)")


def check_language_host() -> Check:
    host = TOOLS_BIN / "pulumi-language-python"
    runner = TOOLS_BIN / "pulumi-language-python-exec"
    if not host.exists() or not runner.exists():
        return Check("Python language host", False, "missing from .tools/bin", SETUP)
    # A working host prints the port of its gRPC server first thing.
    try:
        process = subprocess.Popen([str(host), "127.0.0.1:1"], stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        process.kill()
        process.wait()
    except OSError as exc:
        return Check("Python language host", False, str(exc), SETUP)
    if not port.isdigit():
        return Check("Python language host", False, "did not start its gRPC server", SETUP)
    _, version = _run(str(host), "--version")
    return Check("Python language host", True, f"v{version} (serves gRPC)")


def check_dynamic_provider_host() -> Check:
    script = TOOLS_BIN / "pulumi-resource-pulumi-python"
    if not script.exists():
        return Check("dynamic provider host", False, "missing from .tools/bin", SETUP)
    code, out = _run(
        sys.executable,
        "-c",
        "import importlib.util, pulumi.dynamic; assert importlib.util.find_spec('pulumi.dynamic.__main__')",
    )
    if code != 0:
        return Check("dynamic provider host", False, f"pulumi.dynamic does not import: {out[-200:]}", SETUP)
    return Check("dynamic provider host", True, "pulumi-resource-pulumi-python + pulumi.dynamic")


def check_command_plugin() -> Check:
    plugin = TOOLS_BIN / "pulumi-resource-command"
    if plugin.exists():
        return Check("command plugin", True, str(plugin), required=False)
    return Check(
        "command plugin",
        False,
        "not installed: the module proxy serves no version of pulumi-command/provider; "
        "needed only by mobile/desktop builds",
        "place pulumi-resource-command v1.2.x in .tools/bin",
        required=False,
    )


def check_postgres() -> Check:
    bin_dir = server_bin()
    if bin_dir is None:
        return Check("PostgreSQL", False, "server not installed", SETUP)
    code, out = _run(str(bin_dir / "postgres"), "--version")
    return Check("PostgreSQL", code == 0, out, "" if code == 0 else SETUP)


def check_stripe_mock() -> Check:
    binary = TOOLS_BIN / "stripe-mock"
    if not binary.exists():
        return Check("stripe-mock", False, "missing from .tools/bin", SETUP)
    code, out = _run(str(binary), "-version")
    return Check("stripe-mock", code == 0, out.splitlines()[0] if out else "", "" if code == 0 else SETUP)


def check_sandbox() -> Check:
    try:
        import sandbox.app  # noqa: F401  (imports FastAPI and every router)
    except ImportError as exc:
        return Check("sandbox", False, f"cannot import: {exc}", SETUP)
    state = sandbox_server.status(sandbox_dir())
    if state.running and state.endpoint is not None:
        return Check("sandbox", True, f"running at {state.endpoint.url}")
    return Check("sandbox", True, "installed, not running (start: oneclick sandbox start)")


def run_checks() -> list[Check]:
    return [
        check_pulumi_cli(),
        check_language_host(),
        check_dynamic_provider_host(),
        check_command_plugin(),
        check_postgres(),
        check_stripe_mock(),
        check_sandbox(),
    ]


@click.command()
@click.option("--strict", is_flag=True, help="Also fail when an optional tool is missing.")
def doctor(strict: bool) -> None:
    """Check every tool oneclick needs; exit 1 if a required one is missing, with the fix."""
    failed = False
    for check in run_checks():
        mark = (
            click.style("ok  ", fg="green")
            if check.ok
            else click.style("FAIL" if check.required else "warn", fg="red" if check.required else "yellow")
        )
        click.echo(f"{mark} {check.name:<22} {check.detail}")
        if not check.ok:
            if check.fix:
                click.echo(f"     fix: {check.fix}")
            failed = failed or check.required or strict
    sys.exit(1 if failed else 0)
