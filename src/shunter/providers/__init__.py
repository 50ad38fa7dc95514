"""The steps' clients of external systems, with the config keys the steps share to reach them.

* :mod:`shunter.providers.github`: GitHub's pull-request REST API (``git-open-pr``,
  ``git-wait-for-pr``, ``git-merge-pr``).
* :mod:`shunter.providers.argocd`: Application selection and the Argo CD client
  (``argocd-update``, ``argocd-wait``), over :mod:`shunter.argocd`.
* :mod:`shunter.providers.oci`: OCI references, registry credentials and clients
  (``oci-download``, ``oci-push``), over :mod:`shunter.registries.oci`.
* :mod:`shunter.providers.safehttp`: the httpx client that refuses link-local addresses, for
  every request to a user-given URL.

They raise the engine's :class:`~shunter.promotion.step.StepError` kinds, so a step can let
their errors through.
"""

from __future__ import annotations

__all__: list[str] = []
