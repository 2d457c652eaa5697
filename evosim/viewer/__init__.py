"""The browser viewer: a SolaraViz page that replays what an organism pursues, on training
layouts and after the shift, beside its evolved and behavioural utilities.

``evosim view RUN_DIR`` serves it (``evosim.viewer.server``); ``ViewerData`` and
``EpisodeReplay`` work without a browser, e.g. in a notebook or a test.
"""
from evosim.viewer.data import Replay, ViewerData, ViewerError, open_run
from evosim.viewer.model import EpisodeReplay

__all__ = ["EpisodeReplay", "Replay", "ViewerData", "ViewerError", "open_run"]
