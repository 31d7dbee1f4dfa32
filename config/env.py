"""Typed readers for environment variables.

Each reader fails loudly (ImproperlyConfigured) on a value it cannot parse, so a typo in
production configuration stops the process at start-up instead of silently falling back.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of: {', '.join(choices)}")
    return value


def env_mapping(name: str, choices: tuple[str, ...]) -> dict[str, str]:
    """`key=value,key=value` with every value one of `choices` (lower-cased)."""
    mapping: dict[str, str] = {}
    for item in env_list(name):
        key, separator, value = item.partition("=")
        value = value.strip().lower()
        if not separator or not key.strip() or value not in choices:
            raise ImproperlyConfigured(f"{name}: {item!r} must be NAME=LEVEL with LEVEL one of: {', '.join(choices)}")
        mapping[key.strip()] = value
    return mapping
