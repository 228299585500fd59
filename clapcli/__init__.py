"""clapcli: audio-text embeddings, zero-shot classification, retrieval and generation.

The Python API lives in :mod:`clapcli.api`; the ``clap`` command is a thin layer over it.
"""

__version__ = "0.2.0"
