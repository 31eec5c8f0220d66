"""The pull steps of deploy/prefect.yaml, run through Prefect's own step runner."""

from __future__ import annotations

import asyncio
import os

import pytest
from prefect.blocks.system import Secret
from prefect.deployments.steps.core import StepExecutionError, run_steps

from newsflow.ops.deploy_steps import enter_newsflow_home
from newsflow.schemas.config import Config


def test_enter_newsflow_home_uses_the_workers_environment(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("NEWSFLOW_HOME", str(home))
    output = asyncio.run(run_steps([{"newsflow.ops.deploy_steps.enter_newsflow_home": {}}]))
    assert output["directory"] == str(home) == os.getcwd()


def test_enter_newsflow_home_says_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NEWSFLOW_HOME", raising=False)
    with pytest.raises(RuntimeError, match="NEWSFLOW_HOME is not set on this worker"):
        enter_newsflow_home()
    monkeypatch.setenv("NEWSFLOW_HOME", str(tmp_path / "nowhere"))
    with pytest.raises(StepExecutionError):
        asyncio.run(run_steps([{"newsflow.ops.deploy_steps.enter_newsflow_home": {}}]))
    assert os.getcwd() == str(tmp_path)


def test_a_secret_block_reaches_the_run_as_an_environment_variable(prefect_harness, monkeypatch):
    secret_url = "json://127.0.0.1:9/alerts?token=s3cret"
    Secret(value=secret_url).save("newsflow-test-alert-urls", overwrite=True)
    monkeypatch.delenv("NEWSFLOW_ALERT_URLS", raising=False)
    step = {
        "newsflow.ops.deploy_steps.set_environment": {
            "NEWSFLOW_ALERT_URLS": "{{ prefect.blocks.secret.newsflow-test-alert-urls }}"
        }
    }
    output = asyncio.run(run_steps([step]))
    assert output["variables"] == ["NEWSFLOW_ALERT_URLS"]  # names, never values
    assert os.environ["NEWSFLOW_ALERT_URLS"] == secret_url
    assert secret_url in Config().alerts.all_urls()
