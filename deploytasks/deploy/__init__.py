"""The deploy collection."""
