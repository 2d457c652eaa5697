"""The network: a recurrent convolutional controller over what it perceives, with a heritable number of
internal iterations per step (no built-in search, no explicit objective: whether it searches is measured)."""
from evosim.architectures import Architecture
from evosim import genome
from evosim.constants import Arch
from evosim.genome import NETWORK_WEIGHTS

#: ``organisms.network_channels`` by default (its description length without a config)
DEFAULT_CHANNELS = 4

ARCHITECTURE = Architecture(
    code=int(Arch.NETWORK),
    name="network",
    label="network",
    colour="#56b4e9",  # seaborn colorblind light blue
    description="recurrent 3x3 convolutions over walls and perceived features, iterated a heritable number of "
                "times per step, read out at the four neighbouring cells",
    block=NETWORK_WEIGHTS,
    init="evosim.genome:random_network_block",
    # both convolutions, biases, readout, momentum, back, iterations (at the default channel count; the
    # rollout's own count is ``organisms.network_channels``, see ``genome.expressed_genes``)
    expressed=lambda n_features, max_steps: genome.network_expressed(n_features, DEFAULT_CHANNELS),
    kernel="evosim.kernels.network:_network_play",
    twin="evosim.reference.naive:network_action",
    express=genome.express_network,
    stats=("iterations_mean",),
)
