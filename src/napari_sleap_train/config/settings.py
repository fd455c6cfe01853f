"""Declaring settings once: default, range, unit and help text in a dataclass field.

A configuration part is a dataclass whose fields are made by :meth:`Setting.field` (one
value) or :func:`part` (a nested part). :func:`problems` checks every field against its
declaration (type, range, choices) and then the part's own cross-field ``rules()``;
:func:`build` makes a part from JSON data, collecting every problem at once. The docks
build their forms from the same declarations (label, help, range, step).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from types import NoneType, UnionType
from typing import Any

from ..choices import Choice

Rule = Iterator[tuple[str, str]]
"""What a part's ``rules()`` yields: (setting name, the problem and its fix)."""

SETTING = "setting"
Problems = dict[str, str]


@dataclass(frozen=True)
class Setting:
    """What one setting is: its words, its range and how a form shows it.

    ``lo``/``hi`` bound the value (``lo_open``/``hi_open``: the bound itself is not
    allowed); ``none`` says what ``None`` means (empty: ``None`` is not allowed);
    ``options`` are the values a form offers in a list; ``step`` is a form's step;
    ``zero`` says what the value 0 means, where it means more than nothing.
    """

    label: str
    help: str
    unit: str = ""
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    power_of_two: bool = False
    none: str = ""
    options: tuple = ()
    step: float | None = None
    zero: str = ""

    def field(self, default: Any) -> Any:
        """A dataclass field with this declaration and ``default``."""
        return dataclasses.field(default=default, metadata={SETTING: self})

    def range_text(self) -> str:
        """The allowed range in words, e.g. ``between 0 and 1`` or ``positive``."""
        lo, hi = self.lo, self.hi
        if lo is not None and hi is not None:
            if self.lo_open or self.hi_open:
                left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
                return f"in {left}{_num(lo)}, {_num(hi)}{right}"
            return f"between {_num(lo)} and {_num(hi)}"
        if lo is not None:
            if lo == 0 and self.lo_open:
                return "positive"
            return f"above {_num(lo)}" if self.lo_open else f"at least {_num(lo)}"
        if hi is not None:
            return f"below {_num(hi)}" if self.hi_open else f"at most {_num(hi)}"
        return ""


def part(factory: Callable[[], Any]) -> Any:
    """A dataclass field holding a nested part made by ``factory``."""
    return dataclasses.field(default_factory=factory)


def setting_of(f: dataclasses.Field) -> Setting | None:
    """The declaration of a field, or None for a nested part."""
    return f.metadata.get(SETTING)


def _num(value: float) -> str:
    return f"{value:g}"


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def value_type(cls: type, name: str) -> tuple[type, bool]:
    """The type of field ``name`` of ``cls`` and whether it may be None."""
    hint = _hints(cls)[name]
    union = isinstance(hint, UnionType) or typing.get_origin(hint) is typing.Union
    args = typing.get_args(hint) if union else ()
    if args:
        kinds = [a for a in args if a is not NoneType]
        return kinds[0], NoneType in args
    return hint, False


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else None


def _default_text(f: dataclasses.Field) -> str:
    value = _default(f)
    if value is None:
        return " (default None)"
    if isinstance(value, Enum):
        return f" (default {value.value})"
    return f" (default {_num(value) if isinstance(value, float) else value})"


def convert(kind: type, value: Any) -> Any:
    """``value`` as a ``kind`` (JSON gives enum values as strings); ``ValueError`` says why."""
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{value!r} is not true or false")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{value!r} is not a whole number")
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{value!r} is not a whole number")
        return int(value)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{value!r} is not a number")
        return float(value)
    if isinstance(kind, type) and issubclass(kind, Choice):
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not one of {kind.spelled()}")
        try:
            return kind(value)
        except ValueError:
            raise ValueError(f"{value!r} is unknown; use {kind.spelled()}") from None
    if kind is str:
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not text")
        return value
    return value


def check_value(decl: Setting, kind: type, nullable: bool, value: Any) -> str | None:
    """Why ``value`` breaks its declaration (without the default), or None."""
    if value is None:
        return None if nullable else "must be set (None is not allowed)"
    try:
        value = convert(kind, value)
    except ValueError as exc:
        return str(exc)
    if kind in (int, float):
        if not math.isfinite(value):
            return f"{value} is not a finite number"
        too_low = decl.lo is not None and (value <= decl.lo if decl.lo_open else value < decl.lo)
        too_high = decl.hi is not None and (value >= decl.hi if decl.hi_open else value > decl.hi)
        if too_low or too_high:
            return f"{_num(value)} is outside the range: must be {decl.range_text()}"
        if decl.power_of_two and (value < 1 or int(value) & (int(value) - 1)):
            offer = ", ".join(str(o) for o in decl.options) or "8, 16 or 32"
            return f"{value} is not a power of two; use {offer}"
    return None


def fields_of(obj_or_cls: Any) -> tuple[dataclasses.Field, ...]:
    return dataclasses.fields(obj_or_cls)


def problems(obj: Any, prefix: str = "") -> Problems:
    """Every setting of ``obj`` (a part) that breaks its declaration or a rule of its part,
    keyed by field path."""
    out: Problems = {}
    cls = type(obj)
    for f in fields_of(obj):
        value = getattr(obj, f.name)
        path = f"{prefix}{f.name}"
        decl = setting_of(f)
        if decl is None:
            out.update(_part_problems(value, path))
            continue
        kind, nullable = value_type(cls, f.name)
        problem = check_value(decl, kind, nullable, value)
        if problem is not None:
            suffix = f", or None for {decl.none}" if decl.none and value is not None else ""
            out[path] = f"{problem}{suffix}{_default_text(f)}."
    if hasattr(obj, "rules"):
        try:
            for name, message in obj.rules():
                out.setdefault(f"{prefix}{name}", message)
        except (TypeError, ValueError, AttributeError):  # a bad value, reported above
            pass
    return out


def _part_problems(value: Any, path: str) -> Problems:
    if isinstance(value, dict):
        out: Problems = {}
        for key, item in value.items():
            out.update(problems(item, f"{path}.{key}."))
        return out
    return problems(value, f"{path}.")


def build(cls: type, data: Any, prefix: str = "", base: Any = None) -> tuple[Any, Problems]:
    """A ``cls`` part from JSON ``data`` and the problems found on the way: unknown keys,
    wrong types and values out of range. Missing keys keep their defaults, or the values
    of ``base`` (a part of the same class) when it is given."""
    if not isinstance(data, dict):
        where = prefix.rstrip(".") or "the file"
        made = cls() if base is None else copy.deepcopy(base)
        return made, {where: f"must be a set of settings ({{...}}), not {data!r}."}
    fields = {f.name: f for f in fields_of(cls)}
    out: Problems = {
        f"{prefix}{k}": "unknown setting; check its spelling." for k in data if k not in fields
    }
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        f = fields.get(name)
        if f is None:
            continue
        decl = setting_of(f)
        if decl is None:
            kind, _ = value_type(cls, name)
            inner = None if base is None else getattr(base, name)
            kwargs[name], found = build(kind, value, f"{prefix}{name}.", inner)
            out.update(found)
            continue
        kind, nullable = value_type(cls, name)
        problem = check_value(decl, kind, nullable, value)
        if problem is None:
            kwargs[name] = None if value is None else convert(kind, value)
        else:
            out[f"{prefix}{name}"] = f"{problem}{_default_text(f)}."
    if base is None:
        return cls(**kwargs), out
    made = copy.deepcopy(base)
    for name, value in kwargs.items():
        setattr(made, name, value)
    return made, out


def count_unset(cls: type, data: Any) -> int:
    """How many declared settings of ``cls`` the JSON ``data`` leaves out."""
    if not isinstance(data, dict):
        return sum(1 for _ in walk(cls))
    missing = 0
    for f in fields_of(cls):
        if setting_of(f) is not None:
            missing += f.name not in data
        else:
            kind, _ = value_type(cls, f.name)
            if dataclasses.is_dataclass(kind):
                missing += count_unset(kind, data.get(f.name, {}))
    return missing


def to_jsonable(obj: Any) -> Any:
    """A part as plain JSON data (enums by value)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in fields_of(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, Enum):
        return obj.value
    return obj


def walk(cls: type, prefix: str = "") -> Iterator[tuple[str, Setting]]:
    """Every declared setting of a part class with its dotted path."""
    for f in fields_of(cls):
        decl = setting_of(f)
        if decl is None:
            kind, _ = value_type(cls, f.name)
            if dataclasses.is_dataclass(kind):
                yield from walk(kind, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", decl
