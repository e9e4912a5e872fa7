"""The package version, in a leaf module: importing it pulls in nothing else (no service, no torch)."""

__version__ = "0.1.0"
