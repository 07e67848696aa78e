"""A reader for Prisma schema files (the subset relational databases use).

It understands datasource and generator blocks, models with scalar, enum and relation fields
(`?` optional, `[]` list), field attributes (`@id`, `@default(...)`, `@unique`, `@updatedAt`,
`@relation(...)`, `@map`, `@db.*`), block attributes (`@@id`, `@@unique`, `@@index`, `@@map`) and
enums. Block source spans are kept so `transform` can rewrite one block and leave the rest of the
user's text (comments, layout) as it was.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

from core.files import SCHEMA_CAP, FileRefused, read_text_capped, shown
from dbtools.errors import SchemaError

SCALAR_TYPES = frozenset(
    {"String", "Boolean", "Int", "BigInt", "Float", "Decimal", "DateTime", "Json", "Bytes"}
)


@dataclass(frozen=True)
class Ident:
    """A bare name in an attribute argument: `Cascade`, `true`, a field name in `[a, b]`."""

    name: str


@dataclass(frozen=True)
class Str:
    """A string literal, unescaped."""

    value: str


@dataclass(frozen=True)
class Call:
    """A function call such as `autoincrement()`, `uuid(7)` or `env("DATABASE_URL")`."""

    name: str
    args: tuple[Arg, ...] = ()


@dataclass(frozen=True)
class Arg:
    name: str | None
    value: Value


Value = Union[Ident, Str, Call, int, float, tuple["Value", ...]]  # noqa: UP007 (recursive alias)


@dataclass(frozen=True)
class Attribute:
    """`@name(args)` on a field or `@@name(args)` on a block."""

    name: str
    args: tuple[Arg, ...] = ()

    def arg(self, name: str, position: int | None = 0) -> Value | None:
        """The argument called `name`, else the unnamed one at `position` (None when absent)."""
        for arg in self.args:
            if arg.name == name:
                return arg.value
        if position is not None:
            unnamed = [arg.value for arg in self.args if arg.name is None]
            if position < len(unnamed):
                return unnamed[position]
        return None


@dataclass(frozen=True)
class Field:
    name: str
    type_name: str
    optional: bool
    is_list: bool
    attributes: tuple[Attribute, ...]
    line: int

    def attribute(self, name: str) -> Attribute | None:
        return next((a for a in self.attributes if a.name == name), None)

    def has(self, name: str) -> bool:
        return self.attribute(name) is not None

    @property
    def db_name(self) -> str:
        mapped = self.attribute("map")
        value = mapped.arg("name") if mapped else None
        return value.value if isinstance(value, Str) else self.name

    @property
    def default(self) -> Value | None:
        attribute = self.attribute("default")
        return attribute.arg("value") if attribute else None

    @property
    def native_type(self) -> Attribute | None:
        """The `@db.X(...)` attribute, if any (name without the `db.` prefix)."""
        for attribute in self.attributes:
            if attribute.name.startswith("db."):
                return Attribute(attribute.name[3:], attribute.args)
        return None


@dataclass(frozen=True)
class Model:
    name: str
    fields: tuple[Field, ...]
    attributes: tuple[Attribute, ...]
    line: int

    def field(self, name: str) -> Field:
        for item in self.fields:
            if item.name == name:
                return item
        raise SchemaError(f"model {self.name} has no field {name!r}")

    def block_attributes(self, name: str) -> list[Attribute]:
        return [a for a in self.attributes if a.name == name]

    @property
    def db_name(self) -> str:
        mapped = self.block_attributes("map")
        value = mapped[0].arg("name") if mapped else None
        return value.value if isinstance(value, Str) else self.name


@dataclass(frozen=True)
class EnumValue:
    name: str
    attributes: tuple[Attribute, ...]

    @property
    def db_name(self) -> str:
        mapped = next((a for a in self.attributes if a.name == "map"), None)
        value = mapped.arg("name") if mapped else None
        return value.value if isinstance(value, Str) else self.name


@dataclass(frozen=True)
class Enum:
    name: str
    values: tuple[EnumValue, ...]
    attributes: tuple[Attribute, ...]
    line: int

    @property
    def db_name(self) -> str:
        mapped = next((a for a in self.attributes if a.name == "map"), None)
        value = mapped.arg("name") if mapped else None
        return value.value if isinstance(value, Str) else self.name


@dataclass(frozen=True)
class ConfigBlock:
    """A `datasource` or `generator` block: `key = value` properties and where it sits in the text."""

    kind: str
    name: str
    properties: dict[str, Value]
    start: int
    end: int

    def string(self, key: str) -> str | None:
        value = self.properties.get(key)
        return value.value if isinstance(value, Str) else None


@dataclass(frozen=True)
class PrismaSchema:
    text: str
    datasources: tuple[ConfigBlock, ...]
    generators: tuple[ConfigBlock, ...]
    models: tuple[Model, ...]
    enums: tuple[Enum, ...]
    source: str = "schema.prisma"
    _models_by_name: dict[str, Model] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._models_by_name.update({m.name: m for m in self.models})

    @property
    def provider(self) -> str:
        if not self.datasources:
            raise SchemaError(f"{self.source}: no datasource block; add `datasource db {{ provider = ... }}`")
        provider = self.datasources[0].string("provider")
        if provider is None:
            raise SchemaError(f'{self.source}: the datasource has no provider; add `provider = "sqlite"`')
        return provider

    def model(self, name: str) -> Model | None:
        return self._models_by_name.get(name)

    def enum(self, name: str) -> Enum | None:
        return next((e for e in self.enums if e.name == name), None)

    def is_relation(self, item: Field) -> bool:
        return item.type_name in self._models_by_name

    def is_enum(self, item: Field) -> bool:
        return any(e.name == item.type_name for e in self.enums)


# --- tokenizer -------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\f]+)
  | (?P<comment>//[^\n]*)
  | (?P<nl>\n)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<attr>@@?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<punct>[{}()\[\],:=?])
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "'": "'", "0": "\0"}


_TOKEN_KINDS = {
    "string": "a string",
    "number": "a number",
    "attr": "an @attribute",
    "ident": "a name",
    "nl": "the end of the line",
    "eof": "the end of the file",
}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    line: int
    offset: int


def _tokens(text: str, source: str) -> list[_Token]:
    out: list[_Token] = []
    line, pos = 1, 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            # Never echo the character: the file may be anything (a key, an env dump) but a schema.
            column = pos - text.rfind("\n", 0, pos)
            raise SchemaError(
                f"{source} line {line}, column {column}: a character a Prisma schema cannot hold; "
                f"schemas are UTF-8 text of names, strings, numbers, @attributes and {{}}()[],:=?"
            )
        kind = match.lastgroup or ""
        if kind == "nl":
            out.append(_Token("nl", "\n", line, pos))
            line += 1
        elif kind not in ("ws", "comment"):
            out.append(_Token(kind, match.group(), line, pos))
        pos = match.end()
    out.append(_Token("eof", "", line, len(text)))
    return out


def _unescape(literal: str) -> str:
    body = literal[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


# --- parser ----------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.tokens = _tokens(text, source)
        self.pos = 0

    # token helpers
    @property
    def tok(self) -> _Token:
        return self.tokens[self.pos]

    def fail(self, message: str, token: _Token | None = None) -> SchemaError:
        """An error naming the line, the column and the kind of token found, never its text: a file
        that is not a schema must not be echoed (only punctuation, from a fixed set, is shown)."""
        token = token or self.tok
        column = token.offset - self.text.rfind("\n", 0, token.offset)
        near = repr(token.text) if token.kind == "punct" else _TOKEN_KINDS.get(token.kind, "a token")
        return SchemaError(f"{self.source} line {token.line}, column {column}: {message} (found {near})")

    def advance(self) -> _Token:
        token = self.tok
        self.pos += 1
        return token

    def expect(self, kind: str, text: str | None = None) -> _Token:
        token = self.tok
        if token.kind != kind or (text is not None and token.text != text):
            raise self.fail(f"expected {text or kind}")
        return self.advance()

    def skip_newlines(self) -> None:
        while self.tok.kind == "nl":
            self.pos += 1

    def skip_newlines_in_brackets(self) -> None:
        self.skip_newlines()

    # grammar
    def parse(self) -> PrismaSchema:
        datasources: list[ConfigBlock] = []
        generators: list[ConfigBlock] = []
        models: list[Model] = []
        enums: list[Enum] = []
        while True:
            self.skip_newlines()
            token = self.tok
            if token.kind == "eof":
                break
            if token.kind != "ident":
                raise self.fail("expected a block (model, enum, datasource or generator)")
            keyword = token.text
            if keyword in ("datasource", "generator"):
                block = self.config_block()
                (datasources if keyword == "datasource" else generators).append(block)
            elif keyword in ("model", "view"):
                models.append(self.model_block())
            elif keyword == "enum":
                enums.append(self.enum_block())
            elif keyword == "type":
                raise self.fail("composite types are for MongoDB only; use a model instead")
            else:
                raise self.fail("unknown block; expected model, enum, datasource or generator")
        return PrismaSchema(
            self.text, tuple(datasources), tuple(generators), tuple(models), tuple(enums), self.source
        )

    def config_block(self) -> ConfigBlock:
        start = self.advance()
        name = self.expect("ident").text
        self.expect("punct", "{")
        properties: dict[str, Value] = {}
        while True:
            self.skip_newlines()
            if self.tok.text == "}" and self.tok.kind == "punct":
                end = self.advance()
                break
            key = self.expect("ident").text
            self.expect("punct", "=")
            properties[key] = self.value()
            self.end_of_line()
        return ConfigBlock(start.text, name, properties, start.offset, end.offset + 1)

    def model_block(self) -> Model:
        start = self.advance()
        name = self.expect("ident").text
        self.expect("punct", "{")
        fields: list[Field] = []
        attributes: list[Attribute] = []
        while True:
            self.skip_newlines()
            token = self.tok
            if token.kind == "punct" and token.text == "}":
                self.advance()
                break
            if token.kind == "attr" and token.text.startswith("@@"):
                attributes.append(self.attribute())
                self.end_of_line()
                continue
            fields.append(self.field_line())
        return Model(name, tuple(fields), tuple(attributes), start.line)

    def field_line(self) -> Field:
        name_token = self.expect("ident")
        type_token = self.tok
        if type_token.kind != "ident":
            raise self.fail(f"field {name_token.text} needs a type")
        self.advance()
        type_name = type_token.text
        if type_name == "Unsupported" and self.tok.text == "(":
            self.advance()
            inner = self.expect("string").text
            self.expect("punct", ")")
            type_name = f"Unsupported({inner})"
        optional = is_list = False
        if self.tok.kind == "punct" and self.tok.text == "[":
            self.advance()
            self.expect("punct", "]")
            is_list = True
        if self.tok.kind == "punct" and self.tok.text == "?":
            self.advance()
            optional = True
        attributes: list[Attribute] = []
        while self.tok.kind == "attr":
            if self.tok.text.startswith("@@"):
                raise self.fail("block attributes (@@) go on a line of their own")
            attributes.append(self.attribute())
        self.end_of_line()
        return Field(name_token.text, type_name, optional, is_list, tuple(attributes), name_token.line)

    def enum_block(self) -> Enum:
        start = self.advance()
        name = self.expect("ident").text
        self.expect("punct", "{")
        values: list[EnumValue] = []
        attributes: list[Attribute] = []
        while True:
            self.skip_newlines()
            token = self.tok
            if token.kind == "punct" and token.text == "}":
                self.advance()
                break
            if token.kind == "attr" and token.text.startswith("@@"):
                attributes.append(self.attribute())
            else:
                value_name = self.expect("ident").text
                value_attributes: list[Attribute] = []
                while self.tok.kind == "attr":
                    value_attributes.append(self.attribute())
                values.append(EnumValue(value_name, tuple(value_attributes)))
            self.end_of_line()
        return Enum(name, tuple(values), tuple(attributes), start.line)

    def end_of_line(self) -> None:
        if self.tok.kind == "punct" and self.tok.text == "}":
            return
        if self.tok.kind not in ("nl", "eof"):
            raise self.fail("expected the end of the line")

    def attribute(self) -> Attribute:
        token = self.advance()
        name = token.text.lstrip("@")
        args: tuple[Arg, ...] = ()
        if self.tok.kind == "punct" and self.tok.text == "(":
            args = self.arguments()
        return Attribute(name, args)

    def arguments(self) -> tuple[Arg, ...]:
        self.expect("punct", "(")
        args: list[Arg] = []
        while True:
            self.skip_newlines()
            if self.tok.kind == "punct" and self.tok.text == ")":
                self.advance()
                return tuple(args)
            arg_name: str | None = None
            if self.tok.kind == "ident" and self.tokens[self.pos + 1].text == ":":
                arg_name = self.advance().text
                self.advance()
            args.append(Arg(arg_name, self.value()))
            self.skip_newlines()
            if self.tok.kind == "punct" and self.tok.text == ",":
                self.advance()
            elif not (self.tok.kind == "punct" and self.tok.text == ")"):
                raise self.fail("expected ',' or ')' in the argument list")

    def value(self) -> Value:
        token = self.tok
        if token.kind == "string":
            self.advance()
            return Str(_unescape(token.text))
        if token.kind == "number":
            self.advance()
            return float(token.text) if any(c in token.text for c in ".eE") else int(token.text)
        if token.kind == "ident":
            self.advance()
            if self.tok.kind == "punct" and self.tok.text == "(":
                return Call(token.text, self.arguments())
            return Ident(token.text)
        if token.kind == "punct" and token.text == "[":
            self.advance()
            items: list[Value] = []
            while True:
                self.skip_newlines()
                if self.tok.kind == "punct" and self.tok.text == "]":
                    self.advance()
                    return tuple(items)
                items.append(self.value())
                self.skip_newlines()
                if self.tok.kind == "punct" and self.tok.text == ",":
                    self.advance()
        raise self.fail("expected a value")


def parse_schema(text: str, source: str = "schema.prisma") -> PrismaSchema:
    """Parse schema text; raises SchemaError naming the line on anything it cannot read."""
    schema = _Parser(text, source).parse()
    _check(schema)
    return schema


def read_schema_text(path: Path, field: str = "database.prismaSchema") -> str:
    """The schema file's text, read safely (a regular UTF-8 file of at most SCHEMA_CAP bytes)."""
    try:
        return read_text_capped(path, field, SCHEMA_CAP)
    except FileRefused as exc:
        raise SchemaError(str(exc)) from None


def load_schema(path: Path, field: str = "database.prismaSchema") -> PrismaSchema:
    """Read and parse the schema at `path`; `field` (the spec field or option naming it) is in errors."""
    return parse_schema(read_schema_text(path, field), f"{field} {shown(path)}")


def _check(schema: PrismaSchema) -> None:
    """Reject what would otherwise fail later with a less helpful message."""
    names: set[str] = set()
    blocks: list[Model | Enum] = [*schema.models, *schema.enums]
    for block in blocks:
        if block.name in names:
            raise SchemaError(f"{schema.source} line {block.line}: {block.name} is defined twice")
        names.add(block.name)
    enum_names = {e.name for e in schema.enums}
    for model in schema.models:
        seen: set[str] = set()
        for item in model.fields:
            if item.name in seen:
                raise SchemaError(
                    f"{schema.source} line {item.line}: field {model.name}.{item.name} is defined twice"
                )
            seen.add(item.name)
            base = item.type_name
            known = (
                base in SCALAR_TYPES or base in enum_names or base in names or base.startswith("Unsupported(")
            )
            if not known:
                raise SchemaError(
                    f"{schema.source} line {item.line}: field {model.name}.{item.name} has unknown "
                    f"type {base!r}; use a scalar type ({', '.join(sorted(SCALAR_TYPES))}), an enum "
                    f"or a model"
                )
        ids = [f for f in model.fields if f.has("id")]
        if (
            not ids
            and not model.block_attributes("id")
            and not any(f.has("unique") for f in model.fields)
            and not model.block_attributes("unique")
        ):
            raise SchemaError(
                f"{schema.source} line {model.line}: model {model.name} has no @id, @@id or unique field; "
                f"add `id Int @id @default(autoincrement())`"
            )


def field_names(value: Value | None) -> list[str]:
    """Field names from `[a, b]` or `[a(sort: Desc), b]` (sort and length options are dropped)."""
    if value is None:
        return []
    items = value if isinstance(value, tuple) else (value,)
    names: list[str] = []
    for item in items:
        if isinstance(item, Ident | Call):
            names.append(item.name)
        else:
            raise SchemaError(f"expected a list of field names, got {item!r}")
    return names


def sort_orders(value: Value | None) -> list[str | None]:
    """Per-field sort order (`ASC`/`DESC`) from `[a(sort: Desc), b]`, None where not given."""
    items = value if isinstance(value, tuple) else (() if value is None else (value,))
    orders: list[str | None] = []
    for item in items:
        order = None
        if isinstance(item, Call):
            sort = Attribute(item.name, item.args).arg("sort", None)
            if isinstance(sort, Ident):
                order = sort.name.upper()
        orders.append(order)
    return orders


def iter_scalar_fields(schema: PrismaSchema, model: Model) -> Iterator[Field]:
    """The fields that are columns (relation fields are not)."""
    return (f for f in model.fields if not schema.is_relation(f))
