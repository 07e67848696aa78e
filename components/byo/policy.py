"""The deploy API's check of a submitted spec against the BYO network policy (dbtools.byo_policy)."""

from __future__ import annotations

from components.errors import SpecError
from components.spec import AppSpec, ByoDatabaseSpec
from dbtools.byo_policy import check_url
from dbtools.postgres_url import FIELD, ByoError


def check_service_spec(spec: AppSpec) -> None:
    """SpecError naming `database.url` if the service would refuse to connect to a BYO URL."""
    if isinstance(spec.database, ByoDatabaseSpec):
        try:
            check_url(spec.database.url.get_secret_value())
        except ByoError as exc:
            raise SpecError.single(FIELD, str(exc).removeprefix(f"{FIELD}: ")) from None
