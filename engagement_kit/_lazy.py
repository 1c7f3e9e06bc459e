"""Names of a package that load on first use (PEP 562), shared by ``engagement_kit`` and
``engagement_kit.report``: a kernel imports the package without its heavy parts.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Set
from typing import Any


def lazy_attributes(
    package: str, names: Mapping[str, str], submodules: Set[str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``.

    Parameters
    ----------
    names : mapping
        Attribute → ``"module:attribute"`` (a module name relative to ``package`` starts with a
        dot); loaded on first access, then kept in ``namespace``.
    submodules : set
        Submodules reachable as attributes without an explicit import.
    namespace : dict
        The package's ``globals()``.
    """

    def __getattr__(name: str) -> Any:
        if name in submodules:
            return importlib.import_module(f".{name}", package)
        target = names.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attribute = target.split(":")
        value = getattr(importlib.import_module(module, package), attribute)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names) | set(submodules))

    return __getattr__, __dir__
