"""The heuristic: a fixed reactive map from what it senses to a move (no search, no objective)."""
from evosim.architectures import Architecture
from evosim import genome
from evosim.constants import Arch
from evosim.genome import HEURISTIC_BLOCK

ARCHITECTURE = Architecture(
    code=int(Arch.HEURISTIC),
    name="heuristic",
    label="heuristic",
    colour="#0173b2",  # seaborn colorblind blue
    description="reactive policy: argmax over moves of a linear score of feature signals, walls, momentum, noise",
    block=HEURISTIC_BLOCK,
    init="evosim.genome:random_core",
    # attraction and key attraction per channel of the world, wall, momentum, back, temperature
    expressed=lambda n_features, max_steps: 2 * n_features + 4,
    kernel="evosim.kernels.heuristic:_heuristic_play",
    twin="evosim.reference.naive:heuristic_action",
    express=genome.express_heuristic,
    stats=(),
)
