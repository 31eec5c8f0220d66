"""The config file: defaults, the lookup order, and errors that name file, key and problem."""

import os
from pathlib import Path

import pytest

from newsflow.schemas.config import ConfigError, load_config, parse_config
from newsflow.schemas.suites import ROW_SUITE, RULES, TABLE_SUITE, check_thresholds, suite_defaults
from newsflow.tasks.fetch.addresses import parse_allow_private


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


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ('[fetch]\nallow_private = ["not-a-cidr/99"]', "fetch.allow_private", "nor a CIDR"),
        ('[fetch]\nallow_private = ["localhost:0"]', "fetch.allow_private", "nor a CIDR"),
        ('[fetch]\nallow_private = ["host-without-port"]', "fetch.allow_private", "nor a CIDR"),
        ("[fetch]\nper_host_delay_s = -1", "fetch.per_host_delay_s", "greater than or equal to 0"),
        ("[fetch]\nmax_workers = 0", "fetch.max_workers", "greater than or equal to 1"),
        ("[fetch]\nbatch_size = 0", "fetch.batch_size", "greater than or equal to 1"),
        ("[fetch]\nconnect_timeout_s = 0", "fetch.connect_timeout_s", "greater than 0"),
        ("[fetch]\nread_timeout_s = -2", "fetch.read_timeout_s", "greater than 0"),
        ("[fetch]\nmax_page_bytes = 0", "fetch.max_page_bytes", "greater than or equal to 1"),
        ("[fetch]\nmax_redirects = -1", "fetch.max_redirects", "greater than or equal to 0"),
        ("[fetch]\nmax_entries_per_feed = 0", "fetch.max_entries_per_feed", "greater than or"),
        ("[warehouse]\nlock_timeout_s = -5", "warehouse.lock_timeout_s", "greater than or equal"),
        ('[warehouse]\nmemory_limit = "lots"', "warehouse.memory_limit", "a size with a unit"),
        ('[warehouse]\nmemory_limit = "1MB"', "warehouse.memory_limit", "at least 64MiB"),
        ("[warehouse]\nmemory_limit = 2048", "warehouse.memory_limit", "string"),
        ("[stories]\nwindow_days = 0", "stories.window_days", "greater than 0"),
        ("[stories]\nwindow_days = 400", "stories.window_days", "less than or equal to 366"),
        ('[stories]\nwindow_days = "long"', "stories.window_days", "valid number"),
        ("[stories]\nwindw_days = 3", "stories.windw_days", "unknown key"),
    ],
)
def test_every_value_is_range_checked_at_load(text, key, problem):
    with pytest.raises(ConfigError) as caught:
        parse_config(text, origin="news.toml")
    message = str(caught.value)
    assert message.startswith(f"news.toml: {key}: ") and problem in message
    assert "\n" not in message  # one line


def test_story_window_defaults_to_two_weeks_and_survives_a_rendered_config(tmp_path):
    from newsflow.schemas.config_toml import write_config

    assert parse_config("").stories.window_days == 14.0
    config = parse_config("[stories]\nwindow_days = 3.5")
    assert config.stories.window_days == 3.5
    written = write_config(config, tmp_path / "newsflow.toml")
    assert "[stories]" in written.read_text() and load_config(written) == config


def test_allow_private_takes_every_form_the_address_guard_does():
    entries = ["127.0.0.1:8080", "[::1]:8080", "localhost:8080", "10.0.0.0/8", "::1", "1.2.3.4"]
    assert parse_config(f"[fetch]\nallow_private = {entries!r}").fetch.allow_private == entries


@pytest.mark.parametrize(
    "entry",
    [
        "fe80::zz:80",  # neither an address nor a bracketed IPv6 host with a port
        "a:b:80",  # an unbracketed host with colons and a port
        "::1:8080x",
        "[::1]:",
        "127.0.0.1:99999",
        "10.0.0.0/33",
        "",
        "localhost",
    ],
)
def test_the_config_refuses_what_the_address_guard_would_refuse(entry):
    """One parser for both: an entry the config lets through must not stop the first HTTP
    client mid-run (exit 3); it is a config error at load (exit 2)."""
    with pytest.raises(ValueError):
        parse_allow_private([entry])
    with pytest.raises(ConfigError, match=r"news\.toml: fetch\.allow_private: .*nor a CIDR"):
        parse_config(f"[fetch]\nallow_private = [{entry!r}]", origin="news.toml")


def test_memory_limit_reaches_the_writer_and_spills_beside_the_working_file(tmp_path):
    from newsflow.tasks.warehouse.connection import default_memory_limit
    from newsflow.tasks.warehouse.warehouse import Warehouse

    config = parse_config('[warehouse]\nmemory_limit = "300MiB"')
    with Warehouse.open(
        tmp_path / "news.duckdb", lock_timeout_s=5, memory_limit=config.warehouse.memory_limit
    ) as warehouse:
        assert warehouse.scalar("SELECT current_setting('memory_limit')") == "300.0 MiB"
        spill = warehouse.scalar("SELECT current_setting('temp_directory')")
        assert spill == f"{warehouse.working}.tmp"
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    expected_mb = int(min(ram / 4, 2 * 1024**3)) // 1024**2
    assert default_memory_limit() == f"{expected_mb}MB"
    assert parse_config("").warehouse.memory_limit is None  # the default: decided per machine


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("[fetch]\nper_host_delay_s = inf", "fetch.per_host_delay_s", "finite number"),
        ("[warehouse]\nlock_timeout_s = inf", "warehouse.lock_timeout_s", "finite number"),
        ("[fetch]\nread_timeout_s = nan", "fetch.read_timeout_s", "finite number"),
        ("[fetch]\nmax_workers = true", "fetch.max_workers", "not true or false"),
        ("[fetch]\nper_host_delay_s = false", "fetch.per_host_delay_s", "not true or false"),
        ("[fetch]\nrespect_robots = 1", "fetch.respect_robots", "true or false"),
        ('[warehouse]\npath = ""', "warehouse.path", "at least 1 character"),
        ('[[sources]]\nname = ""\nfeed = "http://x.example/rss"', "sources[0].name", "at least 1"),
        ('[[sources]]\nname = "a"\nfeed = "https://"', "sources[0] ('a').feed", "with a host"),
        (
            '[[sources]]\nname = "a"\nfeed = "https://a.example/rss"\nlanguage = "english"',
            "sources[0] ('a').language",
            "language code",
        ),
        ('[alerts]\nurls = ["hooks.example/x"]', "alerts.urls", "not an apprise URL"),
        ("[alerts]\ndelivery_attempts = 0", "alerts.delivery_attempts", "greater than or equal"),
        ("[alerts]\nretry_delay_s = -1", "alerts.retry_delay_s", "greater than or equal to 0"),
        ("[fetch]\nretries = 9", "fetch.retries", "less than or equal to 5"),
        ("[fetch]\npage_max_attempts = 0", "fetch.page_max_attempts", "greater than or equal"),
        ("[fetch]\nrefetch_max_pages = -1", "fetch.refetch_max_pages", "greater than or equal"),
    ],
)
def test_values_no_range_check_used_to_catch(text, key, problem):
    with pytest.raises(ConfigError) as caught:
        parse_config(text, origin="news.toml")
    message = str(caught.value)
    assert message.startswith(f"news.toml: {key}: ") and problem in message, message
    assert "\n" not in message


def _numeric_keys() -> list[tuple[str, str, type]]:
    """Every number in the config, as (section, key, type): read from the models themselves, so
    that a key added later without a range is caught here too."""
    from newsflow.schemas.config import AlertsConfig, FetchConfig, StoriesConfig, WarehouseConfig

    sections = {
        "warehouse": WarehouseConfig,
        "fetch": FetchConfig,
        "alerts": AlertsConfig,
        "stories": StoriesConfig,
    }
    return [
        (section, name, field.annotation)
        for section, model in sections.items()
        for name, field in model.model_fields.items()
        if field.annotation in (int, float)
    ]


@pytest.mark.parametrize(("section", "key", "kind"), _numeric_keys())
def test_every_number_in_the_config_is_range_checked(section, key, kind):
    """No number of newsflow's may be negative or infinite: sizes, counts, delays, timeouts."""
    bad = ["-1", "true"] + (["inf", "-inf", "nan"] if kind is float else ["1.5"])
    for value in bad:
        with pytest.raises(ConfigError) as caught:
            parse_config(f"[{section}]\n{key} = {value}", origin="news.toml")
        message = str(caught.value)
        assert message.startswith(f"news.toml: {section}.{key}: "), (value, message)
        assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[fetch]\nallow_private = ["not-a-cidr/99"]', "fetch.allow_private"),
        ("[fetch]\nbatch_size = 0", "fetch.batch_size"),
        ("[fetch]\nmax_workers = 0", "fetch.max_workers"),
        ("[fetch]\nper_host_delay_s = -1", "fetch.per_host_delay_s"),
        ("[warehouse]\nlock_timeout_s = -5", "warehouse.lock_timeout_s"),
        ('[warehouse]\nmemory_limit = "2 gigs"', "warehouse.memory_limit"),
        ("[fetch]\nconnect_timeout_s = inf", "fetch.connect_timeout_s"),
    ],
)
def test_a_bad_value_stops_newsflow_run_with_exit_2_and_one_line(tmp_path, text, key):
    """The CLI end of it: exit 2 and one line naming the file and the key, before Prefect
    starts (so before anything is written)."""
    import subprocess
    import sys

    config = tmp_path / "news.toml"
    config.write_text(f'{text}\n[[sources]]\nname = "a"\nfeed = "https://a.example/rss"\n')
    done = subprocess.run(
        [sys.executable, "-m", "newsflow.cli.main", "run", "--config", str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith(f"newsflow: error: {config}: {key}: "), lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["news.toml"]  # nothing written
