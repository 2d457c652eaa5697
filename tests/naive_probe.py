"""The probe kernels' naive twins: now ``evosim/reference/naive_probe.py``; this module re-exports it.

The tests keep importing ``naive_probe`` from here. Edit the twins in their new home, not here.
"""
from evosim.reference import naive_probe as _home
from evosim.reference.naive_probe import *  # noqa: F401,F403

# the private helpers too (``import *`` skips names with a leading underscore)
globals().update({k: v for k, v in vars(_home).items() if k.startswith("_") and not k.startswith("__")})
