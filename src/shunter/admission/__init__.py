"""Kubernetes admission webhooks for Kargo's kinds, served by the operator process.

What each webhook does is in its module (:mod:`~shunter.admission.promotions`,
:mod:`~shunter.admission.freights`, :mod:`~shunter.admission.pipelines`,
:mod:`~shunter.admission.projects`); :mod:`~shunter.admission.webhooks` lists them,
:mod:`~shunter.admission.server` serves them over TLS, :mod:`~shunter.admission.tls` and
:mod:`~shunter.admission.certificates` make and renew the certificate,
:mod:`~shunter.admission.registration` builds the webhook configurations, and
:class:`AdmissionService` puts it together. Handlers read only through
:class:`AdmissionLookups`.
"""

from shunter.admission.lookups import AdmissionLookups, CacheLookups
from shunter.admission.service import AdmissionService, AdmissionSettings

__all__ = ["AdmissionLookups", "AdmissionService", "AdmissionSettings", "CacheLookups"]
