"""The images collection."""
