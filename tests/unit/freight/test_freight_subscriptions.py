"""A Warehouse's subscribed URLs, normalised as Kargo's ``subscribedURLs`` index has them."""

from __future__ import annotations

from shunter.freight import subscribed_urls


def test_each_kind_is_normalised_its_own_way() -> None:
    warehouse = {
        "spec": {
            "subscriptions": [
                {"git": {"repoURL": "https://GitHub.com/Acme/App.git/"}},
                {"image": {"repoURL": "docker.io/library/nginx"}},
                {"chart": {"repoURL": "oci://GHCR.io/acme/charts/app"}},
                {"image": {"repoURL": "nginx"}},  # the same repository again
                {"git": {"repoURL": ""}},
                {"image": {}},
                "not a subscription",
            ]
        }
    }
    assert subscribed_urls(warehouse) == [
        "https://github.com/acme/app",
        "nginx",
        "ghcr.io/acme/charts/app",
    ]


def test_nothing_from_a_warehouse_without_subscriptions() -> None:
    assert subscribed_urls({}) == []
    assert subscribed_urls({"spec": {"subscriptions": None}}) == []
    assert subscribed_urls({"spec": "x"}) == []
