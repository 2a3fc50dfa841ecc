"""Asterisk lab fixtures (filled in by the lab work)."""
