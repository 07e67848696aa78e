from components.turso.provider import TursoDatabaseProvider

OLD = {"name": "db", "group": "default", "org": "o", "api_url": "http://x", "api_token": "t1"}


def test_same_inputs_mean_no_changes() -> None:
    diff = TursoDatabaseProvider().diff("db", dict(OLD), dict(OLD))
    assert diff.changes is False
    assert diff.replaces == []


def test_new_group_replaces_deleting_first_because_the_name_is_kept() -> None:
    diff = TursoDatabaseProvider().diff("db", dict(OLD), {**OLD, "group": "eu"})
    assert diff.changes is True
    assert diff.replaces == ["group"]
    assert diff.delete_before_replace is True


def test_new_name_replaces_creating_first() -> None:
    diff = TursoDatabaseProvider().diff("db", dict(OLD), {**OLD, "name": "db2"})
    assert diff.replaces == ["name"]
    assert diff.delete_before_replace is False


def test_rotated_api_token_updates_in_place() -> None:
    provider = TursoDatabaseProvider()
    diff = provider.diff("db", dict(OLD), {**OLD, "api_token": "t2"})
    assert diff.changes is True
    assert diff.replaces == []
    assert provider.update("db", {**OLD, "hostname": "h"}, {**OLD, "api_token": "t2"}).outs == {
        **OLD,
        "hostname": "h",
        "api_token": "t2",
    }
