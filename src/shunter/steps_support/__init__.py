"""Plumbing several step modules share; nothing here registers a step.

* :mod:`~shunter.steps_support.files`: read and write edited text files byte for byte.
* :mod:`~shunter.steps_support.atomicwrite`: write a file atomically (temporary file + rename).
* :mod:`~shunter.steps_support.glob`: doublestar globs over the work directory (``delete``).
* :mod:`~shunter.steps_support.messages`: Kargo-format commit-message fragments of the
  ``*-update`` steps.
* :mod:`~shunter.steps_support.parsefile`: config and output extraction of the ``*-parse`` steps.
* :mod:`~shunter.steps_support.render`: rendered-manifest plumbing of ``kustomize-build`` and
  ``helm-template``; :mod:`~shunter.steps_support.kustomization` checks a kustomization tree.
* :mod:`~shunter.steps_support.git_common`: author, credentials, working tree and errors of the
  git steps.
* :mod:`~shunter.steps_support.responses`: capped response bodies and status classification of
  the HTTP API steps.
* :mod:`~shunter.steps_support.kubeclient`: the Kubernetes client of the steps that change
  Kargo objects.
"""

from __future__ import annotations

__all__: list[str] = []
