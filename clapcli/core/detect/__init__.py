"""Sound event detection (``clap detect``): windows over whole files scored against labels
(``scoring``), post-processed into events (``events``), drawn on request (``plot``)."""

from clapcli.core.detect.events import PostProcessing, detect_events
from clapcli.core.detect.scoring import MODES, LabelScorer, prepare_scorer, probe_scorer, score_files
from clapcli.core.windows import WindowSpec

__all__ = ["MODES", "LabelScorer", "PostProcessing", "WindowSpec", "detect_events", "prepare_scorer", "probe_scorer",
           "score_files"]
