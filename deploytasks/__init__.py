"""deploytasks: take a repository of Prefect flows to a running Prefect server."""

__version__ = "0.1.0"
