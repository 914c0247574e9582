"""The TOML configuration, declared once (`SETTINGS`) and parsed into frozen settings.

Read once by the composition root; nothing else reads the environment or the file.
"""

from __future__ import annotations

from ._settings import (
    SETTINGS,
    ApprovalSettings,
    ChainSettings,
    ConfigError,
    ListenAddress,
    MetricsSettings,
    PriceSource,
    Settings,
    default_config_path,
    load_settings,
    parse_settings,
    settings_help,
)

__all__ = [
    "SETTINGS",
    "ApprovalSettings",
    "ChainSettings",
    "ConfigError",
    "ListenAddress",
    "MetricsSettings",
    "PriceSource",
    "Settings",
    "default_config_path",
    "load_settings",
    "parse_settings",
    "settings_help",
]
