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

# The public names load on first use (PEP 562), so that importing a light module such as
# evosim.schema, evosim.objectives or evosim.figures does not load the model and its numba kernels.
_HOMES = {"Config": "evosim.config", "ConfigError": "evosim.config", "load_config": "evosim.config",
          "UserError": "evosim.errors", "run_experiment": "evosim.experiment", "EvolutionModel": "evosim.model",
          "Organism": "evosim.model", "Run": "evosim.store", "RunError": "evosim.store", "load_run": "evosim.store"}


def __getattr__(name: str):
    if name in _HOMES:
        import importlib

        value = getattr(importlib.import_module(_HOMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'evosim' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_HOMES))


__all__ = ["Config", "ConfigError", "EvolutionModel", "Organism", "Run", "RunError", "UserError", "load_config",
           "load_run", "run_experiment", "__version__"]
