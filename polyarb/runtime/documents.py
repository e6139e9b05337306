"""Files an operator writes (JSON, or YAML by suffix) → parsed data and proto messages; `InputError` when
unusable. Shared by the CLI (`polyarbctl structure push FILE`) and the engine (`--structure-file`), so
both read the very same document the same way.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import yaml
from google.protobuf import json_format

from polyarb.v1 import engine_pb2

__all__ = ["InputError", "load_document", "one_line", "structure_message"]


class InputError(ValueError):
    """A file or argument that cannot be used; the message says which and why."""


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
        raise InputError(f"{source}: {one_line(str(exc))}") from None


def one_line(text: str) -> str:
    return " ".join(text.split())
