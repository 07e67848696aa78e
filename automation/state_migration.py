"""Moving stacks between DIY backends (the file backend into PostgreSQL, typically) with their history.

`pulumi stack export/import` carries a stack's current checkpoint only. Both DIY backends lay their
blobs out the same way (automation/state_blobs.py), so a stack moves whole by copying its blobs:
the checkpoint, every update's history and checkpoint record, and the backups. Secrets stay as they
are: the checkpoint holds them encrypted under the stack's passphrase salt, and the stack's config
file (which names that salt) goes with it into a PostgreSQL backend (automation/stack_config.py).

Nothing is overwritten: a stack that exists at the destination stops the migration before anything
is copied, and so does a stack whose update is running (its lock). The source is left as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

from automation import stack_config
from automation.environment import stack_config_path
from automation.stack_locks import locks_in
from automation.state_blobs import Blobs, PostgresBlobs, blobs_for, stack_names
from core.errors import UserError

META = ".pulumi/meta.yaml"


class MigrationRefused(UserError):
    """The migration would overwrite or tear something; nothing was copied."""


@dataclass(frozen=True)
class MovedStack:
    name: str
    blobs: int  # checkpoint, history, backups
    updates: int  # entries of `pulumi stack history`
    config: bool  # the stack config file went along (PostgreSQL destinations)

    def as_dict(self) -> dict[str, object]:
        return {"stack": self.name, "blobs": self.blobs, "updates": self.updates, "config": self.config}


def _backend(url: str, field: str) -> Blobs:
    blobs = blobs_for(url)
    if blobs is None:
        raise MigrationRefused(
            f"{url.split('://', 1)[0]}:// backends cannot be migrated by oneclick",
            field=field,
            fix="use a file:// directory or a postgres:// URL",
        )
    return blobs


def stack_keys(blobs: Blobs, project: str, name: str) -> list[str]:
    """Every blob of one stack; the checkpoint last, so a stack is listed only once it is whole."""
    history = blobs.keys(f".pulumi/history/{project}/{name}/")
    backups = blobs.keys(f".pulumi/backups/{project}/{name}/")
    files = {f"{name}.json", f"{name}.json.gz", f"{name}.json.bak", f"{name}.json.gz.bak"}
    checkpoint = [k for k in blobs.keys(f".pulumi/stacks/{project}/") if k.rsplit("/", 1)[-1] in files]
    return history + backups + sorted(checkpoint, key=lambda k: k.endswith((".json", ".json.gz")))


def migrate(source_url: str, destination_url: str) -> list[MovedStack]:
    """Copy every stack of this project from `source_url` to `destination_url` (see the module doc)."""
    if source_url.rstrip("/") == destination_url.rstrip("/"):
        raise MigrationRefused(
            "the destination is the current backend", field="--to", fix="name another backend"
        )
    source, destination = _backend(source_url, "--from"), _backend(destination_url, "--to")
    project = stack_config.project_name()
    names = stack_names(source, project)
    if isinstance(destination, PostgresBlobs):
        destination.ensure()
    taken = sorted(set(names) & set(stack_names(destination, project)))
    if taken:
        raise MigrationRefused(
            f"stack(s) {', '.join(taken)} already exist at the destination; nothing was copied",
            field="--to",
            fix="remove them there (`pulumi stack rm`) or migrate into an empty backend",
        )
    busy = [name for name in names if locks_in(source, name)]
    if busy:
        raise MigrationRefused(
            f"stack(s) {', '.join(busy)} are locked by an update; nothing was copied",
            field="--from",
            fix="wait for the update to finish, or `oneclick recover APP` if it was killed",
        )
    if names and source.read(META) is not None and destination.read(META) is None:
        destination.write(META, source.read(META) or b"")
    moved = []
    for name in names:
        keys = stack_keys(source, project, name)
        for key in keys:
            data = source.read(key)
            if data is not None:
                destination.write(key, data)
        config = stack_config_path(name)
        carried = isinstance(destination, PostgresBlobs) and config.exists()
        if carried:
            destination.write(stack_config.config_key(name, project), config.read_bytes())
        updates = sum(1 for k in keys if k.endswith(".history.json"))
        moved.append(MovedStack(name, len(keys), updates, carried))
    return moved
