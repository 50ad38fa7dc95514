"""The periodic git mirror sweep: Warehouse subscriptions keep their mirrors, the rest go."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from shunter.git import MirrorStore, mirror_key
from shunter.kube.client import KubeError
from shunter.operator.mirror_sweep import subscribed_git_urls, sweep_mirrors
from shunter_devenv.gitserver import GitServer
from shunter_devenv.waiting import wait_for_async


def _warehouse(*subscriptions: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"subscriptions": list(subscriptions)}}


def test_subscribed_git_urls() -> None:
    warehouses = [
        _warehouse({"git": {"repoURL": "https://git.example/a"}}, {"image": {"repoURL": "r/i"}}),
        _warehouse({"git": {"repoURL": "https://git.example/b.git"}}),
        {"spec": {}},
        {},
        _warehouse({"git": {}}, {}),
    ]
    assert subscribed_git_urls(warehouses) == {
        "https://git.example/a",
        "https://git.example/b.git",
    }


@pytest.fixture
def server() -> Iterator[GitServer]:
    with GitServer(allow_anonymous=True) as git_server:
        yield git_server


async def test_the_sweep_keeps_subscribed_mirrors_and_survives_errors(
    server: GitServer, tmp_path: Path
) -> None:
    kept = server.create_repo("team/kept", {"a": "1"})
    dropped = server.create_repo("team/dropped", {"a": "1"})
    store = MirrorStore(tmp_path / "mirrors")
    for url in (kept, dropped):
        await store.mirror(url).fetch(url, ["+refs/heads/main:refs/heads/main"])
    calls = 0

    async def warehouses() -> list[Mapping[str, Any]]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise KubeError("the API server is away")  # logged; the next round goes on
        return [_warehouse({"git": {"repoURL": kept}})]

    task = asyncio.create_task(sweep_mirrors(store, warehouses, interval=0.01, max_idle=0))
    try:
        gone = store.root / mirror_key(dropped)
        await wait_for_async(lambda: not gone.exists(), within=30, what="the sweep")
        assert (store.root / mirror_key(kept)).exists()
        assert calls >= 2
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
