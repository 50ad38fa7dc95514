"""The API group and version of every kind in this package (no pydantic: the CLI reads it)."""

__all__ = ["GROUP", "VERSION"]

#: The API group Kargo's kinds belong to.
GROUP = "kargo.akuity.io"
#: Their version.
VERSION = "v1alpha1"
