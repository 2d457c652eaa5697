"""Sweep figures: now ``evosim/sweep/figures.py``; this module re-exports it for older imports.

Edit the figures in their new home, not here.
"""
from evosim.sweep import figures as _home
from evosim.sweep.figures import *  # noqa: F401,F403

# the private helpers too (``import *`` skips names with a leading underscore)
globals().update({k: v for k, v in vars(_home).items() if k.startswith("_") and not k.startswith("__")})
