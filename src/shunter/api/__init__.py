"""The wire format of shunter's custom resources (Kargo's ``kargo.akuity.io`` API group).

This package is a leaf: it imports only pydantic and the standard library, so that tests,
documentation and CRD generation can load it without the operator.
"""
