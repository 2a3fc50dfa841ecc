"""Shared fixtures. The ITFlow simulator and the Asterisk lab fixtures live in tests/support/."""

pytest_plugins = [
    "tests.support.sim_fixtures",
    "tests.support.lab.fixtures",
]
