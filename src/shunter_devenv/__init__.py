"""The local development environment: real servers started on 127.0.0.1.

This package starts the real components the test suite and the local demo need (etcd,
kube-apiserver, kube-controller-manager, kubectl, ...) as child processes bound to 127.0.0.1 on
random free ports. It backs the integration tests' fixtures, ``make cluster`` and ``make demo``
(``python -m shunter_devenv``). The operator never imports it.
"""
