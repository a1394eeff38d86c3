"""hardtech: an agent-based simulator of regional hardtech innovation ecosystems."""

__version__ = "0.1.0"
