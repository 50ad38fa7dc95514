"""Byte-exact editors of configuration files: change the values asked for, keep every other byte.

* :mod:`shunter.edit.keypath`: the key-path syntax of the ``*-update`` steps (``a.b.0.c``).
* :mod:`shunter.edit.yaml`: set values in YAML text (with :mod:`~shunter.edit.yaml_tree`, a
  position-aware parse, and :mod:`~shunter.edit.yaml_scalar`, scalar rendering).
* :mod:`shunter.edit.json`: set values in JSON text.
* :mod:`shunter.edit.toml`: set values in TOML text.

The editors know nothing of steps, Promotions or Kubernetes: they take text and updates and
return text, raising their own errors. They import only the standard library, ruamel.yaml and
tomlkit.
"""

from __future__ import annotations

__all__: list[str] = []
