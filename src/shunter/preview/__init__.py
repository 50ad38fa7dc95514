"""Promotion previews (``shunter promote --dry-run``, the web UI's Preview): what a Promotion
would change, computed by running its steps in a scratch folder with the caller's identity and
without any step that has effects outside it (:mod:`shunter.preview.engine`), reported per
step and per repository (:mod:`shunter.preview.report`)."""

from shunter.preview.engine import Previewer, PreviewError, credentials_over_http
from shunter.preview.reader import AccessDenied, Reader
from shunter.preview.report import PreviewReport, render_text

__all__ = [
    "AccessDenied",
    "PreviewError",
    "PreviewReport",
    "Previewer",
    "Reader",
    "credentials_over_http",
    "render_text",
]
