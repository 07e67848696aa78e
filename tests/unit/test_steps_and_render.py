import io

from automation.steps import DeployStatus, step_for_urn
from cli.render.steps import StepRenderer, progress_bar

URN = "urn:pulumi:app1::oneclick::oneclick:app:App$pulumi-python:dynamic/turso:Database::app1-db"
# The same resource in a stack deployed before resources named their type (not upgraded yet).
WRAPPED = (
    "urn:pulumi:app1::oneclick::oneclick:app:App$oneclick:turso:Database"
    "$pulumi-python:dynamic:Resource::app1-db"
)


def test_a_resource_belongs_to_the_step_of_its_type() -> None:
    assert step_for_urn(URN) == "database"
    pages = URN.replace("turso:Database", "cloudflare:PagesProject")
    assert step_for_urn(pages) == "site"
    assert step_for_urn("urn:pulumi:app1::oneclick::pulumi:pulumi:Stack::oneclick-app1") is None
    assert step_for_urn("garbage") is None
    secret = "urn:pulumi:app1::oneclick::oneclick:app:App$pulumi-python:dynamic/app:GeneratedSecret::s"
    assert step_for_urn(secret) is None


def test_a_wrapped_resource_of_an_old_stack_belongs_to_the_same_step_but_its_wrapper_to_none() -> None:
    assert step_for_urn(WRAPPED) == "database"
    assert (
        step_for_urn(WRAPPED.replace("oneclick:turso:Database", "oneclick:cloudflare:CustomDomain"))
        == "domain"
    )
    component = "urn:pulumi:app1::oneclick::oneclick:app:App$oneclick:turso:Database::app1-db"
    assert step_for_urn(component) is None, "the wrapper registers at once, long before its resource"


def test_steps_keep_the_plans_order_and_close_cleanly() -> None:
    changes: list[dict[str, object]] = []
    status = DeployStatus.for_keys(
        "app1", ["health", "site", "database"], lambda s: changes.append(s.as_dict())
    )
    assert [step["key"] for step in status.as_dict()["steps"]] == ["database", "site", "health"]
    status.start("database")
    status.finish("database", detail="Turso database created: app1")
    status.finish_all(failed=False)
    states = {step["key"]: step["state"] for step in status.as_dict()["steps"]}
    assert states == {"database": "done", "site": "done", "health": "pending"}
    assert changes, "every change is reported"


def test_a_failed_deploy_fails_the_running_step_and_skips_the_rest() -> None:
    status = DeployStatus.for_keys("app1", ["database", "site", "health"])
    status.start("database")
    status.finish_all(failed=True)
    states = [step["state"] for step in status.as_dict()["steps"]]
    assert states == ["failed", "skipped", "pending"]


def test_plain_rendering_writes_one_line_per_change() -> None:
    out = io.StringIO()
    status = DeployStatus.for_keys("app1", ["database", "health"], StepRenderer(out.write, tty=False))
    status.start("database")
    status.finish("database", detail="created app1")
    status.finish("database", detail="created app1")  # no change: no new line
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("  ◐ Database provisioned")
    assert lines[1].startswith("  ✓ Database provisioned")
    assert lines[2].strip() == "└─ created app1"
    assert len(lines) == 3


def test_tty_rendering_redraws_the_block_with_a_progress_bar() -> None:
    out = io.StringIO()
    status = DeployStatus.for_keys("app1", ["database", "health"], StepRenderer(out.write, tty=True))
    status.start("database")
    status.finish("database")
    assert "\x1b[3F\x1b[J" in out.getvalue(), "the second draw moves up over the first"
    assert progress_bar(status).endswith("1/2 steps")
