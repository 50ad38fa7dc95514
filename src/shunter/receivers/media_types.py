"""Is a pushed OCI artifact an image or a Helm chart? What a media type says about a repository.

Registry webhooks name a repository and, sometimes, a media type. An image repository and a
chart repository normalise differently (in principle: today the two normalisations agree for
OCI references), so the URL is normalised the way the media type says - or both ways when it
says nothing useful, and the Warehouses subscribed to either are candidates:

* ``application/vnd.cncf.helm...``: a chart;
* an image index, a Docker manifest list or manifest, or an image config blob: an image;
* anything else, including an OCI manifest (images and charts both use it) or no media type:
  both.
"""

from __future__ import annotations

from shunter.freight.urls import normalize_chart_url, normalize_image_url

__all__ = ["normalized_repo_urls"]

_IMAGE_MEDIA_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.docker.container.image.v1+json",
    }
)


def normalized_repo_urls(repo_url: str, media_type: str = "") -> tuple[str, ...]:
    """One or two normalisations of a registry repository URL (duplicates dropped)."""
    if media_type.startswith("application/vnd.cncf.helm"):
        return (normalize_chart_url(repo_url),)
    if media_type in _IMAGE_MEDIA_TYPES:
        return (normalize_image_url(repo_url),)
    return tuple(dict.fromkeys((normalize_image_url(repo_url), normalize_chart_url(repo_url))))
