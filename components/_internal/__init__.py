"""Helpers the rest of the package uses; not part of the public API."""
