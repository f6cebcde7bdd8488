"""curate: composable blocks for curating web-scale pre-training data."""

__version__ = "0.1.0"
