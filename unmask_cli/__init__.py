"""unmask: restore the face hidden behind a face mask."""

__version__ = "0.1.0"
