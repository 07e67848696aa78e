"""A sandbox and a state backend of a test module's own.

For tests whose effects would leak into others sharing the session's sandbox and backend: deploys of
the example site fill the sandbox's content-addressed asset store (a later test's first upload then
uploads nothing), and `--all` means every stack in the backend.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sandbox import server
from sandbox.endpoint import SandboxEndpoint


@contextmanager
def private_cloud(prefix: str) -> Iterator[tuple[SandboxEndpoint, Path]]:
    """(the sandbox, the file backend's directory); the environment points at both until exit."""
    with tempfile.TemporaryDirectory(prefix=prefix) as directory, pytest.MonkeyPatch.context() as mp:
        root = Path(directory)
        (root / "pulumi").mkdir()
        mp.setenv("ONECLICK_SANDBOX_DIR", str(root / "sandbox"))
        mp.setenv("PULUMI_BACKEND_URL", f"file://{root / 'pulumi'}")
        endpoint = server.start(root / "sandbox", port=0)
        try:
            yield endpoint, root / "pulumi"
        finally:
            server.stop(root / "sandbox")
