"""Errors a user can cause, each naming the field and the fix."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import ValidationError

# Branch names of the spec's tagged unions, which pydantic puts into error locations.
UNION_TAGS = frozenset({"turso", "neon", "byo"})


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
            # Drop tagged-union branch names (`database.byo.url` is `database.url` to the user).
            parts = [str(part) for part in item["loc"] if str(part) not in UNION_TAGS]
            field = ".".join(parts) or "(spec)"
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] == "missing":
                message = "is required; add it to the spec"
            elif item["type"] == "extra_forbidden":
                message = "is not a known field; remove it or check its spelling"
            elif item["type"] in ("union_tag_invalid", "union_tag_not_found"):
                ctx = item.get("ctx", {})
                field += ".provider"
                message = f"must be one of {ctx.get('expected_tags', '')} (got {ctx.get('tag', 'nothing')!r})"
            problems.append((prefix + field, message))
        return SpecError(problems)
