"""Errors a user can cause, each naming the field and the fix."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import ValidationError

from core.errors import UserError, validation_problems

# Branch names of the spec's tagged unions, which pydantic puts into error locations.
UNION_TAGS = frozenset({"turso", "neon", "byo"})


class SpecError(UserError, ValueError):
    """One or more problems with user input; str() lists each as `field: problem (fix)`."""

    def __init__(self, problems: Iterable[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__(
            "\n".join(f"{field}: {message}" for field, message in self.problems),
            field=self.problems[0][0] if len(self.problems) == 1 else None,
        )

    @staticmethod
    def single(field: str, message: str) -> SpecError:
        return SpecError([(field, message)])

    @staticmethod
    def from_validation(error: ValidationError, prefix: str = "") -> SpecError:
        return SpecError(validation_problems(error.errors(), noun="spec", drop=UNION_TAGS, prefix=prefix))
