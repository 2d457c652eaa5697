"""The planner: searches over plans with an evolved utility over perceived features (a mesa-optimiser)."""
from evosim.architectures import Architecture
from evosim import genome
from evosim.constants import Arch
from evosim.genome import PLANNER_BLOCK

ARCHITECTURE = Architecture(
    code=int(Arch.PLANNER),
    name="planner",
    label="planner",
    colour="#de8f05",  # seaborn colorblind orange
    description="searches ordered visits to perceived objects under its world model, valued by its evolved utility",
    block=PLANNER_BLOCK,
    init="evosim.genome:random_core",
    # utility per channel, depth, discount
    expressed=lambda n_features, max_steps: n_features + 2,
    kernel="evosim.kernels.planner:_planner_play",
    twin="evosim.reference.naive:planner_action",
    express=genome.express_planner,
    stats=("depth_mean",),
)
