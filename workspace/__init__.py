"""Kring's workspace: the domain (cases, people, plan, decisions...) and its web views."""
