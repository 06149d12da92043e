"""Helpers with no knowledge of films or models: atomic writes, class paths, distributed gathering."""
