"""The one-time state upgrade, on a real state exported from a stack deployed before dynamic
resources named their own type (Turso + schema + preview data + site + custom domain)."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pulumi import automation as auto

from automation import state_upgrade
from automation.state_upgrade import _OLD_SHAPE, StateUpgradeRefused, upgrade_deployment
from components.byo.database import ByoDatabase
from components.cloudflare.domain import CustomDomain
from components.cloudflare.pages import PagesProject
from components.database.deploy import DatabaseSchema, PreviewData
from components.legacy_types import DYNAMIC, WRAPPED
from components.neon.project import NeonProject
from components.turso.database import TursoDatabase
from components.typed_resource import TypedResource

FIXTURE = Path(__file__).parents[1] / "fixtures" / "state" / "wrapped_turso_site_domain.json"
APP = "urn:pulumi:fx-shop::oneclick::oneclick:app:App::fx-shop"


def new_urn(type_: str, name: str) -> str:
    return f"urn:pulumi:fx-shop::oneclick::oneclick:app:App${type_}::{name}"


@pytest.fixture
def old() -> dict[str, Any]:
    deployment: dict[str, Any] = json.loads(FIXTURE.read_text())["deployment"]
    return deployment


def by_urn(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["urn"]: r for r in deployment["resources"]}


def references(resource: dict[str, Any]) -> list[str]:
    found = [resource.get("parent"), resource.get("deletedWith"), *(resource.get("dependencies") or [])]
    for urns in (resource.get("propertyDependencies") or {}).values():
        found.extend(urns)
    return [u for u in found if u]


def test_each_wrapper_gives_way_to_its_resource_typed_and_in_its_place(old: dict[str, Any]) -> None:
    before = copy.deepcopy(old)
    new = upgrade_deployment(old, "fx-shop")
    assert old == before, "the input is not modified"
    resources = by_urn(new)
    assert not any(r["type"] in WRAPPED for r in resources.values())
    assert not any("$oneclick:turso" in urn or "$oneclick:cloudflare" in urn for urn in resources)
    assert len(new["resources"]) == len(old["resources"]) - 5  # five wrappers gone
    made: list[tuple[type[TypedResource], str]] = [
        (TursoDatabase, "fx-shop-db"),
        (DatabaseSchema, "fx-shop-schema"),
        (PreviewData, "fx-shop-preview-data"),
        (PagesProject, "fx-shop-site"),
        (CustomDomain, "fx-shop-domain"),
    ]
    for kind, name in made:
        # The URN the current program registers: the engine matches it without any alias.
        resource = resources[new_urn(kind.TYPE, name)]
        assert resource["type"] == kind.TYPE
        assert resource["parent"] == APP
        wrapped = f"urn:pulumi:fx-shop::oneclick::oneclick:app:App${WRAPPER_TYPE[kind]}${DYNAMIC}::{name}"
        was = by_urn(old)[wrapped]
        for key in ("id", "inputs", "outputs", "provider", "additionalSecretOutputs", "custom"):
            assert resource.get(key) == was.get(key), key
    # The generated secret never had a wrapper: its alias alone carries it.
    assert f"urn:pulumi:fx-shop::oneclick::oneclick:app:App${DYNAMIC}::fx-shop-nextauth-secret" in resources


WRAPPER_TYPE: dict[type[TypedResource], str] = {
    TursoDatabase: "oneclick:turso:Database",
    DatabaseSchema: "oneclick:database:Schema",
    PreviewData: "oneclick:database:PreviewData",
    PagesProject: "oneclick:cloudflare:PagesProject",
    CustomDomain: "oneclick:cloudflare:CustomDomain",
}


def test_every_reference_names_a_resource_listed_before_it(old: dict[str, Any]) -> None:
    new = upgrade_deployment(old, "fx-shop")
    seen: set[str] = set()
    for resource in new["resources"]:
        for urn in references(resource):
            assert urn in seen, f"{resource['urn']} refers to {urn}, missing or later"
        seen.add(resource["urn"])
    site = by_urn(new)[new_urn(PagesProject.TYPE, "fx-shop-site")]
    assert site["propertyDependencies"]["secret_env_vars"] == [
        new_urn(TursoDatabase.TYPE, "fx-shop-db"),
        new_urn("pulumi-python:dynamic:Resource", "fx-shop-nextauth-secret"),
    ]


def test_the_upgrade_is_done_once(old: dict[str, Any]) -> None:
    new = upgrade_deployment(old, "fx-shop")
    assert upgrade_deployment(new, "fx-shop") is new
    assert _OLD_SHAPE.search(FIXTURE.read_bytes()), "the checkpoint check sees the old shape"
    assert not _OLD_SHAPE.search(json.dumps(new).encode()), "and not the new one"


def test_references_to_a_wrapper_move_to_its_resource_once(old: dict[str, Any]) -> None:
    db_wrapper = "urn:pulumi:fx-shop::oneclick::oneclick:app:App$oneclick:turso:Database::fx-shop-db"
    db_child = f"urn:pulumi:fx-shop::oneclick::oneclick:app:App$oneclick:turso:Database${DYNAMIC}::fx-shop-db"
    schema = next(r for r in old["resources"] if r["urn"].endswith(f"{DYNAMIC}::fx-shop-schema"))
    schema["dependencies"] = [db_wrapper, db_child]
    schema["deletedWith"] = db_wrapper
    schema["aliases"] = [db_child]
    upgraded = by_urn(upgrade_deployment(old, "fx-shop"))[new_urn(DatabaseSchema.TYPE, "fx-shop-schema")]
    db = new_urn(TursoDatabase.TYPE, "fx-shop-db")
    assert upgraded["dependencies"] == [db]
    assert upgraded["deletedWith"] == db
    assert upgraded["aliases"] == [db]


def test_a_stack_with_pending_operations_is_refused_naming_recover(old: dict[str, Any]) -> None:
    old["pending_operations"] = [{"type": "creating", "resource": old["resources"][-1]}]
    with pytest.raises(StateUpgradeRefused) as refused:
        upgrade_deployment(old, "fx-shop")
    assert "oneclick recover fx-shop" in str(refused.value.fix)
    assert refused.value.field == "app"


def test_a_pending_operation_on_an_upgraded_stack_is_none_of_its_business(old: dict[str, Any]) -> None:
    new = upgrade_deployment(old, "fx-shop")
    pending = {**new, "pending_operations": [{"type": "creating", "resource": new["resources"][-1]}]}
    assert upgrade_deployment(pending, "fx-shop") is pending


def test_a_wrapper_not_in_the_shape_oneclick_wrote_is_left_to_the_aliases(old: dict[str, Any]) -> None:
    wrapper = "urn:pulumi:fx-shop::oneclick::oneclick:app:App$oneclick:turso:Database::fx-shop-db"
    extra = {"urn": f"{wrapper}-extra", "type": DYNAMIC, "custom": True, "parent": wrapper}
    old["resources"].append(extra)
    new = upgrade_deployment(old, "fx-shop")
    assert wrapper in by_urn(new)
    assert new_urn(PagesProject.TYPE, "fx-shop-site") in by_urn(new), "the other wrappers still go"


def test_the_legacy_table_names_each_typed_resource_that_had_a_wrapper() -> None:
    typed: set[type[TypedResource]] = {
        TursoDatabase,
        NeonProject,
        ByoDatabase,
        DatabaseSchema,
        PreviewData,
        PagesProject,
        CustomDomain,
    }
    assert {kind.TYPE for kind in typed} == set(WRAPPED.values())


class FakeStack:
    """What upgrade_stack uses of an auto.Stack: its name, workspace env, export and import."""

    def __init__(self, backend: Path, exported: dict[str, Any]) -> None:
        self.name = "fx-shop"
        self.workspace = SimpleNamespace(env_vars={"PULUMI_BACKEND_URL": f"file://{backend}"})
        self.exported = exported
        self.imported: list[auto.Deployment] = []

    def export_stack(self) -> auto.Deployment:
        return auto.Deployment(version=3, deployment=self.exported)

    def import_stack(self, state: auto.Deployment) -> None:
        self.imported.append(state)


def checkpoint(backend: Path, deployment: dict[str, Any], gz: bool = False) -> None:
    folder = backend / ".pulumi" / "stacks" / "oneclick"
    folder.mkdir(parents=True)
    data = json.dumps({"version": 3, "checkpoint": {"latest": deployment}}).encode()
    (folder / ("fx-shop.json.gz" if gz else "fx-shop.json")).write_bytes(gzip.compress(data) if gz else data)


@pytest.mark.parametrize("gz", [False, True])
def test_an_old_checkpoint_is_exported_upgraded_and_imported(
    old: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gz: bool
) -> None:
    monkeypatch.setattr(state_upgrade, "stack_locks", lambda _app: [])
    checkpoint(tmp_path, old, gz)
    stack = FakeStack(tmp_path, old)
    assert state_upgrade.upgrade_stack(stack)  # type: ignore[arg-type]
    [imported] = stack.imported
    assert imported.version == 3
    assert imported.deployment == upgrade_deployment(old, "fx-shop")


def test_a_current_checkpoint_is_not_even_exported(
    old: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state_upgrade, "stack_locks", lambda _app: [])
    new = upgrade_deployment(old, "fx-shop")
    checkpoint(tmp_path, new)
    stack = FakeStack(tmp_path, old)  # an export would still find work: it must not be asked
    assert not state_upgrade.upgrade_stack(stack)  # type: ignore[arg-type]
    assert stack.imported == []


def test_a_locked_stack_is_left_to_the_update_holding_the_lock(
    old: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state_upgrade, "stack_locks", lambda _app: ["a lock"])
    checkpoint(tmp_path, old)
    stack = FakeStack(tmp_path, old)
    assert not state_upgrade.upgrade_stack(stack)  # type: ignore[arg-type]
    assert stack.imported == []
