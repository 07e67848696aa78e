"""Holding HTTP traffic to the vendors' published OpenAPI contracts (../shared/contracts/).

`ContractTransport` wraps an httpx transport: every exchange our client has with the sandbox is
checked against the contract (operation exists, JSON request body and JSON response match their
schemas), so one test run holds both the client and the sandbox to the vendor's document.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from sandbox.endpoint import REPO_ROOT

CONTRACTS = REPO_ROOT.parent / "shared" / "contracts"
METHODS = ("get", "put", "post", "delete", "patch")


def _pointer(*parts: str) -> str:
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass(frozen=True)
class Operation:
    template: str
    method: str
    spec: dict[str, Any]
    pointer: str  # JSON pointer of the operation inside its document
    uri: str  # the document's URI in the registry


@dataclass
class Contract:
    """One or more OpenAPI 3.0 documents served under `base_path` (e.g. "/client/v4")."""

    files: tuple[Path, ...]
    base_path: str = ""
    problems: list[str] = field(default_factory=list)

    @staticmethod
    def available(*names: str) -> bool:
        return all((CONTRACTS / name).exists() for name in names)

    @staticmethod
    def of(*names: str, base_path: str = "") -> Contract:
        return Contract(tuple(CONTRACTS / name for name in names), base_path)

    @cached_property
    def _documents(self) -> dict[str, dict[str, Any]]:
        return {f"urn:contract:{path.name}": json.loads(path.read_text()) for path in self.files}

    @cached_property
    def _registry(self) -> Registry[Any]:
        resources = [
            (uri, Resource.from_contents(doc, default_specification=DRAFT4))
            for uri, doc in self._documents.items()
        ]
        return Registry().with_resources(resources)

    @cached_property
    def _operations(self) -> list[tuple[re.Pattern[str], Operation]]:
        found = []
        for uri, doc in self._documents.items():
            for template, item in doc.get("paths", {}).items():
                pattern = re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$")
                for method in METHODS:
                    if method in item:
                        operation = Operation(
                            template, method, item[method], _pointer("paths", template, method), uri
                        )
                        found.append((pattern, operation))
        # Literal segments beat parameters: `/pages/assets/upload` before `/{a}/{b}/{c}`.
        found.sort(key=lambda entry: entry[1].template.count("{"))
        return found

    def operation(self, method: str, path: str) -> Operation | None:
        if self.base_path and path.startswith(self.base_path):
            path = path[len(self.base_path) :]
        for pattern, operation in self._operations:
            if operation.method == method.lower() and pattern.match(path):
                return operation
        return None

    def _validate(self, operation: Operation, pointer: str, instance: Any) -> str | None:
        """Validate against the schema at `pointer`: inside the operation, or absolute if it starts '#'."""
        target = pointer[1:] if pointer.startswith("#") else f"{operation.pointer}{pointer}"
        validator = OAS30Validator({"$ref": f"{operation.uri}#{target}"}, registry=self._registry)
        try:
            validator.validate(instance)
        except ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
            return f"{where}: {exc.message[:300]}"
        return None

    def _response(self, operation: Operation, key: str) -> tuple[dict[str, Any], str]:
        """The response object for `key` and its pointer, following a `$ref` to components/responses."""
        spec: dict[str, Any] = operation.spec["responses"][key]
        ref = spec.get("$ref")
        if not (isinstance(ref, str) and ref.startswith("#/")):
            return spec, _pointer("responses", key)
        node: Any = self._documents[operation.uri]
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node, ref

    def check(self, request: httpx.Request, response: httpx.Response) -> list[str]:
        """What in this exchange disagrees with the contract (empty when it all agrees)."""
        label = f"{request.method} {request.url.path} -> {response.status_code}"
        operation = self.operation(request.method, request.url.path)
        if operation is None:
            return [f"{label}: no such operation in {', '.join(p.name for p in self.files)}"]
        problems: list[str] = []
        body_spec = operation.spec.get("requestBody", {}).get("content", {})
        if "application/json" in body_spec and request.content:
            error = self._validate(
                operation, "/requestBody/content/application~1json/schema", json.loads(request.content)
            )
            if error:
                problems.append(f"{label}: request body {error}")
        responses = operation.spec.get("responses", {})
        status = str(response.status_code)
        key = next(
            (k for k in (status, status[0] + "XX", status[0] + "xx", "default") if k in responses),
            None,
        )
        if key is None:
            problems.append(f"{label}: status {status} is not documented for {operation.template}")
            return problems
        response_spec, pointer = self._response(operation, key)
        content = response_spec.get("content", {})
        if "application/json" in content and "schema" in content["application/json"]:
            try:
                body = response.json()
            except ValueError:
                return [*problems, f"{label}: response is not JSON"]
            pointer += _pointer("content", "application/json", "schema")
            error = self._validate(operation, pointer, body)
            if error:
                problems.append(f"{label}: response {error}")
        return problems


class ContractTransport(httpx.BaseTransport):
    """Checks every exchange against `contract`; read `contract.problems` (and `seen`) afterwards."""

    def __init__(self, contract: Contract, inner: httpx.BaseTransport | None = None) -> None:
        self.contract = contract
        self.inner = inner or httpx.HTTPTransport()
        self.seen: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        self.seen.append(f"{request.method} {request.url.path}")
        self.contract.problems.extend(self.contract.check(request, response))
        return response

    def close(self) -> None:
        self.inner.close()
