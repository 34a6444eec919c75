"""Converter hooks shared by the model modules of ``mindo_async.types``."""

from __future__ import annotations

import enum
from typing import Any

from .._conversion import converter, open_enum


def register_open_enum(enum_type: type[enum.Enum]) -> None:
    """Structure ``enum_type | str`` (and its optional form), keeping unknown values as str."""
    hook = open_enum(enum_type)
    converter.register_structure_hook(enum_type | str, hook)

    def optional(value: Any, type_: Any) -> Any:
        return None if value is None else hook(value, type_)

    converter.register_structure_hook(enum_type | str | None, optional)


def _scalar(value: Any, _: Any) -> int | str | None:
    # An error code the API may give as a number or as text: kept as given.
    if value is None or (isinstance(value, (int, str)) and not isinstance(value, bool)):
        kept: int | str | None = value
        return kept
    return str(value)


converter.register_structure_hook(int | str | None, _scalar)
