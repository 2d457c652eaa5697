"""The memoriser: an open-loop plan, one action per step (no perception, no objective: a lookup table)."""
from evosim.architectures import Architecture
from evosim import genome
from evosim.constants import MEMO_STEPS, Arch
from evosim.genome import M_PLAN

ARCHITECTURE = Architecture(
    code=int(Arch.MEMORISER),
    name="memoriser",
    label="memoriser",
    colour="#cc78bc",  # seaborn colorblind pink
    description="plays the move its genome lists for each step, blind to the world",
    block=M_PLAN,
    init="evosim.genome:random_memo_block",
    # only the plan genes an episode can read
    expressed=lambda n_features, max_steps: min(MEMO_STEPS, int(max_steps)),
    kernel="evosim.kernels.memoriser:_memoriser_play",
    twin="evosim.reference.naive:memo_action",
    express=genome.express_memoriser,
    stats=(),
)
