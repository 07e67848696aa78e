"""Every exception class the product defines hangs under one root (core/errors.py)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from core.errors import OneclickError
from sandbox.endpoint import REPO_ROOT

PRODUCT = ("core", "libsql", "dbtools", "components", "automation", "service", "cli", "webbuild")


def product_modules() -> list[str]:
    names = []
    for package in PRODUCT:
        if not (REPO_ROOT / package / "__init__.py").exists():
            continue
        names.append(package)
        for info in pkgutil.walk_packages([str(REPO_ROOT / package)], prefix=f"{package}."):
            if not info.name.endswith("__main__"):  # running it would start a program
                names.append(info.name)
    return names


def test_every_product_exception_derives_from_the_root() -> None:
    strays = []
    for name in product_modules():
        module = importlib.import_module(name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            defined_here = value.__module__ == name
            if defined_here and issubclass(value, BaseException) and not issubclass(value, OneclickError):
                strays.append(f"{name}.{value.__name__}")
    assert strays == [], f"derive these from core.errors.OneclickError (or UserError): {strays}"
