"""The operator's watch-fed, indexed cache of the objects it reconciles.

:class:`CacheFeed` runs one informer per kind (:mod:`shunter.kube.informer`); they fill a
:class:`KargoCache`, which controllers read instead of the API server. See
:mod:`shunter.cache.store` for how objects are stored and :mod:`shunter.cache.kinds` for the
kinds and indexes.
"""

from shunter.cache.feed import CacheFeed
from shunter.cache.kargo import KargoCache
from shunter.cache.kinds import (
    ANALYSIS_RUNS,
    CLUSTER_CONFIGS,
    CLUSTER_PROMOTION_TASKS,
    FREIGHTS,
    PROJECT_CONFIGS,
    PROJECTS,
    PROMOTION_TASKS,
    PROMOTIONS,
    SECRETS,
    STAGES,
    WAREHOUSES,
)
from shunter.cache.shards import Shard, shard_of
from shunter.cache.store import Cache, Listener

__all__ = [
    "ANALYSIS_RUNS",
    "CLUSTER_CONFIGS",
    "CLUSTER_PROMOTION_TASKS",
    "FREIGHTS",
    "PROJECTS",
    "PROJECT_CONFIGS",
    "PROMOTIONS",
    "PROMOTION_TASKS",
    "SECRETS",
    "STAGES",
    "WAREHOUSES",
    "Cache",
    "CacheFeed",
    "KargoCache",
    "Listener",
    "Shard",
    "shard_of",
]
