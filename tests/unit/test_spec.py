import json
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
    with pytest.raises(SpecError, match="does not exist; check the path"):
        AppSpec.load(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("id: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML/JSON"):
        AppSpec.load(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(SpecError, match="must be a mapping"):
        AppSpec.load(tmp_path / "list.yaml")


@pytest.fixture
def build_dir(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    (out / "index.html").write_text("<h1>hi</h1>")
    return out


def test_full_spec_in_camel_case_as_the_platform_sends_it(build_dir: Path) -> None:
    spec = AppSpec.parse(
        {
            "id": "shop",
            "owner": "user_42",
            "tier": "pro",
            "database": {"provider": "neon", "region": "aws-eu-central-1", "databaseName": "shop"},
            "web": {
                "buildDir": str(build_dir),
                "env": {"PUBLIC_X": "1"},
                "secretEnv": {"STRIPE_KEY": "sk_x"},
            },
            "customDomain": "Shop.Example.com.",
        }
    )
    assert spec.database.provider == "neon"
    assert spec.custom_domain == "shop.example.com"
    assert spec.web is not None
    assert "sk_x" not in repr(spec), "secret values never print"


def test_secrets_are_split_out_of_the_public_spec_and_restored(build_dir: Path) -> None:
    spec = AppSpec.parse(
        {
            "id": "shop",
            "database": {"provider": "byo", "url": "postgresql://u:pw-123@db.example.com/shop"},
            "web": {"build_dir": str(build_dir), "secret_env": {"API_KEY": "key-456"}},
        }
    )
    public = spec.public_dict()
    assert "pw-123" not in str(public)
    assert "key-456" not in str(public)
    assert AppSpec.from_public(public, spec.secret_values()) == spec
    with pytest.raises(SpecError, match=r"database\.url"):
        AppSpec.from_public(public, {})


@pytest.mark.parametrize(
    ("data", "field", "fragment"),
    [
        ({"database": {"provider": "mysql"}}, "database.provider", "must be one of"),
        ({"database": {"provider": "byo", "url": "mysql://u:secret@h/db"}}, "database.url", "PostgreSQL URL"),
        (
            {"database": {"provider": "byo", "url": "postgresql://u:secret@h"}},
            "database.url",
            "names no database",
        ),
        ({"database": {"provider": "neon", "region": "Mars"}}, "database.region", "Neon region id"),
        ({"database": {"provider": "neon", "roleName": "Bad-Role"}}, "database.roleName", "valid role name"),
        ({"web": {"build_dir": "/no/such/dir"}}, "web.build_dir", "not a directory"),
        ({"customDomain": "shop.example.com"}, "customDomain", "needs a `web` section"),
        ({"custom_domain": "not a domain"}, "custom_domain", "not a domain name"),
        ({"tier": "gold"}, "tier", "'free'"),
    ],
)
def test_each_bad_field_is_named_with_its_fix(data: dict[str, object], field: str, fragment: str) -> None:
    with pytest.raises(SpecError) as caught:
        AppSpec.parse({"id": "app-1", **data})
    assert caught.value.problems[0][0] == field
    assert fragment in caught.value.problems[0][1]
    assert "secret" not in str(caught.value), "URLs with passwords are never echoed"


def test_web_env_rules(build_dir: Path) -> None:
    for env, fragment in (
        ({"env": {"DATABASE_URL": "x"}}, "set by the deploy itself"),
        ({"env": {"1BAD": "x"}}, "invalid"),
        ({"env": {"A": "x"}, "secret_env": {"A": "y"}}, "both plain and secret"),
    ):
        with pytest.raises(SpecError, match=fragment):
            AppSpec.parse({"id": "a", "web": {"build_dir": str(build_dir), **env}})


def test_relative_paths_in_a_spec_file_are_relative_to_the_file(tmp_path: Path, build_dir: Path) -> None:
    (tmp_path / "spec.yaml").write_text("id: a\nweb:\n  build_dir: out\n")
    spec = AppSpec.load(tmp_path / "spec.yaml")
    assert spec.web is not None
    assert spec.web.build_dir == build_dir.resolve()


def test_the_published_json_schema_is_current() -> None:
    published = Path(__file__).resolve().parents[2] / "schemas" / "appspec.schema.json"
    assert json.loads(published.read_text()) == AppSpec.json_schema(), (
        "regenerate it: oneclick schema --out schemas/appspec.schema.json"
    )


def test_json_schema_validates_what_the_model_accepts(build_dir: Path) -> None:
    import jsonschema

    schema = AppSpec.json_schema()
    jsonschema.validate({"id": "a", "database": {"provider": "turso"}, "web": {"buildDir": "out"}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"id": "a", "database": {"provider": "mysql"}}, schema)
