"""The env collection."""
