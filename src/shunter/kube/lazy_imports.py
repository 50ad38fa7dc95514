"""``kubernetes_asyncio``'s package modules, imported on demand instead of all at once.

The library's ``__init__`` files import every generated API class and every model (about 850
modules, some 60 MB of a process' memory), although shunter uses a handful: the HTTP client and
its configuration, kubeconfig loading and leader election. :func:`install` puts a finder in
front of the import system that loads the few package modules listed in :data:`LAZY_PACKAGES`
differently: the statements of their ``__init__`` that import a name from a submodule
(``from kubernetes_asyncio.client.models.v1_pod import V1Pod``, ``import
kubernetes_asyncio.client as client``) become entries of a table, and the module's
``__getattr__`` imports the submodule the first time the name is read. Every other statement
runs as written. So every name the library exports still resolves to the same object, and only
what is used is ever imported (``kubernetes_asyncio.client.models.V1Lease`` imports that one
model module).

Installed by :mod:`shunter.kube` before it imports the library; a process that imported the
library earlier keeps the library's own (eager) modules.
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

__all__ = ["LAZY_PACKAGES", "install"]

#: The package modules whose ``__init__`` imports become lazy.
LAZY_PACKAGES = frozenset(
    {
        "kubernetes_asyncio",
        "kubernetes_asyncio.client",
        "kubernetes_asyncio.client.api",
        "kubernetes_asyncio.client.models",
    }
)


def _split(tree: ast.Module, package: str) -> tuple[dict[str, tuple[str, str | None]], ast.Module]:
    """The table ``name -> (module, attribute or None for the module itself)`` of the imports of
    the package's own submodules, and a module of every other statement."""
    table: dict[str, tuple[str, str | None]] = {}
    rest: list[ast.stmt] = []
    prefix = package.split(".", 1)[0] + "."
    for node in tree.body:
        if (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module is not None
            and node.module.startswith(prefix)
            and all(alias.name != "*" for alias in node.names)
        ):
            for alias in node.names:
                table[alias.asname or alias.name] = (node.module, alias.name)
        elif isinstance(node, ast.Import) and all(
            alias.name.startswith(prefix) and alias.asname for alias in node.names
        ):
            for alias in node.names:
                table[str(alias.asname)] = (alias.name, None)
        else:
            rest.append(node)
    return table, ast.Module(body=rest, type_ignores=[])


class _LazyInitLoader(importlib.abc.Loader):
    """Runs a package's ``__init__`` with its submodule imports deferred (see the module doc)."""

    def __init__(self, wrapped: importlib.machinery.SourceFileLoader) -> None:
        self._wrapped = wrapped

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        source = self._wrapped.get_source(module.__name__) or ""
        filename = self._wrapped.get_filename(module.__name__)
        table, rest = _split(ast.parse(source, filename), module.__name__)
        namespace = module.__dict__

        def __getattr__(name: str) -> Any:  # noqa: N807 - PEP 562's name
            where = table.get(name)
            if where is None:
                raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")
            target, attribute = where
            value: Any = importlib.import_module(target)
            if attribute is not None:
                value = getattr(value, attribute)
            namespace[name] = value
            return value

        def __dir__() -> list[str]:  # noqa: N807 - PEP 562's name
            return sorted(set(namespace) | set(table))

        namespace["__getattr__"] = __getattr__
        namespace["__dir__"] = __dir__
        exec(compile(rest, filename, "exec"), namespace)  # noqa: S102 - the library's own file


class _Finder(importlib.abc.MetaPathFinder):
    """Finds the :data:`LAZY_PACKAGES` as the path finder does, with the lazy loader."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in LAZY_PACKAGES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return spec  # not a plain source package (zipped, frozen...): import it as it is
        spec.loader = _LazyInitLoader(spec.loader)
        return spec


_FINDER = _Finder()


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (once)."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
