"""shunter: a Kargo-compatible promotion operator for GitOps pipelines."""

__version__ = "0.1.0"
