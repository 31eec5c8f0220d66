"""Data Docs that open offline: GX's own page views, with every asset they would load from the
internet taken out and the one part built by JavaScript (bootstrap-table) rendered as HTML.

Why: GX 1.x writes pages whose stylesheets, icon font, jQuery, Bootstrap and bootstrap-table
come from eight CDN hosts, and the index page's lists (validations, expectation suites) are
filled in by that JavaScript. Opened on an offline machine, or from a mail attachment behind
a proxy, the index is blank. The on-call person reading Data Docs after an alert is exactly
who may not have the network.

How: GX lets a site name the view class of its index and of each section
(``site_index_builder.view``, ``site_section_builders.<section>.view``). The views here are
GX's, with one change: their Jinja environment loads every template through
:func:`offline_template`, which

* drops ``<link>`` and ``<script src>`` tags that point at an ``http(s)`` host, and CSS
  ``url(https://…)`` backgrounds (GX's templates and stylesheet, whatever their version);
* serves newsflow's own versions of a few templates (:data:`REPLACED`): the script imports
  become a small inline stylesheet (layout, tables, the status icons as text glyphs), the
  bootstrap-table block becomes a plain ``<table>`` with a link per row, newest run first,
  and the navbar logo comes from the site's own ``static/images`` instead of a web host.

GX copies ``static/`` (logo, favicon, fonts) into the site itself, so those links keep
working. GX is imported at this module's top: :mod:`.gx_context` imports it only when it
builds a file context, after GX is loaded anyway.
"""

from __future__ import annotations

import re
from typing import Any

from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from jinja2 import FunctionLoader

_REMOTE_LINK = re.compile(r"<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//[^>]*>\s*", re.I)
_REMOTE_SCRIPT = re.compile(
    r"<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>\s*</script>\s*", re.I
)
_REMOTE_CSS_URL = re.compile(r"url\(\s*[\"']?(?:https?:)?//[^)]*\)", re.I)
# top_navbar.j2 points the logo at GX's web host after working out the site's relative
# static folder; without that line the local folder stands (the index page sets none).
_REMOTE_IMAGES_DIR = re.compile(r"\{%-?\s*set\s+static_images_dir\s*=\s*[\"']https?://[^%]*%\}")
_LOCAL_IMAGES_DIR = (
    '{% if static_images_dir is not defined %}{% set static_images_dir = "static/images/" %}'
    "{% endif %}"
)

OFFLINE_STYLE = """<style>
/* newsflow: Data Docs without a CDN. Enough layout to read them; icons as text glyphs. */
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
  color: #212529; background: #fff; }
a { color: #0b62a4; }
.navbar { display: flex; align-items: center; padding: 0 1rem; border-bottom: 1px solid #ddd; }
.breadcrumb { display: inline-flex; list-style: none; gap: .5rem; margin: 0 0 0 1rem; }
.container-fluid { padding: 1rem 2rem; }
.row { display: flex; flex-wrap: wrap; gap: 1rem; }
.col-md-2 { flex: 0 0 15%; min-width: 12rem; }
.col-md-10, .col-lg-10 { flex: 1 1 70%; min-width: 20rem; }
.card { border: 1px solid #ddd; border-radius: 4px; margin-bottom: 1rem; padding: .5rem 1rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; text-align: left; vertical-align: top; }
thead th { background: #f3f5f7; }
.cooltip .top, .d-none, .hide { display: none; }
.fas, .fa, .far { font-style: normal; }
.fa-check-circle::before { content: "\\2714"; color: #1e7e34; }
.fa-times::before, .fa-times-circle::before { content: "\\2716"; color: #c82333; }
.fa-exclamation-triangle::before { content: "\\26A0"; color: #b8860b; }
.fa-question-circle::before { content: "?"; }
.fa-info-circle::before { content: "\\2139"; }
.text-success { color: #1e7e34; } .text-danger { color: #c82333; }
</style>
"""

STATIC_TABLE = """{% include 'content_block_header.j2' %}
{% set table_id = content_block_id ~ "-body-table" %}
{% set table_columns = content_block["table_columns"] %}
{% set rows = content_block["table_data"] | render_bootstrap_table_data %}
{% if rows and "_run_time_sort" in rows[0] %}
  {% set rows = rows | sort(attribute="_run_time_sort", reverse=true) %}
{% endif %}
<table id="{{ table_id }}" class="table table-sm newsflow-static-table">
  <thead><tr>
    {% for column in table_columns %}<th>{{ column["title"] }}</th>{% endfor %}
  </tr></thead>
  <tbody>
  {% for row in rows %}
    <tr class="newsflow-row">
    {% for column in table_columns %}
      <td>{% if row.get("_table_row_link_path") -%}
        <a href="{{ row["_table_row_link_path"] }}">{{ row.get(column["field"], "") | safe }}</a>
      {%- else -%}{{ row.get(column["field"], "") | safe }}{%- endif %}</td>
    {% endfor %}
    </tr>
  {% endfor %}
  </tbody>
</table>
"""

#: Templates newsflow replaces outright (GX's versions only make sense with their CDN scripts).
REPLACED = {
    "js_script_imports.j2": OFFLINE_STYLE,
    "bootstrap_table.j2": STATIC_TABLE,
    "bootstrap_table_js_functions.j2": "",
    "cloud-footer.j2": "",  # a newsletter sign-up form
}


def offline_source(source: str) -> str:
    """``source`` (a GX template or stylesheet) with every reference to a web host removed."""
    source = _REMOTE_IMAGES_DIR.sub(_LOCAL_IMAGES_DIR, source)
    source = _REMOTE_LINK.sub("", source)
    source = _REMOTE_SCRIPT.sub("", source)
    return _REMOTE_CSS_URL.sub("none", source)


def offline_template(original: Any, environment: Any, name: str) -> Any:
    """What ``name`` loads as offline: newsflow's version, or GX's with web assets removed."""
    if name in REPLACED:
        return REPLACED[name]
    source, filename, uptodate = original.get_source(environment, name)
    return offline_source(source), filename, uptodate


def _go_offline(view: Any) -> None:
    original = view.env.loader
    view.env.loader = FunctionLoader(lambda name: offline_template(original, view.env, name))


class OfflinePageView(DefaultJinjaPageView):
    """GX's validation and expectation-suite page view, rendered without web assets."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _go_offline(self)


class OfflineIndexPageView(DefaultJinjaIndexPageView):
    """GX's index page view, its lists rendered as HTML tables instead of by JavaScript."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _go_offline(self)


def site_views() -> dict[str, Any]:
    """The parts of a Data Docs site config that select the offline views."""
    page = {"module_name": __name__, "class_name": OfflinePageView.__name__}
    index = {"module_name": __name__, "class_name": OfflineIndexPageView.__name__}
    return {
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "view": index},
        "site_section_builders": {
            "expectations": {"view": page},
            "validations": {"view": page},
            "profiling": {"view": page},
        },
    }
