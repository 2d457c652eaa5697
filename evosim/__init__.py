"""evosim: evolution produces mesa-optimisers.

A genetic algorithm (the base optimiser) evolves grid-world organisms that are either fixed
reactive heuristics or planners with their own evolved utility (mesa-optimisers); when the
world shifts, what they pursue comes apart from what they were selected for.

>>> import evosim
>>> cfg = evosim.load_config("runs/quickstart.toml")
>>> model = evosim.EvolutionModel(cfg, rng=3)
>>> model.step()
"""
__version__ = "0.1.0"

import importlib

#: the package's public names and the module each lives in, imported on first use (PEP 562) so that
#: ``import evosim.config`` (or schema, architectures, worlds) does not import the model, the GA or the kernels
_EXPORTS = {
    "Config": "evosim.config", "ConfigError": "evosim.config", "load_config": "evosim.config",
    "UserError": "evosim.errors", "run_experiment": "evosim.experiment",
    "EvolutionModel": "evosim.model", "Organism": "evosim.model",
    "Run": "evosim.store", "RunError": "evosim.store", "load_run": "evosim.store",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'evosim' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_EXPORTS))


__all__ = ["Config", "ConfigError", "EvolutionModel", "Organism", "Run", "RunError", "UserError", "load_config",
           "load_run", "run_experiment", "__version__"]
