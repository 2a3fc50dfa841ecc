"""pbx-bridge: joins FreePBX/Asterisk to ITFlow."""

__version__ = "0.1.0"
