"""Great Expectations 1.x plumbing: one in-memory pandas batch, one suite, one run.

GX's object graph is the same for every suite newsflow runs (context → pandas data source →
dataframe asset → whole-dataframe batch definition; suite → validation definition →
checkpoint), so it lives here and ``validate.py`` only deals in "derived frame + suite dict
in, plain results out".

Why the details below:

* GX is imported lazily: importing it takes seconds, and CLI commands that never validate
  (``newsflow search``, ``--help``) should not pay for it.
* A fresh context per call: an ephemeral context keeps every validation result in memory, so
  a long-running ``newsflow serve`` reusing one would grow without bound; creating one costs
  milliseconds next to the validation itself.
* With a Data Docs folder, a file context lives in ``<folder>/gx`` and the site is written to
  ``<folder>`` itself, so ``<folder>/index.html`` is the page to open. Its pages are rendered
  by the views of ``gx_offline.py``, so they open without a network (GX's own load their
  styles and scripts from CDN hosts, and its index builds its lists with that JavaScript).
  Only the newest ``KEEP_VALIDATIONS`` results are kept; GX's index builder then drops the
  pages of older ones, which keeps every run's docs build bounded instead of growing with the
  schedule's age.
* Progress bars are switched off in the context config (GX passes ``disable=`` to tqdm
  explicitly, so ``TQDM_DISABLE`` alone does not silence them), and GX's own loggers are set
  to ERROR unless the application configured them.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import newsflow  # noqa: F401  (sets GX_ANALYTICS_ENABLED=false before GX is imported)

if TYPE_CHECKING:
    import pandas as pd

DATASOURCE_NAME = "newsflow"
BATCH_DEFINITION_NAME = "whole_batch"
SITE_NAME = "newsflow"
KEEP_VALIDATIONS = 200
"""Validation results (and their Data Docs pages) kept in a file context, newest first."""

_GX_LOGGER = "great_expectations"
_GX_SELF_LEVELLED_LOGGERS = ("great_expectations.data_context.types.base",)


@dataclass
class ExpectationOutcome:
    """One expectation's result, as plain data."""

    check: str
    severity: str  # "critical" | "warning" | "info"
    success: bool
    result: dict[str, Any]  # GX's result dict (COMPLETE format)
    meta: dict[str, Any]
    kwargs: dict[str, Any]
    description: str | None = None
    exception: str | None = None  # set when GX raised while evaluating this expectation


@dataclass
class SuiteRun:
    """What one checkpoint run produced."""

    outcomes: list[ExpectationOutcome]
    docs_index: Path | None = None  # the site's index.html (file context only)
    docs_page: Path | None = None  # this validation's page (file context only)


def docs_index_path(data_docs_dir: Path) -> Path:
    """Where the Data Docs index lands for ``data_docs_dir`` (for alerts and the CLI summary)."""
    return Path(data_docs_dir) / "index.html"


def run_suite(
    frame: pd.DataFrame,
    suite_dict: Mapping[str, Any],
    *,
    key_columns: Sequence[str],
    data_docs_dir: Path | None = None,
    run_name: str | None = None,
) -> SuiteRun:
    """Validate ``frame`` against ``suite_dict`` in one GX checkpoint run.

    ``key_columns`` are reported in every ``unexpected_index_list`` entry, so each failing row
    maps back to its record (and Data Docs can show, say, the URL next to the failing value).
    Raises ``ValueError`` when the suite JSON holds an expectation GX cannot build (GX itself
    would only log and drop it, silently weakening the gate).
    """
    with _quiet_warnings():
        import great_expectations as gx
        from great_expectations.core.run_identifier import RunIdentifier

        _quiet_gx_logging()

        context = _context(gx, data_docs_dir)
        suite = _build_suite(gx, suite_dict)
        name = suite.name
        batch_definition = _batch_definition(context, name)
        suite = context.suites.add_or_update(suite)
        validation = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
        )
        actions = []
        if data_docs_dir is not None:
            actions.append(gx.checkpoint.UpdateDataDocsAction(name="update_data_docs"))
        checkpoint = context.checkpoints.add_or_update(
            gx.Checkpoint(
                name=name,
                validation_definitions=[validation],
                actions=actions,
                result_format={
                    "result_format": "COMPLETE",
                    "unexpected_index_column_names": list(key_columns),
                    "return_unexpected_index_query": False,
                },
            )
        )
        if data_docs_dir is not None:
            # Before the run, so the docs action's index build also drops the stale pages.
            _prune_validations(context, keep=KEEP_VALIDATIONS - 1)
        run_id = RunIdentifier(run_name=run_name) if run_name else None
        result = checkpoint.run(batch_parameters={"dataframe": frame}, run_id=run_id)

        outcomes: list[ExpectationOutcome] = []
        docs_page: Path | None = None
        for identifier, suite_result in result.run_results.items():
            outcomes.extend(_outcome(r) for r in suite_result.results)
            if data_docs_dir is not None:
                docs_page = _docs_page(context, identifier)
    return SuiteRun(
        outcomes=outcomes,
        docs_index=docs_index_path(data_docs_dir) if data_docs_dir is not None else None,
        docs_page=docs_page,
    )


def _quiet_gx_logging() -> None:
    """GX's INFO/WARNING chatter (temp dirs, store ids) is noise in a pipeline's log.

    Called after GX is imported because one of its modules sets its own logger to INFO at import.
    """
    logger = logging.getLogger(_GX_LOGGER)
    if logger.level == logging.NOTSET:  # leave an application's explicit choice alone
        logger.setLevel(logging.ERROR)
    for name in _GX_SELF_LEVELLED_LOGGERS:
        child = logging.getLogger(name)
        if child.level == logging.INFO:  # GX's own import-time setting
            child.setLevel(logging.NOTSET)  # inherit from "great_expectations"


@contextmanager
def _quiet_warnings() -> Iterator[None]:
    """GX emits deprecation and pandas-compat warnings the on-call person cannot act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"great_expectations(\.|$)")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        yield


def _context(gx: Any, data_docs_dir: Path | None) -> Any:
    from great_expectations.data_context.types.base import ProgressBarsConfig

    no_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    if data_docs_dir is None:
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = no_bars
        return context

    from newsflow.tasks.quality import gx_offline

    root = Path(data_docs_dir)
    root.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=root)
    site = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        # Relative to <root>/gx, so the project folder can move without a stale absolute path.
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": "../"},
        # Pages that open offline: no CDN assets, the index's lists as HTML (gx_offline.py).
        **gx_offline.site_views(),
    }
    changed = False
    if context.variables.data_docs_sites != {SITE_NAME: site}:
        context.variables.data_docs_sites = {SITE_NAME: site}
        changed = True
    current = context.variables.progress_bars
    if not current or current.get("globally", True) or current.get("metric_calculations", True):
        context.variables.progress_bars = no_bars
        changed = True
    if changed:
        context.variables.save()
    return context


def _build_suite(gx: Any, suite_dict: Mapping[str, Any]) -> Any:
    expectations = list(suite_dict.get("expectations", []))
    suite = gx.ExpectationSuite(
        name=suite_dict["name"],
        expectations=[dict(e) for e in expectations],
        meta=dict(suite_dict.get("meta") or {}),
        notes=suite_dict.get("notes"),
    )
    if len(suite.expectations) != len(expectations):
        built = {e.meta.get("check") for e in suite.expectations if e.meta}
        dropped = [e.get("meta", {}).get("check") or e.get("type") for e in expectations]
        dropped = [name for name in dropped if name not in built]
        raise ValueError(
            f"suite {suite_dict['name']!r}: Great Expectations could not build {dropped}; "
            "check their type and kwargs"
        )
    return suite


def _batch_definition(context: Any, asset_name: str) -> Any:
    try:
        datasource = context.data_sources.get(DATASOURCE_NAME)
    except LookupError:
        datasource = context.data_sources.add_pandas(name=DATASOURCE_NAME)
    try:
        asset = datasource.get_asset(asset_name)
    except LookupError:
        asset = datasource.add_dataframe_asset(name=asset_name)
    try:
        return asset.get_batch_definition(BATCH_DEFINITION_NAME)
    except LookupError:
        return asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION_NAME)


def _outcome(result: Any) -> ExpectationOutcome:
    config = result.expectation_config
    meta = dict(config.meta or {})
    exception_info = result.exception_info or {}
    exception = None
    if exception_info.get("raised_exception"):
        exception = str(exception_info.get("exception_message") or "expectation raised")
    severity = getattr(config.severity, "value", config.severity) or "critical"
    return ExpectationOutcome(
        check=str(meta.get("check") or config.type),
        severity=str(severity),
        success=bool(result.success),
        result=dict(result.result or {}),
        meta=meta,
        kwargs=dict(config.kwargs),
        description=config.description,
        exception=exception,
    )


def _docs_page(context: Any, identifier: Any) -> Path | None:
    for site in context.get_docs_sites_urls(resource_identifier=identifier, site_names=[SITE_NAME]):
        url = site.get("site_url")
        if url and url.startswith("file://"):
            return Path(unquote(urlparse(url).path)).resolve()
    return None


def _prune_validations(context: Any, *, keep: int) -> None:
    store = context.validation_results_store
    keys = sorted(store.list_keys(), key=lambda k: k.run_id.run_time, reverse=True)
    for key in keys[keep:]:
        store.remove_key(key)
