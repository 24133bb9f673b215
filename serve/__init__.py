"""Serve: answer HTTP for published releases, read-only over the catalog."""
