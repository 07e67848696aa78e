from pathlib import Path

import pytest

from components.errors import SpecError
from components.spec import AppSpec


def test_defaults_name_the_database_after_the_app() -> None:
    spec = AppSpec.parse({"id": "app-123"})
    assert spec.database_name == "app-123"
    assert spec.database.group == "default"


@pytest.mark.parametrize("name", ["My_DB", "-leading", "trailing-", "a" * 65, "sp ace", ""])
def test_invalid_database_name_names_the_field(name: str) -> None:
    with pytest.raises(SpecError) as caught:
        AppSpec.parse({"id": "app-1", "database": {"name": name}})
    assert caught.value.problems[0][0] == "database.name"
    assert "lowercase letters, digits and dashes" in str(caught.value)


def test_invalid_app_id_and_unknown_field_are_both_reported() -> None:
    with pytest.raises(SpecError) as caught:
        AppSpec.parse({"id": "App 1", "colour": "red"})
    fields = [field for field, _ in caught.value.problems]
    assert fields == ["id", "colour"]
    assert "not a known field" in str(caught.value)


def test_missing_id_says_to_add_it() -> None:
    with pytest.raises(SpecError, match="id: is required; add it to the spec"):
        AppSpec.parse({})


def test_yaml_and_json_files_load_alike(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("id: one\ndatabase: {group: default}\n")
    (tmp_path / "a.json").write_text('{"id": "one", "database": {"group": "default"}}')
    assert AppSpec.load(tmp_path / "a.yaml") == AppSpec.load(tmp_path / "a.json")


def test_unreadable_and_malformed_files_are_clear(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot be read"):
        AppSpec.load(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("id: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML/JSON"):
        AppSpec.load(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(SpecError, match="must be a mapping"):
        AppSpec.load(tmp_path / "list.yaml")
