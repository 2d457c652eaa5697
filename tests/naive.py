"""The kernels' naive twins: now ``evosim/reference/naive.py``; this module re-exports it.

Every kernel has a slow, obviously-correct twin there (see that module's docstring for the
list). The tests keep importing ``naive`` from here; ``evosim bench`` imports
``evosim.reference.naive`` directly. Edit the twins in their new home, not here.
"""
from evosim.reference import naive as _home
from evosim.reference.naive import *  # noqa: F401,F403

# the private helpers too (``import *`` skips names with a leading underscore)
globals().update({k: v for k, v in vars(_home).items() if k.startswith("_") and not k.startswith("__")})
