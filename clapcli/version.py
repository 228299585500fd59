"""The version, kept apart so any layer can read it without importing the package face (``clapcli``)."""

__version__ = "0.2.0"
