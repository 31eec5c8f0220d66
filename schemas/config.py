"""The configuration file (TOML), typed.

Every key has a default so that an empty file is a valid config. Secrets never come from the
file: alert URLs carrying tokens are read from ``NEWSFLOW_ALERT_URLS`` too. A bad file raises
:class:`ConfigError`, whose message names the file, the key and what was expected, so the CLI
can print it without a traceback.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from newsflow.schemas.allow_list import parse_allow_list
from newsflow.schemas.records import RetrySchedule
from newsflow.schemas.suites import check_thresholds

DEFAULT_USER_AGENT = "newsflow/0.1 (+https://example.org/newsflow)"


class ConfigError(ValueError):
    """A configuration problem a user can fix; the message is the whole story."""


class _Strict(BaseModel):
    """Unknown keys refused; no infinite or NaN numbers (TOML has ``inf`` and ``nan``, and an
    infinite delay or timeout would hang a run); no ``true`` where a number belongs or ``1``
    where a switch does (pydantic would read ``max_workers = true`` as 1)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_number(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        kind = field.annotation if field else None
        if kind in (int, float) and isinstance(value, bool):
            raise ValueError("must be a number, not true or false")
        if kind is bool and not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value


#: A DuckDB memory size as the config takes it: a number and a unit ("2GB", "512MiB").
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)
_UNITS = {"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12}
_UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
#: Below this DuckDB cannot hold a batch's working set at all.
MIN_MEMORY_BYTES = 64 * 2**20


#: libpq's password key in a key=value connection string.
_PASSWORD_KEY = re.compile(r"(?:^|\s)password\s*=", re.IGNORECASE)


def catalog_has_password(catalog: str) -> bool:
    """Does a PostgreSQL connection string carry a password (``password=…`` as a key or a URI
    query parameter, or ``postgresql://user:secret@host/``)?"""
    if catalog.startswith(("postgresql://", "postgres://")):
        split = urlsplit(catalog)
        query = split.query.lower()
        return split.password is not None or any(
            part.split("=", 1)[0].strip() == "password" for part in query.split("&")
        )
    return bool(_PASSWORD_KEY.search(catalog))


class WarehouseConfig(_Strict):
    path: str = Field(default="newsflow.duckdb", min_length=1)
    # how long a run waits for another run's write lock
    lock_timeout_s: float = Field(default=600.0, ge=0)
    # DuckDB's memory limit for the run's writes ("2GB"); None: min(25 % of RAM, 2 GB).
    # What does not fit spills to <working file>.tmp/ beside the working file.
    memory_limit: str | None = None
    # "duckdb": the DuckDB file above (the default). "ducklake": runs still write that file,
    # and each publish also merges the run's changes into a DuckLake (docs/ducklake.md).
    kind: Literal["duckdb", "ducklake"] = "duckdb"
    # the lake's PostgreSQL catalog, a libpq string ("host=db.internal dbname=news") or URI,
    # without a password: libpq reads PGPASSWORD / ~/.pgpass (and PGUSER) from the environment
    catalog: str | None = None
    # where the lake's Parquet files go: a local folder or s3://bucket/prefix/ (endpoint and
    # keys from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION)
    data_path: str | None = None

    @field_validator("catalog")
    @classmethod
    def _no_password(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise ValueError("must not be empty")
        if catalog_has_password(value):
            raise ValueError(
                "must not contain a password: set PGPASSWORD (or use ~/.pgpass) in the "
                "environment of the runs instead"
            )
        return value

    @field_validator("data_path")
    @classmethod
    def _data_path(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise ValueError("must not be empty")
        scheme = urlsplit(value).scheme
        if "://" in value and scheme != "s3":
            raise ValueError("must be a local folder or an s3://bucket/prefix/ path")
        if scheme == "s3" and not urlsplit(value).netloc:
            raise ValueError("must name a bucket: s3://bucket/prefix/")
        return value

    @model_validator(mode="after")
    def _lake_complete(self) -> WarehouseConfig:
        if self.kind == "ducklake":
            missing = [k for k in ("catalog", "data_path") if not getattr(self, k)]
            if missing:
                raise ValueError(f'kind = "ducklake" needs {" and ".join(missing)}')
        return self

    @field_validator("memory_limit")
    @classmethod
    def _memory_size(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = _SIZE.match(value)
        if not match:
            raise ValueError("must be a size with a unit, like '2GB' or '512MiB'")
        size = float(match[1]) * _UNITS[match[2].lower()]
        if size < MIN_MEMORY_BYTES:
            raise ValueError("must be at least 64MiB")
        return f"{match[1]}{match[2]}"


class FetchConfig(_Strict):
    user_agent: str = Field(default=DEFAULT_USER_AGENT, min_length=1)
    allow_private: list[str] = Field(default_factory=list)  # "host:port" or CIDR entries
    per_host_delay_s: float = Field(default=1.0, ge=0)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=15.0, gt=0)
    page_deadline_s: float = Field(default=45.0, gt=0)
    feed_deadline_s: float = Field(default=30.0, gt=0)
    max_page_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    max_feed_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    max_redirects: int = Field(default=5, ge=0)
    max_workers: int = Field(default=8, ge=1)  # concurrent hosts
    respect_robots: bool = True
    max_entries_per_feed: int = Field(default=200, ge=1)
    batch_size: int = Field(default=100, ge=1)  # pages per Prefect task run
    # Retries and the feed lifecycle (docs/fetching.md, tasks/fetch/retry.py and feed_policy.py):
    retries: int = Field(default=2, ge=0, le=5)  # extra tries for resets, timeouts and 5xx only
    retry_backoff_s: float = Field(default=0.5, ge=0)  # base of the exponential backoff + jitter
    pause_after_errors: int = Field(default=5, ge=1)  # failed polls in a row that pause a source
    redirect_adopt_after: int = Field(default=3, ge=1)  # 301/308 polls before the URL moves
    max_retry_after_s: float = Field(default=86400.0, gt=0)  # cap on a feed's Retry-After
    throttle_default_s: float = Field(default=3600.0, gt=0)  # wait after a 429 without Retry-After
    # Re-checking recent articles for edits with a conditional GET (tasks/fetch/refetch.py):
    refetch_window_h: float = Field(default=24.0, ge=0)  # pages first seen this recently; 0 = off
    refetch_interval_min: float = Field(default=120.0, ge=0)  # each page at most this often
    refetch_max_pages: int = Field(default=500, ge=0)  # per run, least recently checked first
    # A page that failed for a reason that may pass (timeout, 5xx, 429) is asked for again on
    # later runs: first after this many minutes, the gap doubling up to the cap, at most
    # page_max_attempts requests in all (seen_entries.next_attempt_at says when).
    page_retry_after_min: float = Field(default=15.0, gt=0)
    page_retry_max_h: float = Field(default=6.0, gt=0)
    page_max_attempts: int = Field(default=6, ge=1, le=50)
    # When each source is polled (tasks/fetch/feed_policy.py): "adaptive" follows the feed's
    # rhythm (entries per week over the trailing window, clamped to the bounds, never sooner
    # than its TTL / Cache-Control max-age / Expires or Retry-After); "fixed" polls every
    # source at every run.
    # What shares pacing and a Retry-After (tasks/fetch/domains.py): "domain", every source and
    # host of one registrable domain; "host", each host's pages and each source's feed apart.
    share_politeness: Literal["domain", "host"] = "domain"
    polling: Literal["adaptive", "fixed"] = "adaptive"
    poll_min_interval_min: float = Field(default=5.0, gt=0)
    poll_max_interval_h: float = Field(default=24.0, gt=0)
    poll_window_days: float = Field(default=7.0, gt=0, le=90)

    @model_validator(mode="after")
    def _poll_bounds(self) -> FetchConfig:
        if self.poll_min_interval_min > self.poll_max_interval_h * 60:
            raise ValueError("poll_min_interval_min must not exceed poll_max_interval_h")
        return self

    def retry_schedule(self) -> RetrySchedule:
        return RetrySchedule(
            first_s=self.page_retry_after_min * 60,
            max_s=self.page_retry_max_h * 3600,
            max_attempts=self.page_max_attempts,
        )

    @field_validator("allow_private")
    @classmethod
    def _allow_entries(cls, entries: list[str]) -> list[str]:
        """The address guard's own parser (schemas/allow_list.py), so an entry it would refuse
        mid-run is a config error at load instead."""
        parse_allow_list(entries)  # AllowEntryError is a ValueError naming the entry
        return entries


class StoriesConfig(_Strict):
    # Story clustering (tasks/stories/): two articles can be the same story only when their
    # first_seen_at lie at most this many days apart, so a run reclusters only what it changed
    # plus this window of history, never the whole warehouse.
    window_days: float = Field(default=14.0, gt=0, le=366)


class AlertsConfig(_Strict):
    urls: list[str] = Field(default_factory=list)

    @field_validator("urls")
    @classmethod
    def _apprise_urls(cls, urls: list[str]) -> list[str]:
        """Each an apprise URL (``scheme://…``): anything else would only fail at the first
        alert, when it matters."""
        for url in urls:
            if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://\S+$", url):
                raise ValueError(f"{url!r} is not an apprise URL like 'json://host/path'")
        return urls

    data_docs_dir: str | None = None  # default: <warehouse stem>-data-docs/ beside the warehouse
    delivery_attempts: int = Field(default=3, ge=1, le=10)  # per URL and message, in one run
    retry_delay_s: float = Field(default=1.0, ge=0, le=60)  # doubles after each failed attempt

    def all_urls(self) -> list[str]:
        """Configured URLs plus those from NEWSFLOW_ALERT_URLS (space-separated secrets)."""
        extra = os.environ.get("NEWSFLOW_ALERT_URLS", "").split()
        return [*self.urls, *extra]


#: A language tag as pages declare it ("en", "pt-BR"); the row check compares the primary
#: subtag, so "english" would reject every record of the source.
_LANGUAGE = re.compile(r"^[a-zA-Z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")


class SourceConfig(_Strict):
    name: str = Field(min_length=1)
    feed: str
    language: str | None = None
    enabled: bool = True
    checks: dict[str, Any] = Field(default_factory=dict)  # per-source threshold overrides

    @field_validator("checks")
    @classmethod
    def _known_thresholds(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _check_thresholds(value)

    @field_validator("feed")
    @classmethod
    def _http_only(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or not urlsplit(value).hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @field_validator("language")
    @classmethod
    def _language_tag(cls, value: str | None) -> str | None:
        if value is not None and not _LANGUAGE.match(value):
            raise ValueError("must be a language code like 'en' or 'pt-BR'")
        return value


class Config(_Strict):
    warehouse: WarehouseConfig = Field(default_factory=WarehouseConfig)
    fetch: FetchConfig = Field(default_factory=FetchConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    stories: StoriesConfig = Field(default_factory=StoriesConfig)
    checks: dict[str, Any] = Field(default_factory=dict)  # global threshold overrides
    sources: list[SourceConfig] = Field(default_factory=list)

    @field_validator("checks")
    @classmethod
    def _known_thresholds(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _check_thresholds(value)

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: list[SourceConfig]) -> list[SourceConfig]:
        seen: set[str] = set()
        for source in sources:
            if source.name in seen:
                raise ValueError(f"source name {source.name!r} is used twice")
            seen.add(source.name)
        return sources


def _check_thresholds(values: dict[str, Any]) -> dict[str, Any]:
    """Thresholds of both data-quality suites, checked at load time so a typo is exit 2; kept as
    written (each suite coerces its own when it runs)."""
    try:
        check_thresholds(values, where="checks")
    except ValueError as exc:  # pydantic's message names the key already
        raise ValueError(str(exc).removeprefix("checks: ")) from None
    return values


def find_config_path(explicit: str | os.PathLike[str] | None) -> Path | None:
    """``--config``, then ``NEWSFLOW_CONFIG``, then ``./newsflow.toml``; None if none exists."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("NEWSFLOW_CONFIG")
    if env:
        return Path(env)
    local = Path("newsflow.toml")
    return local if local.exists() else None


def parse_config(text: str, origin: str = "<config>") -> Config:
    """Parse TOML text into a Config, turning every problem into one readable ConfigError."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: not valid TOML: {exc}") from None
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = _dotted(err["loc"], data)
            problems.append(f"{origin}: {key}: {_explain(err)}")
        raise ConfigError("\n".join(problems)) from None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load the config a user pointed at; defaults when nothing is configured."""
    found = find_config_path(path)
    if found is None:
        return Config()
    try:
        text = found.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{found}: cannot read config file: {exc.strerror or exc}") from None
    return parse_config(text, origin=str(found))


def _dotted(loc: tuple[Any, ...], data: dict[str, Any]) -> str:
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int):
            name = None
            if isinstance(node, list) and item < len(node) and isinstance(node[item], dict):
                name = node[item].get("name")
            parts[-1] = f"{parts[-1]}[{item}]" + (f" ({name!r})" if name else "")
            node = node[item] if isinstance(node, list) and item < len(node) else None
        else:
            parts.append(str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


def _explain(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see the README's config reference)"
    if kind == "missing":
        return "required key is missing"
    msg = str(err.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ")
    if tuple(err.get("loc", ()))[-1:] == ("catalog",):
        return msg  # the value may hold a password: never echo it
    return f"{msg} (got {err.get('input')!r})"
