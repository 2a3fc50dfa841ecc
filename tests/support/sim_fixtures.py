"""ITFlow simulator fixtures (filled in by the simulator work)."""
