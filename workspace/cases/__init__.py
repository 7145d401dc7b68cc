"""Cases, the people in them, and who takes part as what."""
