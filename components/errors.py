"""Errors a user can cause, each naming the field and the fix."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import ValidationError


class SpecError(ValueError):
    """One or more problems with user input; str() lists each as `field: problem (fix)`."""

    def __init__(self, problems: Iterable[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(f"{field}: {message}" for field, message in self.problems))

    @staticmethod
    def single(field: str, message: str) -> SpecError:
        return SpecError([(field, message)])

    @staticmethod
    def from_validation(error: ValidationError, prefix: str = "") -> SpecError:
        problems = []
        for item in error.errors():
            field = ".".join(str(part) for part in item["loc"]) or "(spec)"
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] == "missing":
                message = "is required; add it to the spec"
            elif item["type"] == "extra_forbidden":
                message = "is not a known field; remove it or check its spelling"
            problems.append((prefix + field, message))
        return SpecError(problems)
