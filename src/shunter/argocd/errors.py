"""Errors raised by the Argo CD adapter (messages name the Application and what to do)."""

from __future__ import annotations

__all__ = [
    "ApplicationNotFoundError",
    "ArgoCDError",
    "AuthorizationError",
    "SelectorError",
    "SourceUpdateError",
]


class ArgoCDError(Exception):
    """Something about an Argo CD Application prevents the requested action."""


class ApplicationNotFoundError(ArgoCDError):
    """No Application of that name (or none matching a selector) exists."""


class AuthorizationError(ArgoCDError):
    """The Application does not allow the Stage to change it (see ``authorized-stage``)."""


class SelectorError(ArgoCDError, ValueError):
    """A label selector is malformed."""


class SourceUpdateError(ArgoCDError):
    """A source update matches no source of an Application, or cannot be applied."""
