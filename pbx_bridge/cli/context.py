"""What every CLI verb's handler gets: the parsed arguments and the settings, loaded on first use.

Loading only on demand lets ``--help``, ``sim`` and ``phonebook formats`` run without a config file.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path

from pbx_bridge.settings import Settings, load_settings

__all__ = ["CONFIG_ENV", "DEFAULT_CONFIG", "EXIT_FAIL", "EXIT_OK", "EXIT_USAGE", "CommandContext"]

DEFAULT_CONFIG = "/etc/pbx-bridge/config.yaml"
CONFIG_ENV = "PBX_BRIDGE_CONFIG"

# Exit codes: 0 ok, 1 the command failed, 2 usage or configuration error.
EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


@dataclass
class CommandContext:
    args: argparse.Namespace
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def config_path(self) -> Path:
        return Path(self.args.config or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings
