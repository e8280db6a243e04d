"""The built-in protocols, one module each; importing this package imports every module in
it, and each registers its protocol (:mod:`oversight.protocol_registry`). A new protocol is a
new module here (and its prompt templates), nothing else."""

import importlib
import pkgutil

from graphs.protocols.rounds import DebateState, initial_state

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["DebateState", "initial_state"]
