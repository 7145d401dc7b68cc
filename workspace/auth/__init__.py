"""Sign-in: passwords, server-side sessions, login throttling, personal invitations."""
