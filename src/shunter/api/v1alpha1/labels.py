"""Label keys that carry behaviour, as Kargo defines them."""

__all__ = [
    "ALIAS",
    "ALIAS_VALUE_PATTERN",
    "CRED_TYPE",
    "FREIGHT_COLLECTION",
    "PROJECT",
    "REPLICATED_FROM",
    "SHARD",
    "STAGE",
]

#: On a Namespace: ``"true"`` marks (or lets a Project adopt) a project namespace.
PROJECT = "kargo.akuity.io/project"
#: On Freight: mirror of ``alias`` for ``kubectl get -l``.
ALIAS = "kargo.akuity.io/alias"
#: What an alias may be: a label value that is not empty (at most 63 letters, digits, ``-``,
#: ``_`` and ``.``, starting and ending with a letter or digit).
ALIAS_VALUE_PATTERN = r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
#: On Warehouse, Stage and Promotion: the controller shard.
SHARD = "kargo.akuity.io/shard"
#: On Promotion and AnalysisRun: the Stage (hash-shortened to 63 characters).
STAGE = "kargo.akuity.io/stage"
#: On AnalysisRun: the FreightCollection ID.
FREIGHT_COLLECTION = "kargo.akuity.io/freight-collection"
#: On Secret: ``git``, ``helm``, ``image`` or ``generic``.
CRED_TYPE = "kargo.akuity.io/cred-type"
#: On replicated Secrets and ConfigMaps.
REPLICATED_FROM = "kargo.akuity.io/replicated-from"
