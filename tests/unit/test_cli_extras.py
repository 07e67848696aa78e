"""The CLI with only the core dependencies: every command loads, and one that needs an extra says which."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cli.extras import EXTRA_MODULES

ROOT = Path(__file__).resolve().parents[2]

# Runs the CLI with every extra's modules unimportable, as after `pip install oneclick`.
HIDE_EXTRAS = textwrap.dedent(
    """
    import sys
    from importlib.abc import MetaPathFinder

    HIDDEN = set(sys.argv[1].split(","))

    class Hide(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in HIDDEN:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Hide())
    import importlib.util
    real_find_spec = importlib.util.find_spec
    importlib.util.find_spec = lambda name, package=None: (
        None if name.split(".")[0] in HIDDEN else real_find_spec(name, package)
    )
    from cli.main import main
    main(sys.argv[2:], prog_name="oneclick")
    """
)


def _without_extras(*args: str) -> subprocess.CompletedProcess[str]:
    hidden = sorted({name for names in EXTRA_MODULES.values() for name in names})
    return subprocess.run(
        [sys.executable, "-c", HIDE_EXTRAS, ",".join(hidden), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_core_commands_load_without_any_extra() -> None:
    result = _without_extras("--help")
    assert result.returncode == 0, result.stderr
    for group in ("deploy", "service", "gateway", "sandbox"):
        assert group in result.stdout
    assert _without_extras("service", "--help").returncode == 0


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (["service", "migrate"], "service"),
        (["gateway", "migrate"], "gateway"),
        (["gateway"], "gateway"),
        (["sandbox", "start"], "sandbox"),
    ],
)
def test_a_command_without_its_extra_names_it(args: list[str], extra: str) -> None:
    result = _without_extras(*args)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"needs the {extra} extra" in result.stderr
    assert f"pip install 'oneclick[{extra}]'" in result.stderr
