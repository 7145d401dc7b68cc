"""The family plan."""
