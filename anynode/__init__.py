"""anynode: an edge data node you drive from a shell."""

__version__ = "0.1.0"
