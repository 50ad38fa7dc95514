"""JFrog Artifactory: ``pushed`` events of the ``docker`` domain (images and OCI Helm charts).

Authentication: ``X-Jfrog-Event-Auth``, the hex HMAC-SHA256 of the body keyed by the Secret's
``secret-token``. Other domains or event types, and image types other than ``docker`` and
``oci``, are a 501 (as in Kargo).

The repository URL is rebuilt from the payload: the host of ``jpd_origin`` (Artifactory's
"Custom Base URL" must be set), the repository key (or the receiver's ``virtualRepoName``, for
Warehouses that pull through a virtual repository), and ``data.path`` without its last two
segments (the tag and the manifest file). ``docker`` pushes are images, ``oci`` pushes charts;
the Warehouses subscribed to that URL that would consider ``data.tag`` are refreshed.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from shunter.api.v1alpha1.project import WebhookReceiverConfig
from shunter.freight.urls import normalize_chart_url, normalize_image_url
from shunter.receivers.events import (
    Inbound,
    Outcome,
    PayloadModel,
    RefreshWarehouses,
    Rejected,
    Text,
    parse_payload,
)
from shunter.receivers.providers.common import require_signature
from shunter.receivers.signatures import hex_hmac_sha256_valid

__all__ = ["handle"]

SIGNATURE_HEADER = "X-Jfrog-Event-Auth"


class _Data(PayloadModel):
    path: Text = ""
    repo_key: Text = ""
    image_name: Text = ""
    image_type: Text = ""
    tag: Text = ""


class _Event(PayloadModel):
    domain: Text = ""
    event_type: Text = ""
    data: _Data | None = None
    jpd_origin: Text = ""


def handle(request: Inbound, secret: bytes, config: WebhookReceiverConfig) -> Outcome:
    """Authenticate and read one Artifactory event."""
    require_signature(request, SIGNATURE_HEADER, secret, hex_hmac_sha256_valid)
    event = parse_payload(request.body, _Event)
    data = event.data or _Data()
    if event.event_type != "pushed" or event.domain != "docker":
        raise Rejected(501, "event type must be 'pushed' and domain must be 'docker'")
    normalize = {"docker": normalize_image_url, "oci": normalize_chart_url}.get(data.image_type)
    if normalize is None:
        raise Rejected(501, f"unsupported image type {data.image_type!r}")
    try:
        host = urlsplit(event.jpd_origin).netloc.rpartition("@")[2]
    except ValueError:
        raise Rejected(
            400, f"invalid value {event.jpd_origin!r} in payload's jpd_origin field"
        ) from None
    sections = data.path.split("/")
    if len(sections) < 2:
        raise Rejected(400, f"invalid value {data.path!r} in payload's data.path field")
    settings = config.artifactory
    repo = (settings.virtual_repo_name if settings else None) or data.repo_key
    repo_url = "/".join([host, repo, *sections[:-2]])
    return RefreshWarehouses((normalize(repo_url),), (data.tag,))
