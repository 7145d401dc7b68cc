"""Kring's Yjs sync server: knows documents and permissions, not families."""
