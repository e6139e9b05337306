"""What an operator hands the CLI (files, `key=value` text) → proto messages; `InputError` when unusable.

Nothing here talks to a service: a bad file or setting is reported before anything is sent.
"""

from __future__ import annotations

import json
import math
import pathlib
from typing import Any

import yaml
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from polyarb.runtime.config import switch_value
from polyarb.v1 import engine_pb2

__all__ = ["InputError", "apply_settings", "inventory_map", "load_document", "structure_message", "to_dict"]


class InputError(ValueError):
    """A file or argument the CLI cannot use; the message says which and why."""


class _TextIntLoader(yaml.SafeLoader):
    """YAML with integers kept as their text.

    Token ids are 77-digit numbers and condition ids are `0x…` hex: plain YAML reads both as ints,
    and `0x4624…` comes back as a decimal, i.e. a different id. Proto3 JSON accepts numbers as
    strings, so keeping the text is lossless for numeric fields too.
    """


_TextIntLoader.add_constructor("tag:yaml.org,2002:int", lambda loader, node: loader.construct_scalar(node))


def load_document(path: pathlib.Path) -> Any:
    """A JSON or YAML file (YAML when it ends in .yaml/.yml), parsed."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            return yaml.load(text, Loader=_TextIntLoader)  # a SafeLoader subclass: no arbitrary objects
        return json.loads(text)
    except (ValueError, yaml.YAMLError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path} is not valid {'YAML' if path.suffix.lower() in ('.yaml', '.yml') else 'JSON'}: "
                         f"{first_line}") from None


def structure_message(data: Any, source: str) -> engine_pb2.MarketStructure:
    """A MarketStructure from its proto3 JSON shape (original or camelCase field names); unknown fields refused."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a MarketStructure object, got {type(data).__name__}")
    try:
        return json_format.ParseDict(data, engine_pb2.MarketStructure())
    except json_format.ParseError as exc:
        raise InputError(f"{source}: {_one_line(str(exc))}") from None


def inventory_map(data: Any, source: str) -> dict[str, float]:
    """token id → shares, from a plain mapping or an UpdateBalanceRequest-shaped {"inventory": {...}}."""
    if isinstance(data, dict) and isinstance(data.get("inventory"), dict) and set(data) <= {"collateral", "inventory"}:
        data = data["inventory"]
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a mapping of token id to shares")
    inventory = {}
    for token, shares in data.items():
        value = None if isinstance(shares, bool) else _finite_float(shares)
        if value is None or value < 0:
            raise InputError(f"{source}: shares of {token} must be a number >= 0, got {shares!r}")
        inventory[str(token)] = value
    return inventory


def apply_settings(message: Message, settings: list[str]) -> Message:
    """A copy of `message` with each `field=value` applied, values read by the field's type."""
    updated = type(message)()
    updated.CopyFrom(message)
    fields = updated.DESCRIPTOR.fields_by_name
    for setting in settings:
        name, sep, text = setting.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InputError(f"--set expects FIELD=VALUE, got {setting!r}")
        field = fields.get(name)
        if field is None:
            raise InputError(f"no field {name!r} in {updated.DESCRIPTOR.name}; fields: {', '.join(fields)}")
        try:
            setattr(updated, name, _field_value(field, text.strip()))
        except (ValueError, TypeError) as exc:
            raise InputError(f"bad value for {name}: {exc}") from None
    return updated


def to_dict(message: Message) -> dict[str, Any]:
    """The proto3 JSON shape with the .proto's own field names and every field shown (zeros included)."""
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def _field_value(field: FieldDescriptor, text: str) -> Any:
    if field.is_repeated or field.type == FieldDescriptor.TYPE_MESSAGE:
        raise ValueError("only scalar fields can be set")
    if field.type == FieldDescriptor.TYPE_BOOL:
        if not text:
            raise ValueError("expected true/false, got ''")
        return switch_value(text)
    if field.type == FieldDescriptor.TYPE_STRING:
        return text
    if field.cpp_type in (FieldDescriptor.CPPTYPE_FLOAT, FieldDescriptor.CPPTYPE_DOUBLE):
        value = _finite_float(text)
        if value is None:
            raise ValueError(f"expected a finite number, got {text!r}")
        return value
    if field.cpp_type in (FieldDescriptor.CPPTYPE_UINT32, FieldDescriptor.CPPTYPE_UINT64) and text.startswith("-"):
        raise ValueError(f"expected a whole number >= 0, got {text!r}")
    return int(text)


def _finite_float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _one_line(text: str) -> str:
    return " ".join(text.split())
