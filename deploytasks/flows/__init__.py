"""The flows collection."""
