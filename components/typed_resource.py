"""TypedResource: a dynamic resource that names its own type and declares its outputs once.

    class TursoDatabase(TypedResource, module="turso", name="Database"):
        SECRET_OUTPUTS = ("api_token", "auth_token")
        url: pulumi.Output[str]
        auth_token: pulumi.Output[str]

        def __init__(self, name: str, args: TursoDatabaseArgs, opts=None) -> None:
            super().__init__(TursoDatabaseProvider(), name, {"name": args.name, ...}, opts)

has type `pulumi-python:dynamic/turso:Database`. Every attribute annotated `pulumi.Output[...]` is an
output: it is registered (as None, unless it is also an input) so Pulumi makes it an attribute.
SECRET_OUTPUTS become additional secret outputs, and are secret on the Python side too (the engine
marks them, mocks do not). Each resource aliases its identity from before it was typed
(components/legacy_types.py), so a deployed stack sees no replacement.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, get_origin

import pulumi
from pulumi.dynamic import Resource, ResourceProvider

from components.legacy_types import DYNAMIC, WRAPPER_OF

_OUTPUT_ANNOTATION = re.compile(r"^(pulumi\.)?Output\[")


def _is_output(annotation: Any) -> bool:
    if isinstance(annotation, str):  # `from __future__ import annotations` keeps them as text
        return bool(_OUTPUT_ANNOTATION.match(annotation))
    return get_origin(annotation) is pulumi.Output or annotation is pulumi.Output


class TypedResource(Resource):
    TYPE: ClassVar[str]  # `pulumi-python:dynamic/<module>:<name>`
    OUTPUTS: ClassVar[tuple[str, ...]]  # the annotated outputs, in declaration order
    SECRET_OUTPUTS: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)  # `module=`, `name=`: the SDK sets the type name
        cls.TYPE = f"pulumi-python:{cls._resource_type_name}"
        if cls.TYPE == DYNAMIC:  # the SDK's default: a subclass does not inherit its parent's type
            raise TypeError(f"{cls.__name__}: name its type, `class {cls.__name__}(…, module=…, name=…)`")
        found: dict[str, None] = {}
        for klass in reversed(cls.__mro__):
            if issubclass(klass, TypedResource) and klass is not TypedResource:
                found.update(
                    (k, None) for k, v in vars(klass).get("__annotations__", {}).items() if _is_output(v)
                )
        cls.OUTPUTS = tuple(found)

    def __init__(
        self,
        provider: ResourceProvider,
        name: str,
        inputs: dict[str, Any],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        own = pulumi.ResourceOptions(
            additional_secret_outputs=list(self.SECRET_OUTPUTS), aliases=[self.legacy_alias(name, opts)]
        )
        props = {**dict.fromkeys(self.OUTPUTS), **inputs}
        super().__init__(provider, name, props, pulumi.ResourceOptions.merge(opts, own))
        for key in self.SECRET_OUTPUTS:
            if key in self.OUTPUTS:
                self.__dict__[key] = pulumi.Output.secret(self.__dict__[key])

    def legacy_alias(self, name: str, opts: pulumi.ResourceOptions | None) -> pulumi.Alias:
        """Who this resource was before it had its own type: the SDK's one dynamic type, alone under a
        wrapper component of the same name (vendor resources) or right under the same parent."""
        wrapper = WRAPPER_OF.get(self.TYPE)
        if wrapper is None:
            return pulumi.Alias(type_=DYNAMIC)
        parent = opts.parent if opts is not None else None
        return pulumi.Alias(type_=DYNAMIC, parent=pulumi.create_urn(name, wrapper, parent=parent))
