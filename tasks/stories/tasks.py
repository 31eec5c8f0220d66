"""The stories stage's Prefect task: group the same story across sources after a run's loads."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from newsflow.tasks.warehouse import story_store
from newsflow.tasks.warehouse.warehouse import Warehouse


@task(name="cluster-stories", cache_policy=NO_CACHE)
def cluster_stories(warehouse: Warehouse, run_id: str) -> story_store.ClusterStats:
    """Group the same story across sources (``story_clusters``) after the run's loads."""
    return story_store.refresh_story_clusters(warehouse, run_id)
