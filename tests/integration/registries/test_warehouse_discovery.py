"""A whole Warehouse: image, git and chart subscriptions discovered in one call."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import pytest

from shunter.api.v1alpha1.warehouse import WarehouseSpec
from shunter.freight import freight_id
from shunter.registries import Discoverer, RepositoryNotFoundError
from shunter_devenv.registry import Registry

T0 = dt.datetime(2025, 2, 1, tzinfo=dt.UTC)
INDEX = b"entries:\n  guestbook:\n  - version: 0.3.0\n  - version: 0.4.1\n"


async def test_mixed_warehouse(
    *,
    registry: Registry,
    repo_name: str,
    git_work: Any,
    git_server: Any,
    chart_repo: Any,
    discoverer: Discoverer,
    credentials_for: Any,
) -> None:
    digest = registry.push_image(repo_name, "3.1.0", T0)
    registry.push_image(repo_name, "3.0.0", T0)
    head = git_work.commit({"env/values.yaml": "x: 1"}, "configure", T0)
    chart_path = f"/charts-{secrets.token_hex(3)}"
    chart_repo.indexes[f"{chart_path}/index.yaml"] = INDEX
    chart_url = f"{chart_repo.base_url}{chart_path}"
    creds = credentials_for(
        {
            ("image", registry.image(repo_name)): ("reader", registry.users["reader"]),
            ("git", git_work.url): ("gitreader", git_server.users["gitreader"]),
            ("helm", chart_url): next(iter(chart_repo.users.items())),
        }
    )
    spec = WarehouseSpec.model_validate(
        {
            "subscriptions": [
                {"name": "config", "git": {"repoURL": git_work.url}},
                {"name": "app", "image": {"repoURL": registry.image(repo_name)}},
                {"chart": {"repoURL": chart_url, "name": "guestbook"}},
            ]
        }
    )

    found = await discoverer.discover(spec, creds, now=lambda: T0)

    assert found.discovered_at == T0
    git, image, chart = (found.git or [])[0], (found.images or [])[0], (found.charts or [])[0]
    assert (git.subscription_name, image.subscription_name, chart.subscription_name) == (
        "config",
        "app",
        None,
    )
    assert (git.commits or [])[0].id == head
    top = (image.references or [])[0]
    assert (top.tag, top.digest) == ("3.1.0", digest)
    assert chart.versions == ["0.4.1", "0.3.0"]

    # The Freight a Warehouse controller would build from element 0 of each list.
    name = freight_id(
        "Warehouse",
        "mixed",
        commits=[{"repoURL": git.repo_url, "id": head, "subscriptionName": "config"}],
        images=[
            {"repoURL": image.repo_url, "tag": "3.1.0", "digest": digest, "subscriptionName": "app"}
        ],
        charts=[{"repoURL": chart_url, "name": "guestbook", "version": "0.4.1"}],
    )
    assert len(name) == 40

    # The previous result lets the git subscription skip its fetch.
    fetches = discoverer.git.fetches
    again = await discoverer.discover(spec, creds, previous=found, max_age=0)
    assert discoverer.git.fetches == fetches
    assert again.git == found.git


async def test_errors_name_the_failing_subscription(
    registry: Registry, repo_name: str, discoverer: Discoverer, credentials_for: Any
) -> None:
    spec = WarehouseSpec.model_validate(
        {"subscriptions": [{"name": "app", "image": {"repoURL": registry.image(repo_name)}}]}
    )
    creds = credentials_for(
        {("image", registry.image(repo_name)): ("reader", registry.users["reader"])}
    )
    with pytest.raises(RepositoryNotFoundError) as caught:
        await discoverer.discover(spec, creds)
    assert str(caught.value).startswith(
        f"image subscription 'app' ({registry.image(repo_name)}): repository {repo_name}"
    )
