"""The shape every vendor provider shares: identity-based diffs, a 404 on read is gone, delete is idempotent.

A provider names its inputs (IDENTITY: a change replaces the resource; IN_PLACE: a change updates
it; INPUTS: what a read mirrors back), makes a client from its (secret) inputs, and implements
`observe` (the outputs as the cloud has them; raises VendorNotFound when gone) and `remove`.
Credentials reach a provider only through inputs: Pulumi stores the pickled provider in the state.
"""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Generic, TypeVar

from pulumi.dynamic import DiffResult, ReadResult, ResourceProvider

from core.http import VendorNotFound

ClientT = TypeVar("ClientT", bound=AbstractContextManager[Any])


class VendorProvider(ResourceProvider, Generic[ClientT]):
    IDENTITY: ClassVar[tuple[str, ...]]  # inputs that name the resource: a change replaces it
    IN_PLACE: ClassVar[tuple[str, ...]] = ()  # inputs a change updates in place
    INPUTS: ClassVar[tuple[str, ...]]  # what a read reports as the resource's inputs
    STABLE: ClassVar[tuple[str, ...]] = ()  # outputs an in-place update keeps

    @abstractmethod
    def client(self, props: dict[str, Any]) -> ClientT: ...

    @abstractmethod
    def observe(self, client: ClientT, id_: str, props: dict[str, Any]) -> dict[str, Any]:
        """The outputs as the cloud has them now; raises VendorNotFound when the resource is gone."""

    @abstractmethod
    def remove(self, client: ClientT, id_: str, props: dict[str, Any]) -> None: ...

    def delete_first(self, replaces: list[str]) -> bool:
        """Whether a replacement must delete the old resource first (a name both would hold)."""
        return False

    def drifted(self, olds: dict[str, Any]) -> bool:
        """Whether the last read found the cloud out of step with the inputs (so an update is due)."""
        return False

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with self.client(props) as client:
            try:
                outs = self.observe(client, id_, props)
            except VendorNotFound:
                return ReadResult(None, {})  # deleted behind Pulumi's back
        # Inputs mirror what the cloud has, so a later preview shows only real differences.
        return ReadResult(id_, outs, {key: outs[key] for key in self.INPUTS})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [key for key in self.IDENTITY if olds.get(key) != news.get(key)]
        in_place = [key for key in self.IN_PLACE if olds.get(key) != news.get(key)]
        return DiffResult(
            changes=bool(replaces or in_place) or self.drifted(olds),
            replaces=replaces,
            stables=[] if replaces else list(self.STABLE),
            delete_before_replace=self.delete_first(replaces),
        )

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        with self.client(props) as client, contextlib.suppress(VendorNotFound):
            self.remove(client, id_, props)  # already gone is fine: deleting is idempotent
