"""The `[metrics]` table: its defaults, its values, and one-line errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from session_studio.settings import ConfigError, MetricsSettings, parse_settings

CONFIG_PATH = Path("/srv/studio/session-studio.toml")
CHAIN = """
[chains.8453]
name = "base"
rpc_url = "http://127.0.0.1:8545"
native_symbol = "ETH"
native_price = { usd = "3000.00" }
"""


def test_without_a_metrics_table_per_session_series_are_on_and_refresh_every_few_seconds(
) -> None:
    settings = parse_settings(CHAIN, config_path=CONFIG_PATH)

    assert settings.metrics == MetricsSettings(per_session=True, snapshot_interval_s=5.0,
                                               usage_flush_interval_s=1.0)


def test_metrics_table_sets_every_key() -> None:
    text = ("[metrics]\nper_session = false\nsnapshot_interval_s = 30\n"
            "usage_flush_interval_s = 0.5\n" + CHAIN)

    settings = parse_settings(text, config_path=CONFIG_PATH)

    assert settings.metrics == MetricsSettings(per_session=False, snapshot_interval_s=30.0,
                                               usage_flush_interval_s=0.5)


@pytest.mark.parametrize(("line", "message"), [
    ('per_session = "no"', "metrics.per_session: expected true or false, got 'no'"),
    ("snapshot_interval_s = 0", "metrics.snapshot_interval_s: expected a number of seconds > 0"
                                ", got 0"),
    ("usage_flush_interval_s = -1", "metrics.usage_flush_interval_s: expected a number of "
                                    "seconds > 0, got -1"),
    ("per_sesion = true", "unknown key 'metrics.per_sesion'"),
])
def test_bad_metrics_value_fails_with_one_line_naming_the_key(line: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_settings(f"[metrics]\n{line}\n{CHAIN}", config_path=CONFIG_PATH)

    assert str(raised.value) == message
