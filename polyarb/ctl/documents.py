"""What an operator hands the CLI (files, `key=value` text) → proto messages; `InputError` when unusable.

Nothing here talks to a service: a bad file or setting is reported before anything is sent. Reading
files (and a MarketStructure from one) is shared with the engine's --structure-file:
polyarb/runtime/documents.py.
"""

from __future__ import annotations

import math
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from polyarb.runtime.config import switch_value
from polyarb.runtime.documents import InputError, load_document, structure_message

__all__ = ["InputError", "apply_settings", "inventory_map", "load_document", "structure_message", "to_dict"]


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
