"""A small synchronous Kubernetes client for the command line, apart from the operator's.

:mod:`shunter.cliclient.kubeconfig` reads kubeconfig files (or the pod's service account) the
way kubectl does; :mod:`shunter.cliclient.client` talks JSON to the API server over the
standard library's ``http.client``. Neither imports the ``kubernetes`` library, pydantic or an
async HTTP stack, so that ``shunter get stages`` starts and answers in a fraction of a second.
The operator never imports this package (an import-linter contract keeps it that way).
"""
