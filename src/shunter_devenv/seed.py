"""The seed pipeline's manifests (``examples/seed/``) pointed at local servers.

The files in ``examples/seed/`` are the user story's manifests byte for byte. To run them
against local servers, two literal substitutions are made, and nothing else:

* the registry host ``us-east1-docker.pkg.dev`` becomes the local registry's ``host:port``
  (the image ``repoURL`` keeps its path ``/container/main-containers/example-container``);
* the git base ``https://github.com`` becomes the local git server's base URL (the repository
  keeps its path ``/test/sandbox.git``).
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "SEED_DIR",
    "SEED_GIT_BASE",
    "SEED_GIT_REPO_PATH",
    "SEED_IMAGE_PATH",
    "SEED_REGISTRY_HOST",
    "render_seed",
]

SEED_DIR = Path(__file__).resolve().parents[2] / "examples" / "seed"
SEED_REGISTRY_HOST = "us-east1-docker.pkg.dev"
SEED_IMAGE_PATH = "container/main-containers/example-container"
SEED_GIT_BASE = "https://github.com"
SEED_GIT_REPO_PATH = "test/sandbox.git"


def render_seed(registry_host: str, git_base_url: str, seed_dir: Path = SEED_DIR) -> str:
    """All seed manifests as one multi-document YAML text, URLs substituted.

    ``registry_host`` is e.g. ``127.0.0.1:5000``; ``git_base_url`` e.g.
    ``http://127.0.0.1:8080`` (no trailing slash).
    """
    parts = []
    for path in sorted(seed_dir.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        text = text.replace(f"{SEED_REGISTRY_HOST}/", f"{registry_host}/")
        text = text.replace(f"{SEED_GIT_BASE}/", f"{git_base_url.rstrip('/')}/")
        parts.append(text if text.startswith("---") else "---\n" + text)
    return "".join(parts)
