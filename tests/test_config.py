"""The config file: defaults, the lookup order, and errors that name file, key and problem."""

from pathlib import Path

import pytest

from newsflow.schemas.config import ConfigError, load_config, parse_config
from newsflow.schemas.suites import ROW_SUITE, RULES, TABLE_SUITE, check_thresholds, suite_defaults


def test_empty_file_is_all_defaults():
    config = parse_config("")
    assert config.warehouse.path == "newsflow.duckdb"
    assert config.fetch.per_host_delay_s == 1.0
    assert config.sources == []


def test_full_example_parses():
    config = parse_config(
        """
        [warehouse]
        path = "data/news.duckdb"
        [fetch]
        user_agent = "ua/1"
        allow_private = ["127.0.0.1:8080", "10.0.0.0/8"]
        per_host_delay_s = 2.5
        [alerts]
        urls = ["json://127.0.0.1:9/hook"]
        [[sources]]
        name = "example-news"
        feed = "https://example.org/rss.xml"
        language = "en"
        checks = { min_words = 50 }
        """
    )
    assert config.warehouse.path == "data/news.duckdb"
    assert config.fetch.allow_private == ["127.0.0.1:8080", "10.0.0.0/8"]
    assert config.sources[0].checks == {"min_words": 50}
    assert config.alerts.all_urls() == ["json://127.0.0.1:9/hook"]


def test_alert_urls_from_environment(monkeypatch):
    monkeypatch.setenv("NEWSFLOW_ALERT_URLS", "json://a/x  slack://t/o/k")
    assert parse_config("").alerts.all_urls() == ["json://a/x", "slack://t/o/k"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[fetch]\nper_host_delay_s = 'slow'", "fetch.per_host_delay_s"),
        ("[fetch]\nuser_agnet = 'x'", "fetch.user_agnet: unknown key"),
        ("[[sources]]\nname = 'a'", "sources[0] ('a').feed: required key is missing"),
        ("[[sources]]\nname = 'a'\nfeed = 'ftp://x/feed'", "http:// or https://"),
        (
            "[[sources]]\nname='a'\nfeed='http://x/1'\n[[sources]]\nname='a'\nfeed='http://x/2'",
            "used twice",
        ),
        ("[warehouse\npath = 1", "not valid TOML"),
    ],
)
def test_errors_name_file_key_and_expectation(text, expected):
    with pytest.raises(ConfigError) as caught:
        parse_config(text, origin="my.toml")
    assert str(caught.value).startswith("my.toml")
    assert expected in str(caught.value)


def test_lookup_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config(None).sources == []  # nothing anywhere: defaults
    Path("newsflow.toml").write_text("[warehouse]\npath = 'local.duckdb'\n")
    assert load_config(None).warehouse.path == "local.duckdb"
    env_file = tmp_path / "env.toml"
    env_file.write_text("[warehouse]\npath = 'env.duckdb'\n")
    monkeypatch.setenv("NEWSFLOW_CONFIG", str(env_file))
    assert load_config(None).warehouse.path == "env.duckdb"
    explicit = tmp_path / "explicit.toml"
    explicit.write_text("[warehouse]\npath = 'explicit.duckdb'\n")
    assert load_config(explicit).warehouse.path == "explicit.duckdb"


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize("suite", [ROW_SUITE, TABLE_SUITE])
def test_each_suite_declares_a_valid_default_for_exactly_its_thresholds(suite):
    """The rule table and the suites' JSON name the same thresholds, so no key is validated for
    the wrong suite and no default escapes validation."""
    defaults = suite_defaults(suite)
    assert set(defaults) == {key for key, rule in RULES.items() if rule.suite == suite}
    assert set(check_thresholds(defaults)) == set(defaults)


def test_thresholds_are_checked_at_load_and_kept_as_written():
    config = parse_config(
        '[checks]\nearliest_published = "2000-01-01"\nfreshness_hours = 6\n'
        '[[sources]]\nname = "a"\nfeed = "https://a.example/rss"\nchecks = { min_rows = 2 }\n'
    )
    assert config.checks == {"earliest_published": "2000-01-01", "freshness_hours": 6}
    with pytest.raises(ConfigError, match=r"<config>: checks: threshold 'earliest_published'"):
        parse_config('[checks]\nearliest_published = "soon"\n')
    with pytest.raises(ConfigError, match=r"sources\[0\] \('a'\)\.checks: unknown threshold"):
        parse_config('[[sources]]\nname = "a"\nfeed = "https://a.example/rss"\nchecks = { x = 1 }')
