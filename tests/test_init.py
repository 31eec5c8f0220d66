"""``newsflow init``: the commented config it writes holds every key newsflow reads, with the
default it really has (generated from the models, so it cannot drift), loads as it is, and is
never written over without ``--force``."""

from __future__ import annotations

import re

import pytest

from newsflow.cli.init import EXAMPLE_SOURCE, UNSET_EXAMPLES, defaults, render_init_config
from newsflow.cli.main import main
from newsflow.schemas.config import (
    AlertsConfig,
    Config,
    FetchConfig,
    SourceConfig,
    StoriesConfig,
    WarehouseConfig,
    load_config,
    parse_config,
)
from newsflow.schemas.suites import RULES

COMMENTED_KEY = re.compile(r"^# ([a-z_]+) = ")


def _uncommented(text: str) -> str:
    """The file with every ``# key = value`` line (and the ``# [[sources]]`` header) made
    live, as a user who changes everything would."""
    lines = []
    for line in text.splitlines():
        if COMMENTED_KEY.match(line) or line == "# [[sources]]":
            line = line[2:]
        lines.append(line)
    return "\n".join(lines)


def _keys_by_section(text: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    section = ""
    for line in _uncommented(text).splitlines():
        header = re.match(r"^\[+([a-z_]+)\]+$", line)
        if header:
            section = header[1]
        elif m := re.match(r"^([a-z_]+) = ", line):
            found.setdefault(section, set()).add(m[1])
    return found


def test_every_config_key_is_in_the_file():
    found = _keys_by_section(render_init_config())
    models = {
        "warehouse": WarehouseConfig,
        "fetch": FetchConfig,
        "alerts": AlertsConfig,
        "stories": StoriesConfig,
        "sources": SourceConfig,
    }
    for section, model in models.items():
        assert found[section] == set(model.model_fields), section
    assert found["checks"] == set(RULES)  # every threshold either suite reads
    sections = set(Config.model_fields)
    assert set(found) == sections


def test_the_file_loads_as_the_defaults(tmp_path):
    path = tmp_path / "newsflow.toml"
    path.write_text(render_init_config())
    assert load_config(path) == Config()


def test_its_values_are_the_defaults_newsflow_has():
    """Uncommented, every key holds the model's default (the keys that default to unset hold
    their example), so the file cannot show a default newsflow does not have."""
    config = parse_config(_uncommented(render_init_config()))
    expected = defaults()
    for section in ("warehouse", "fetch", "alerts", "stories"):
        values = getattr(config, section).model_dump()
        want = {**expected[section], **UNSET_EXAMPLES.get(section, {})}
        assert values == want, section
    assert config.checks.keys() == expected["checks"].keys()
    for key, value in expected["checks"].items():
        assert str(config.checks[key]) == str(value), key
    assert config.sources == [SourceConfig(**EXAMPLE_SOURCE)]


def test_init_writes_the_file_and_refuses_to_overwrite_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    written = (tmp_path / "newsflow.toml").read_text()
    assert written == render_init_config()
    assert "NEWSFLOW_ALERT_URLS" in written  # where secrets go
    capsys.readouterr()

    (tmp_path / "newsflow.toml").write_text("# mine\n")
    assert main(["init"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["newsflow: error: newsflow.toml exists; use --force to overwrite it"]
    assert (tmp_path / "newsflow.toml").read_text() == "# mine\n"

    assert main(["init", "--force"]) == 0
    assert (tmp_path / "newsflow.toml").read_text() == render_init_config()


@pytest.mark.parametrize("where", ["other.toml", "conf/sub/feeds.toml"])
def test_init_writes_where_it_is_told(tmp_path, where):
    assert main(["init", str(tmp_path / where)]) == 0
    assert load_config(tmp_path / where) == Config()
