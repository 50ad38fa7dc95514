"""Kubernetes admission webhooks for Kargo's kinds, served by the operator process.

What each webhook does is in its module (:mod:`~shunter.admission.promotions`,
:mod:`~shunter.admission.freights`, :mod:`~shunter.admission.pipelines`,
:mod:`~shunter.admission.projects`); :mod:`~shunter.admission.webhooks` lists them,
:mod:`~shunter.admission.server` serves them over TLS, :mod:`~shunter.admission.tls` and
:mod:`~shunter.admission.certificates` make and renew the certificate,
:mod:`~shunter.admission.registration` builds the webhook configurations, and
:class:`AdmissionService` puts it together. Handlers read only through
:class:`AdmissionLookups`.

:class:`AdmissionService` and :class:`AdmissionSettings` are imported on first use: the server
and its certificates (``cryptography``) cost memory that an operator without admission webhooks
does not spend.
"""

from typing import TYPE_CHECKING, Any

from shunter.admission.lookups import AdmissionLookups, CacheLookups

if TYPE_CHECKING:
    from shunter.admission.service import AdmissionService, AdmissionSettings

__all__ = ["AdmissionLookups", "AdmissionService", "AdmissionSettings", "CacheLookups"]


def __getattr__(name: str) -> Any:
    """``AdmissionService`` and ``AdmissionSettings``, imported when first asked for."""
    if name in ("AdmissionService", "AdmissionSettings"):
        from shunter.admission import service  # noqa: PLC0415 - cryptography on demand

        return getattr(service, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
