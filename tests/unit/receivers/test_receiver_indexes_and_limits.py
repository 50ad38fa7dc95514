"""The keys receivers find objects by, and the token buckets in front of them."""

from __future__ import annotations

from typing import Any

from shunter.cache.kinds import receiver_paths, waiting_pr_urls
from shunter.receivers.ratelimit import Buckets


def test_receiver_paths_from_status() -> None:
    config = {
        "status": {
            "webhookReceivers": [
                {"name": "a", "path": "/github/1"},
                {"name": "b"},
                "junk",
                {"name": "c", "path": "/quay/2"},
            ]
        }
    }
    assert receiver_paths(config) == ["/github/1", "/quay/2"]
    assert receiver_paths({}) == []


def _promotion(phase: str, current: int, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "spec": {
            "steps": [
                {"uses": "git-open-pr", "as": "open"},
                {"uses": "git-wait-for-pr", "as": "wait"},
                {"uses": "git-wait-for-pr"},
                {"uses": "git-wait-for-pr", "as": "later"},
            ]
        },
        "status": {"phase": phase, "currentStep": current, "state": state},
    }


def test_waiting_pull_requests() -> None:
    state = {
        "open": {"pr": {"url": "https://git.example.com/pr/1"}},
        "wait": {"pr": {"url": "https://git.example.com/pr/1"}},
        "later": {"pr": {"url": "https://git.example.com/pr/2"}},
    }
    assert waiting_pr_urls(_promotion("Running", 1, state)) == ["https://git.example.com/pr/1"]
    assert waiting_pr_urls(_promotion("Running", 3, state)) == [
        "https://git.example.com/pr/1",
        "https://git.example.com/pr/2",
    ]
    assert waiting_pr_urls(_promotion("Succeeded", 1, state)) == []
    assert waiting_pr_urls(_promotion("Running", 1, {"wait": "x"})) == []
    assert waiting_pr_urls({}) == []


def test_token_buckets_refill_and_forget() -> None:
    now = [0.0]
    buckets = Buckets(2.0, 3, max_keys=2, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == 0.5
    assert [buckets.take("b") for _ in range(3)] == [0.0, 0.0, 0.0]  # one bucket per key
    now[0] = 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    buckets.take("c")  # "b" is the least recently used of three: forgotten
    assert [buckets.take("b") for _ in range(3)] == [0.0, 0.0, 0.0]
