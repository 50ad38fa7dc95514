"""The web UI in a real headless Chromium, against the seed pipeline running for real.

Real kube-apiserver, the operator as a process, the git server and the registry (see
:mod:`shunter_devenv.seedpipeline`), ``shunter ui`` as a process (once with the administrator's
kubeconfig, once in token mode for the read-only user alice), and Debian's Chromium driven by
Playwright (never a downloaded browser). One environment and one browser serve the whole module.
Screenshots go to ``build/screenshots/`` (or ``$SHUNTER_SCREENSHOTS``).
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from shunter_devenv.cluster import Cluster
from shunter_devenv.gitserver import GitRequestKind
from shunter_devenv.seedpipeline import FIRST_TAG, SEED_REPO, SeedPipeline, seed_pipeline
from shunter_devenv.ui import UiProcess
from shunter_devenv.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
VALUES = (ROOT / "tests" / "data" / "values" / "realistic-values.yaml").read_text()
SHOTS = Path(os.environ.get("SHUNTER_SCREENSHOTS", ROOT / "build" / "screenshots"))
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NS = "ui-sandbox"  # the seed renamed: these tests' objects stay out of the pipeline tests' way
GREEN = "rgb(0, 128, 0)"  # preprod's kargo.akuity.io/color in examples/seed
LIVE = 10_000  # ms: a change the API server has must reach the page well within this
# Waits for what the page shows (not for the API server): generous on a loaded 2-core machine.
expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def seed(kube: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeedPipeline]:
    with seed_pipeline(kube, tmp_path_factory.mktemp("ui-seed"), VALUES, project=NS) as pipeline:
        yield pipeline


@pytest.fixture(scope="module")
def ui(seed: SeedPipeline, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiProcess]:
    """``shunter ui`` with the administrator's kubeconfig, as a user runs it locally (its
    previews may send the seed's git credentials to the test git server's http:// URL)."""
    log = tmp_path_factory.mktemp("ui") / "ui.log"
    http = ("--allow-credentials-over-http",)
    with UiProcess(seed.kube.kubeconfig_path, log, extra_args=http) as process:
        yield process


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def admin(browser: Browser, ui: UiProcess) -> Iterator[BrowserContext]:
    """A browser profile that opened the URL ``shunter ui`` printed."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(ui.url)
    expect(page.locator("h1")).to_have_text("Projects")
    page.close()
    yield context
    context.close()


@pytest.fixture
def page(admin: BrowserContext) -> Iterator[Page]:
    errors: list[str] = []
    opened = admin.new_page()
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    opened.close()
    assert not errors, f"JavaScript errors: {errors}"


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _alias(seed: SeedPipeline, name: str) -> str:
    alias: str = seed.get("freight", name)["alias"]
    return alias


def _confirm(page: Page) -> None:
    dialog = page.locator("#confirm")
    expect(dialog).to_be_visible()
    dialog.locator("#confirm-ok").click()


def _first_freight_in_preprod(seed: SeedPipeline) -> str:
    first = wait_for(lambda: seed.freight_for_tag(FIRST_TAG), what="the first Freight")
    name = str(first["metadata"]["name"])
    wait_for(
        lambda: seed.current_freight("preprod") == name,
        what="preprod on the first Freight",
        timeout=120,
        details=seed.diagnostics,
    )
    return name


def _new_tag() -> str:
    """A tag the seed's Warehouse takes, newer than any earlier one (Lexical order)."""
    return f"{datetime.now(UTC):%Y-%m-%d_%H%M}-{secrets.token_hex(4)[:7]}"


def test_graph_shows_the_warehouse_and_both_stages_with_their_edges(
    seed: SeedPipeline, ui: UiProcess, page: Page
) -> None:
    current = _first_freight_in_preprod(seed)
    page.goto(f"{ui.base_url}/projects/{NS}")
    for node in ("warehouse-example-container", "stage-preprod", "stage-prod"):
        expect(page.locator(f"#{node}")).to_be_visible()
    edges = page.locator("#graph-edges path[data-from]")
    expect(edges).to_have_count(2)
    pairs = {(e.get_attribute("data-from"), e.get_attribute("data-to")) for e in edges.all()}
    assert pairs == {
        ("warehouse-example-container", "stage-preprod"),
        ("stage-preprod", "stage-prod"),
    }
    preprod = page.locator("#stage-preprod")
    expect(preprod.locator(".freight-badge .alias")).to_have_text(_alias(seed, current))
    expect(preprod.locator(".pill.auto")).to_be_visible()
    expect(page.locator("#stage-prod .pill.manual")).to_be_visible()
    nodes = ("warehouse-example-container", "stage-preprod", "stage-prod")
    boxes = [page.locator(f"#{n}").bounding_box() for n in nodes]
    xs = [b["x"] for b in boxes if b]
    assert xs == sorted(xs), "the graph does not read left to right"
    expect(page.locator("#live")).to_have_text("live")
    _shot(page, "graph")


def test_a_new_image_tag_reaches_preprod_card_and_timeline_without_reload(
    seed: SeedPipeline, ui: UiProcess, page: Page, admin: BrowserContext
) -> None:
    _first_freight_in_preprod(seed)
    page.goto(f"{ui.base_url}/projects/{NS}")
    expect(page.locator("#live")).to_have_text("live")
    page.evaluate("window.notReloaded = true")
    timeline = admin.new_page()
    timeline.goto(f"{ui.base_url}/projects/{NS}/freight")
    expect(timeline.locator("#live")).to_have_text("live")
    timeline.evaluate("window.notReloaded = true")

    count = timeline.locator("#freight-count")
    before = int(count.inner_text().split()[0])

    tag = _new_tag()
    seed.push(tag, datetime.now(UTC))
    # Refresh the Warehouse from the UI: the button asks first, then sets the annotation.
    page.locator("#warehouse-example-container button", has_text="Refresh").click()
    expect(page.locator("#confirm-text")).to_contain_text("look for new artifacts")
    _confirm(page)
    expect(page.locator("#flash")).to_contain_text("refresh requested")
    freight = wait_for(lambda: seed.freight_for_tag(tag), what="Freight", details=seed.diagnostics)
    name, alias = freight["metadata"]["name"], freight["alias"]
    wait_for(
        lambda: seed.current_freight("preprod") == name,
        what="preprod promoted",
        details=seed.diagnostics,
    )
    card = page.locator("#stage-preprod")
    expect(card.locator(".freight-badge .alias")).to_have_text(alias, timeout=LIVE)
    expect(card.locator(".freight-badge .artifact")).to_have_text(tag)
    assert page.evaluate("window.notReloaded") is True

    row = timeline.locator(f"#freight-{name}")
    expect(row).to_be_visible(timeout=LIVE)
    expect(row.locator(".alias strong")).to_have_text(alias)
    marker = row.locator('.marker.current[data-stage="preprod"]')
    expect(marker).to_be_visible(timeout=LIVE)
    assert marker.evaluate("m => getComputedStyle(m).backgroundColor") == GREEN
    assert timeline.locator("#freight-rows tr").first.get_attribute("id") == f"freight-{name}"
    expect(count).to_have_text(f"{before + 1} pieces of Freight, newest first")
    assert timeline.evaluate("window.notReloaded") is True
    _shot(timeline, "timeline")
    timeline.close()


def test_the_projects_list_follows_projects_and_their_stages_without_reload(
    seed: SeedPipeline, ui: UiProcess, page: Page
) -> None:
    page.goto(f"{ui.base_url}/")
    expect(page.locator("#live")).to_have_text("live")
    expect(page.locator(f"#project-{NS} .stages")).to_have_text("2")
    page.evaluate("window.notReloaded = true")
    name = "ui-live-" + os.urandom(3).hex()
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kargo.akuity.io/project": "true"}},
    }
    project = {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Project",
        "metadata": {"name": name},
    }
    stage = {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": "test", "namespace": name},
        "spec": {
            "requestedFreight": [
                {"origin": {"kind": "Warehouse", "name": "images"}, "sources": {"direct": True}}
            ]
        },
    }
    seed.kube.apply(json.dumps(namespace))
    try:
        seed.kube.apply(json.dumps(project))
        row = page.locator(f"#project-{name}")
        expect(row).to_be_visible(timeout=LIVE)
        expect(row.locator(".stages")).to_have_text("0")
        seed.kube.apply(json.dumps(stage))
        expect(row.locator(".stages")).to_have_text("1", timeout=LIVE)
        seed.kube.kubectl("delete", "project", name, "--wait=false")
        expect(row).to_have_count(0, timeout=60_000)
        assert page.evaluate("window.notReloaded") is True
    finally:
        seed.kube.kubectl("delete", "project", name, "--ignore-not-found", "--wait=false")
        seed.kube.kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=false")


def _preprod_verified_freight(seed: SeedPipeline) -> str:
    def verified() -> str | None:
        name = seed.current_freight("preprod")
        if not name:
            return None
        status = seed.get("freight", name).get("status", {})
        return name if "preprod" in (status.get("verifiedIn") or {}) else None

    return str(wait_for(verified, what="verified Freight in preprod", details=seed.diagnostics))


def test_preview_in_the_prod_promote_dialog_shows_the_diff_and_changes_nothing(
    seed: SeedPipeline, ui: UiProcess, page: Page
) -> None:
    name = _preprod_verified_freight(seed)
    tag = seed.get("freight", name)["images"][0]["tag"]
    refs = seed.git.refs(SEED_REPO)
    pushes = seed.git.request_count(GitRequestKind.RECEIVE_PACK)
    promotions = {p["metadata"]["name"] for p in seed.promotions()}

    page.goto(f"{ui.base_url}/projects/{NS}")
    page.locator("#stage-prod button.promote").click()
    option = page.locator(f'#dialog .option[data-freight="{name}"]')
    option.locator("button", has_text="Preview").click()
    report = option.locator(".preview-report")
    expect(report).to_be_visible(timeout=60_000)
    expect(report.locator(".outcome")).to_have_text("Every step would go through.")
    diff = report.locator("pre.diff")
    expect(diff.locator(".meta").first).to_have_text(
        "diff --git a/prod/values.yaml b/prod/values.yaml"
    )
    expect(diff.locator(".add")).to_have_text([f"+  lmsImageTag: {tag}"])
    expect(diff.locator(".del")).to_have_count(1)
    expect(diff.locator(".del")).to_contain_text("-  lmsImageTag: ")
    added = diff.locator(".add").evaluate("e => getComputedStyle(e).backgroundColor")
    removed = diff.locator(".del").evaluate("e => getComputedStyle(e).backgroundColor")
    assert added != removed, "added and removed lines look the same"
    skipped = report.locator('.skipped-effects li[data-uses="git-push"]')
    expect(skipped).to_contain_text("would push commit")
    expect(report.locator('.step[data-uses="git-push"] .state')).to_have_text("not run")
    diff.scroll_into_view_if_needed()
    _shot(page, "preview")

    # One preview at a time per user: a second one while the first runs is refused.
    statuses = page.evaluate(
        """async ([url, freight]) => {
            const token = document.querySelector('meta[name="csrf-token"]').content;
            const post = () => fetch(url, {method: "POST", body: new URLSearchParams({freight}),
                headers: {"X-CSRF-Token": token, "X-Shunter-Fragment": "1"}})
                .then(async r => [r.status, await r.text()]);
            return await Promise.all([post(), post()]);
        }""",
        [f"/projects/{NS}/stages/prod/preview", name],
    )
    assert sorted(s for s, _ in statuses) == [200, 429], statuses
    assert "one preview at a time per user" in next(t for s, t in statuses if s == 429)
    # Without the anti-forgery token it is refused like any other POST.
    forged = page.request.post(
        f"{ui.base_url}/projects/{NS}/stages/prod/preview", form={"freight": name}
    )
    assert forged.status == 403

    assert seed.git.refs(SEED_REPO) == refs, "the preview changed refs on the git server"
    assert seed.git.request_count(GitRequestKind.RECEIVE_PACK) == pushes, "a push was attempted"
    assert {p["metadata"]["name"] for p in seed.promotions()} == promotions
    # Each preview's clones are removed when it ends (the UI server runs for weeks).
    tmp = Path(tempfile.gettempdir())
    wait_for(
        lambda: not list(tmp.glob("shunter-ui-preview-*")), what="the previews' folders removed"
    )


def test_promoting_the_verified_freight_into_prod_from_the_ui(
    seed: SeedPipeline, ui: UiProcess, page: Page, admin: BrowserContext
) -> None:
    name = _preprod_verified_freight(seed)
    alias = _alias(seed, name)
    stage_page = admin.new_page()
    stage_page.goto(f"{ui.base_url}/projects/{NS}/stages/prod")
    expect(stage_page.locator("#live")).to_have_text("live")
    before = {p["metadata"]["name"] for p in seed.promotions("prod")}

    page.goto(f"{ui.base_url}/projects/{NS}")
    page.locator("#stage-prod button.promote").click()
    option = page.locator(f'#dialog .option[data-freight="{name}"]')
    expect(option).to_have_class("option available")
    option.locator("button", has_text="Promote").click()
    expect(page.locator("#confirm-text")).to_contain_text("into Stage prod")
    expect(page.locator("#confirm-text")).to_contain_text(alias)
    _confirm(page)
    expect(page.locator("#flash")).to_contain_text("created")

    created = wait_for(
        lambda: [p for p in seed.promotions("prod") if p["metadata"]["name"] not in before],
        what="the Promotion the UI created",
    )
    assert len(created) == 1
    promotion = created[0]
    assert (promotion["spec"]["stage"], promotion["spec"]["freight"]) == ("prod", name)
    assert promotion["metadata"]["name"].startswith("prod.")
    assert promotion["metadata"]["name"].endswith("." + name[:7])
    assert promotion["metadata"]["annotations"]["kargo.akuity.io/create-actor"] == (
        "kubernetes:admin"
    )
    row = stage_page.locator(f'[data-promotion="{promotion["metadata"]["name"]}"]')
    expect(row).to_be_visible(timeout=LIVE)
    expect(row.locator(".step").first).to_be_visible(timeout=LIVE)
    expect(row.locator("summary .state")).to_have_text("Succeeded", timeout=60_000)
    uses = [s.locator(".uses").inner_text() for s in row.locator(".step").all()]
    assert uses == ["git-clone", "yaml-update", "git-commit", "git-push"]
    expect(row.locator(".step .state").first).to_have_text("Succeeded")
    expect(page.locator("#stage-prod .freight-badge .alias")).to_have_text(alias, timeout=LIVE)
    row.locator(".step details.outputs summary").first.click()
    _shot(stage_page, "promotion-steps")
    stage_page.close()


def test_freight_not_available_to_prod_cannot_be_promoted_and_the_page_says_why(
    seed: SeedPipeline, ui: UiProcess, page: Page
) -> None:
    seed.add_old_freight(
        "ui-hand-made", "ui-unverified", "2020-01-01_0000-0000002", "sha256:" + "ab" * 32
    )

    def renamed() -> str | None:
        for f in seed.get("freight")["items"]:
            if f.get("alias") == "ui-unverified" and f["metadata"]["name"] != "ui-hand-made":
                return str(f["metadata"]["name"])
        return None

    name = wait_for(renamed, what="the hand-made Freight under its Freight ID")
    before = len(seed.promotions("prod"))
    page.goto(f"{ui.base_url}/projects/{NS}/stages/prod")
    page.locator(".head-actions button", has_text="Promote").click()
    option = page.locator(f'#dialog .option[data-freight="{name}"]')
    expect(option).to_have_class("option unavailable")
    expect(option.locator(".reason")).to_contain_text("has not been verified")
    expect(option.locator(".reason")).to_contain_text("'preprod'")
    expect(option.locator("button", has_text="Promote")).to_have_count(0)
    expect(option.locator("button", has_text="Approve for prod")).to_be_visible()
    # Posting the promotion anyway (the page's own token) is refused with the same reason.
    answer = page.evaluate(
        """async ([url, freight]) => {
            const token = document.querySelector('meta[name="csrf-token"]').content;
            const r = await fetch(url, {method: "POST", body: new URLSearchParams({freight}),
                headers: {"X-CSRF-Token": token, Accept: "application/json"}});
            return [r.status, await r.json()];
        }""",
        [f"/projects/{NS}/stages/prod/promote", name],
    )
    assert answer[0] == 409
    assert "has not been verified" in answer[1]["message"]
    assert len(seed.promotions("prod")) == before


@pytest.fixture(scope="module")
def token_ui(seed: SeedPipeline, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiProcess]:
    """``shunter ui --auth token``: users sign in with their own bearer tokens."""
    log = tmp_path_factory.mktemp("ui-token") / "ui.log"
    with UiProcess(seed.kube.kubeconfig_path, log, auth="token") as process:
        yield process


def _read_only_alice(kube: Cluster) -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "kargo-viewer", "namespace": NS},
        "rules": [
            {
                "apiGroups": ["kargo.akuity.io"],
                "resources": ["warehouses", "stages", "freights", "promotions"],
                "verbs": ["get", "list", "watch"],
            }
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "alice-views", "namespace": NS},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "kargo-viewer",
        },
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}],
    }
    kube.apply(json.dumps(role))
    kube.apply(json.dumps(binding))


def test_a_read_only_user_sees_the_pipeline_but_is_forbidden_to_promote(
    seed: SeedPipeline, token_ui: UiProcess, browser: Browser
) -> None:
    if not seed.kube.has_test_users:
        pytest.fail("this cluster has no test users (alice)")
    _read_only_alice(seed.kube)
    name = _preprod_verified_freight(seed)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{token_ui.base_url}/projects/{NS}")
        expect(page.locator("h1")).to_have_text("Sign in")
        page.locator('input[name="token"]').fill(seed.kube.token_for("alice"))
        page.locator("button", has_text="Sign in").click()
        expect(page.locator(".who")).to_have_text("alice")
        expect(page.locator("#stage-prod")).to_be_visible()
        expect(page.locator("#stage-preprod .freight-badge .alias")).to_be_visible()
        cookies = {c["name"]: c for c in context.cookies()}
        session = cookies["shunter-session"]
        assert session["httpOnly"]
        assert session["sameSite"] == "Strict"
        assert seed.kube.token_for("alice") not in json.dumps(context.cookies())
        before = {p["metadata"]["name"] for p in seed.promotions()}
        page.locator("#stage-prod button.promote").click()
        option = page.locator(f'#dialog .option[data-freight="{name}"]')
        option.locator("button", has_text="Promote").click()
        _confirm(page)
        expect(page.locator("#flash")).to_contain_text("Forbidden")
        expect(page.locator("#dialog .dialog-flash")).to_contain_text("alice")
        assert {p["metadata"]["name"] for p in seed.promotions()} == before
        _shot(page, "forbidden")
        # A preview reads as alice too: what she may not read stops it, saying so.
        option.locator("button", has_text="Preview").click()
        expect(option.locator(".preview-report .problem")).to_contain_text(
            "kubernetes:alice", timeout=60_000
        )
        # Reading follows RBAC too: without the RoleBinding the next page load is refused.
        seed.kube.kubectl("delete", "rolebinding", "alice-views", "-n", NS)

        def refused() -> bool:
            page.goto(f"{token_ui.base_url}/projects/{NS}")
            return page.locator("h1", has_text="Forbidden").count() == 1

        wait_for(refused, what="the page to be refused to alice", timeout=30, interval=1)
        expect(page.locator(".problem")).to_contain_text("alice")
    finally:
        context.close()


def test_html_in_an_annotation_is_shown_as_text(
    seed: SeedPipeline, ui: UiProcess, page: Page
) -> None:
    hostile = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
    seed.kube.kubectl(
        "annotate", "stage", "preprod", "-n", NS,
        f"kargo.akuity.io/description={hostile}", "--overwrite",
    )  # fmt: skip
    page.goto(f"{ui.base_url}/projects/{NS}")
    desc = page.locator("#stage-preprod .desc")
    expect(desc).to_have_text(hostile)
    assert page.locator("#stage-preprod .desc img").count() == 0
    page.goto(f"{ui.base_url}/projects/{NS}/stages/preprod")
    expect(page.locator(".stage-head .desc")).to_have_text(hostile)
    assert page.evaluate("window.pwned") is None


def _refresh_annotation(seed: SeedPipeline) -> Any:
    annotations = seed.get("warehouse", "example-container")["metadata"].get("annotations") or {}
    return annotations.get("kargo.akuity.io/refresh")


def test_a_post_without_the_anti_forgery_token_is_refused(
    seed: SeedPipeline, ui: UiProcess, page: Page
) -> None:
    page.goto(f"{ui.base_url}/projects/{NS}")
    before = _refresh_annotation(seed)
    url = f"/projects/{NS}/warehouses/example-container/refresh"
    statuses = page.evaluate(
        """async (url) => {
            const token = document.querySelector('meta[name="csrf-token"]').content;
            const post = (headers) => fetch(url, {method: "POST", headers}).then(r => r.status);
            return [await post({Accept: "application/json"}),
                    await post({Accept: "application/json", "X-CSRF-Token": "forged"})];
        }""",
        url,
    )
    assert statuses == [403, 403]
    # The right token from another site (no same-origin Origin/Referer) is refused too.
    token = page.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    response = page.request.post(
        f"{ui.base_url}{url}",
        headers={"X-CSRF-Token": token, "Origin": "https://evil.example"},
    )
    assert response.status == 403
    assert _refresh_annotation(seed) == before


def test_fifty_stages_lay_out_without_overlapping(kube: Cluster, ui: UiProcess, page: Page) -> None:
    namespace = "ui-wide-" + os.urandom(3).hex()
    kube.kubectl("create", "namespace", namespace)
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Warehouse",
            "metadata": {"name": "images", "namespace": namespace},
            "spec": {"subscriptions": [{"image": {"repoURL": "registry.example/app"}}]},
        }
    ]

    def stage(name: str, source: dict[str, Any]) -> dict[str, Any]:
        origin = {"kind": "Warehouse", "name": "images"}
        return {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Stage",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"requestedFreight": [{"origin": origin, "sources": source}]},
        }

    for region in range(5):
        docs.append(stage(f"test-{region}", {"direct": True}))
        for cell in range(9):
            docs.append(stage(f"prod-{region}-{cell}", {"stages": [f"test-{region}"]}))
    with tempfile.TemporaryDirectory() as folder:
        manifest = Path(folder) / "wide.json"
        manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}))
        kube.apply(manifest)
    try:
        page.goto(f"{ui.base_url}/projects/{namespace}")
        expect(page.locator("#live")).to_have_text("live")
        # The Freight count is filled in once the Freight list arrived: the graph is final.
        expect(page.locator("#warehouse-images .meta a")).to_have_text("0 Freight")
        nodes = page.locator(".graph-canvas.laid-out [data-node]")
        expect(nodes).to_have_count(51)
        boxes = [n.bounding_box() for n in nodes.all()]
        assert all(boxes)
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                assert a
                assert b
                apart = (
                    a["x"] + a["width"] <= b["x"]
                    or b["x"] + b["width"] <= a["x"]
                    or a["y"] + a["height"] <= b["y"]
                    or b["y"] + b["height"] <= a["y"]
                )
                assert apart, f"cards overlap: {a} {b}"
        expect(page.locator("#graph-edges path[data-from]")).to_have_count(50)
    finally:
        kube.kubectl("delete", "namespace", namespace, "--wait=false")
