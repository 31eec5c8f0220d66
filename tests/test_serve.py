"""The wiring of ``newsflow serve`` and of ``deploy/prefect.yaml``, without serving: which
deployments are built, with which schedules, limits and parameters, and that both agree."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from prefect.cli.deploy._models import PrefectYamlModel
from prefect.flows import load_flow_from_entrypoint
from prefect.settings import PREFECT_API_URL, temporary_settings

from newsflow.cli import serve
from newsflow.cli.main import main
from newsflow.demo.config import DEMO_CONFIG_NAME, demo_config
from newsflow.schemas.config import Config, ConfigError, SourceConfig, load_config, parse_config
from newsflow.schemas.config_toml import render_config, write_config

REPO = Path(__file__).resolve().parents[1]
PREFECT_YAML = REPO / "deploy" / "prefect.yaml"


def _by_name(deployments):
    return {d.name: d for d in deployments}


def _crons(deployment):
    return [s.schedule.cron for s in deployment.schedules]


def test_default_deployments_schedules_and_limits():
    deployments = _by_name(serve.build_deployments(config_path="/etc/newsflow.toml"))
    assert set(deployments) == {"ingest", "checks", "reprocess"}
    assert _crons(deployments["ingest"]) == ["*/15 * * * *"]
    assert _crons(deployments["checks"]) == ["0 * * * *"]
    assert deployments["reprocess"].schedules == []  # manual only
    for name, deployment in deployments.items():
        assert deployment.concurrency_limit == 1, name
        assert deployment.concurrency_options.collision_strategy.value == "ENQUEUE", name
        assert deployment.parameters == {"config_path": "/etc/newsflow.toml"}, name
        assert deployment.entrypoint == f"newsflow.flows.{name}.{name}"
        assert deployment.flow_name == f"newsflow-{name}"
        assert deployment.work_pool_name is None  # served: no work pool


def test_interval_or_cron_replace_the_ingest_schedule():
    by_interval = _by_name(
        serve.build_deployments(config_path="c.toml", interval_s=60, db="/d.duckdb")
    )
    (schedule,) = by_interval["ingest"].schedules
    assert schedule.schedule.interval == timedelta(seconds=60)
    assert by_interval["ingest"].parameters == {"config_path": "c.toml", "db": "/d.duckdb"}
    assert _crons(by_interval["checks"]) == ["0 * * * *"]  # the others keep theirs

    by_cron = _by_name(serve.build_deployments(config_path="c.toml", cron="*/5 * * * *"))
    assert _crons(by_cron["ingest"]) == ["*/5 * * * *"]

    with pytest.raises(ConfigError, match="not a valid cron"):
        serve.build_deployments(config_path="c.toml", cron="every five minutes")
    with pytest.raises(ValueError):
        serve.build_deployments(config_path="c.toml", cron="* * * * *", interval_s=5)


def test_a_flow_that_does_not_import_is_an_error_not_a_skip(monkeypatch, tmp_path):
    (tmp_path / "newsflow_broken_flow.py").write_text("import no_such_dependency_newsflow\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    broken = serve.FlowRef("broken", "newsflow_broken_flow", "broken", None, "")
    monkeypatch.setattr(serve, "FLOWS", (*serve.FLOWS[:1], broken))
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_newsflow"):
        serve.build_deployments(config_path="c.toml")


def test_prefect_yaml_matches_serve():
    raw = yaml.safe_load(PREFECT_YAML.read_text())
    model = PrefectYamlModel.model_validate(raw)  # the schema `prefect deploy` reads
    assert model.pull == [{"newsflow.ops.deploy_steps.enter_newsflow_home": {}}]
    deployments = {d.name: d for d in model.deployments}
    assert set(deployments) == {ref.deployment for ref in serve.FLOWS}
    for ref in serve.FLOWS:
        spec = deployments[ref.deployment]
        assert spec.entrypoint == f"{ref.module}:{ref.attr}"
        crons = [s.cron for s in spec.schedules or []]
        assert crons == ([ref.cron] if ref.cron else []), ref.deployment
        assert (spec.concurrency_limit.limit, spec.concurrency_limit.collision_strategy) == (
            1,
            "ENQUEUE",
        )
        assert spec.parameters == {"config_path": "newsflow.toml"}
        assert (spec.work_pool.name, spec.work_pool.work_queue_name) == ("newsflow", "default")
        flow = load_flow_from_entrypoint(spec.entrypoint, use_placeholder_flow=False)
        assert flow.name == f"newsflow-{ref.deployment}"
        assert "config_path" in flow.parameters.properties


def test_serve_command_wires_the_config_and_schedule(
    prefect_harness, monkeypatch, tmp_path, demo_site
):
    served = []
    monkeypatch.setattr(serve, "serve_deployments", lambda ds, db=None: served.append((ds, db)))
    config_file = write_config(
        demo_config(demo_site.base_url, db="news.duckdb"), tmp_path / "n.toml"
    )

    assert main(["serve", "--config", str(config_file), "--interval-s", "45"]) == 0
    ((deployments, db),) = served
    ingest = _by_name(deployments)["ingest"]
    assert ingest.schedules[0].schedule.interval == timedelta(seconds=45)
    assert ingest.parameters == {"config_path": str(config_file.resolve())}
    assert db == str(Path("news.duckdb").resolve())  # warehouse.path, from the serve directory


def test_serve_demo_writes_the_config_its_runs_read(prefect_harness, monkeypatch, tmp_path):
    served = []
    monkeypatch.setattr(serve, "serve_deployments", lambda ds, db=None: served.append((ds, db)))
    db = tmp_path / "demo.duckdb"

    assert main(["serve", "--demo", "--port", "0", "--db", str(db)]) == 0
    ((deployments, served_db),) = served
    ingest = _by_name(deployments)["ingest"]
    assert ingest.schedules[0].schedule.interval == timedelta(seconds=serve.DEMO_INTERVAL_S)
    config_file = Path(ingest.parameters["config_path"])
    assert config_file == tmp_path / DEMO_CONFIG_NAME
    config = load_config(config_file)
    assert [s.name for s in config.sources] == [
        "harbor-gazette",
        "valley-courier",
        "north-star-wire",
    ]
    assert config.warehouse.path == str(db) == served_db
    assert config.fetch.allow_private == [config.sources[0].feed.split("/")[2]]


def test_serve_refuses_what_cannot_run(prefect_harness, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(serve, "serve_deployments", lambda ds, db=None: pytest.fail("served"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NEWSFLOW_CONFIG", raising=False)
    assert main(["serve"]) == 2
    assert "no config file" in capsys.readouterr().err

    empty = tmp_path / "empty.toml"
    empty.write_text("[warehouse]\npath = 'x.duckdb'\n")
    assert main(["serve", "--config", str(empty)]) == 2
    assert "no [[sources]]" in capsys.readouterr().err

    assert main(["serve", "--demo", "--cron", "not a cron"]) == 2
    assert "not a valid cron" in capsys.readouterr().err

    with pytest.raises(SystemExit):
        main(["serve", "--demo", "--interval-s", "0"])

    config_file = write_config(
        demo_config("http://127.0.0.1:9", db="n.duckdb"), tmp_path / "n.toml"
    )
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):  # nobody there
        assert main(["serve", "--config", str(config_file)]) == 3  # the run could not start
    assert "does not answer" in capsys.readouterr().err


def test_rendered_config_parses_back():
    config = Config(
        sources=[
            SourceConfig(
                name="a b", feed='https://news.example/rss?x=1&y="2"', checks={"min_words": 40}
            ),
            SourceConfig(name="c", feed="http://127.0.0.1:9/feed", enabled=False, language="de"),
        ],
    )
    config.fetch.allow_private = ["127.0.0.1:9", "10.0.0.0/8"]
    config.warehouse.lock_timeout_s = 2.5
    text = render_config(config)
    assert parse_config(text) == config
    assert parse_config(render_config(Config())) == Config()


def test_run_report_prints_each_finished_run_once(prefect_harness, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.states import Completed, Failed

    from newsflow.cli.run_report import RunReporter
    from newsflow.tasks.warehouse.writer import open_for_writing

    (deployment,) = [d for d in serve.build_deployments(config_path="c.toml") if d.name == "ingest"]
    deployment_id = deployment.apply()
    db = tmp_path / "news.duckdb"
    reporter = RunReporter(["newsflow-ingest/ingest"], db=str(db))
    with get_client(sync_client=True) as client:
        ok = client.create_flow_run_from_deployment(deployment_id)
        bad = client.create_flow_run_from_deployment(deployment_id)
        with open_for_writing(db, lock_timeout_s=5) as warehouse:
            warehouse.start_run(str(ok.id), "ingest")
            warehouse.finish_run(str(ok.id), "completed", {"articles_new": 7, "rejected": 2}, None)
            warehouse.publish()
        client.set_flow_run_state(ok.id, Completed(), force=True)
        client.set_flow_run_state(bad.id, Failed(message="feeds unreachable"), force=True)

    lines = reporter.poll([deployment_id])
    assert len(lines) == 2
    (ok_line,) = [line for line in lines if ok.name in line]
    (bad_line,) = [line for line in lines if bad.name in line]
    assert "newsflow-ingest" in ok_line and "Completed" in ok_line
    assert "7 new" in ok_line and "2 rejected" in ok_line
    assert "Failed" in bad_line and "feeds unreachable" in bad_line
    assert reporter.poll([deployment_id]) == []  # each run once


def test_run_report_waits_quietly_for_deployments_serve_has_not_registered(prefect_harness):
    from newsflow.cli.run_report import RunReporter

    reporter = RunReporter(["newsflow-ingest/not-registered-yet"], db=None)
    assert reporter._deployment_ids() == []
    (deployment,) = [d for d in serve.build_deployments(config_path="c.toml") if d.name == "ingest"]
    deployment_id = deployment.apply()
    assert RunReporter(["newsflow-ingest/ingest"], db=None)._deployment_ids() == [deployment_id]
