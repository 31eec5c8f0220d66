"""A :class:`Config` written back as a TOML file.

Deployments take the *path* of a config file as their parameter (a worker or a served run reads
the file when it starts, so an edit applies from the next run). ``newsflow serve --demo`` and
the tests build their config in code, for a demo site on a port chosen at run time, and write it
with :func:`write_config` so that the scheduled runs read it like any other config file.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from newsflow.schemas.config import Config, parse_config

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def render_config(config: Config) -> str:
    """TOML text that parses back to ``config`` (only the keys that differ from the defaults)."""
    data = config.model_dump(mode="json", exclude_defaults=True)
    lines: list[str] = []
    for key, value in data.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                lines += ["", f"[[{_key(key)}]]", *_assignments(item)]
        elif isinstance(value, dict):
            lines += ["", f"[{_key(key)}]", *_assignments(value)]
        elif value is not None:
            lines.insert(0, f"{_key(key)} = {_value(value)}")
    text = "\n".join(lines).lstrip("\n") + "\n"
    if parse_config(text, origin="<rendered config>") != config:
        raise RuntimeError("bug: the rendered config does not parse back to the same config")
    return text


def write_config(config: Config, path: str | os.PathLike[str]) -> Path:
    """Write ``config`` to ``path`` (atomically, so a run never reads half a file)."""
    target = Path(path).expanduser().resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(render_config(config), encoding="utf-8")
    os.replace(tmp, target)
    return target


def _assignments(table: dict[str, Any]) -> list[str]:
    return [f"{_key(k)} = {_value(v)}" for k, v in table.items() if v is not None]


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None)
        return "{ " + inner + " }" if inner else "{}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")
