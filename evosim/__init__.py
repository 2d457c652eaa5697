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

from evosim.config import Config, ConfigError, load_config  # noqa: E402
from evosim.errors import UserError  # noqa: E402
from evosim.experiment import run_experiment  # noqa: E402
from evosim.model import EvolutionModel, Organism  # noqa: E402
from evosim.store import Run, RunError, load_run  # noqa: E402

__all__ = ["Config", "ConfigError", "EvolutionModel", "Organism", "Run", "RunError", "UserError", "load_config",
           "load_run", "run_experiment", "__version__"]
