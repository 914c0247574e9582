"""What a valid config turns into: defaults, derived values, conversions, token lookup."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from session_studio.settings import ListenAddress, PriceSource, Settings, parse_settings

BASE_USDC = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
BASE_ETH_USD_FEED = "0x71041dddad3595F9CEd3DcCFBe3D1F4b0a16Bb70"
Parse = Callable[[dict[str, Any]], Settings]
MINIMAL = """
[chains.8453]
name = "base"
rpc_url = "http://127.0.0.1:8545"
native_symbol = "ETH"
native_price = { usd = "3000.00" }
"""


def test_minimal_config_gets_the_contract_defaults() -> None:
    settings = parse_settings(MINIMAL, config_path=Path("/srv/studio/session-studio.toml"))

    server = settings.server
    assert server.rpc_listen == ListenAddress(host="127.0.0.1", port=8645)
    assert server.admin_listen == ListenAddress(host="127.0.0.1", port=8646)
    assert server.metrics_listen == ListenAddress(host="127.0.0.1", port=9646)
    assert server.public_rpc_url == "http://127.0.0.1:8645"
    assert (server.max_body_bytes, server.max_batch_size) == (1_048_576, 100)
    assert server.upstream_timeout_s == 10.0
    assert server.allow_raw_transactions is False
    assert settings.database.path == Path("/srv/studio/studio.db")
    assert settings.database.url is None
    assert settings.keystore.master_key_file == Path("/srv/studio/master.key")
    assert (settings.admin.rp_id, settings.admin.origin) == ("localhost", "http://localhost:8646")
    assert settings.policy.window == "rolling_24h"
    assert settings.policy.max_outstanding_signed == 4
    assert settings.chains[8453].native_decimals == 18
    assert settings.chains[8453].max_fee_per_gas_wei is None
    assert settings.tokens == ()


def test_public_rpc_url_is_derived_from_rpc_listen(parse: Parse, full_config: Any) -> None:
    document = full_config()
    document["server"] = {"rpc_listen": "localhost:9000"}

    assert parse(document).server.public_rpc_url == "http://localhost:9000"


def test_public_rpc_url_for_a_wildcard_listen_uses_loopback(parse: Parse, full_config: Any) -> None:
    document = full_config()
    document["server"] = {"rpc_listen": "0.0.0.0:8645"}

    assert parse(document).server.public_rpc_url == "http://127.0.0.1:8645"


def test_public_rpc_url_loses_its_trailing_slash(parse: Parse, full_config: Any) -> None:
    document = full_config()
    document["server"] = {"public_rpc_url": "https://studio.example.com/rpc-gw/"}

    assert parse(document).server.public_rpc_url == "https://studio.example.com/rpc-gw"


def test_ipv6_listen_address_is_unbracketed(parse: Parse, full_config: Any) -> None:
    document = full_config()
    document["server"] = {"admin_listen": "[::1]:8646"}

    listen = parse(document).server.admin_listen

    assert listen == ListenAddress(host="::1", port=8646)
    assert str(listen) == "[::1]:8646"


def test_port_zero_is_allowed_for_a_free_port(parse: Parse, full_config: Any) -> None:
    document = full_config()
    document["server"] = {"metrics_listen": "localhost:0"}

    assert parse(document).server.metrics_listen == ListenAddress(host="localhost", port=0)


def test_relative_paths_resolve_against_the_config_dir(
    parse: Parse, full_config: Any, config_path: Path
) -> None:
    document = full_config()
    document["database"] = {"path": "data/studio.db"}
    document["keystore"] = {"master_key_file": "../secrets/master.key"}

    settings = parse(document)

    assert settings.database.path == config_path.parent / "data" / "studio.db"
    assert settings.keystore.master_key_file == config_path.parent / ".." / "secrets/master.key"


def test_absolute_paths_are_kept(parse: Parse, full_config: Any) -> None:
    document = full_config()
    document["database"] = {"path": "/var/lib/studio/studio.db"}

    assert parse(document).database.path == Path("/var/lib/studio/studio.db")


def test_relative_config_path_is_made_absolute(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)

    settings = parse_settings(MINIMAL, config_path=Path("session-studio.toml"))

    assert settings.config_path == tmp_path / "session-studio.toml"
    assert settings.database.path == tmp_path / "studio.db"


def test_database_url_replaces_the_default_path(parse: Parse, full_config: Any) -> None:
    document = full_config()
    document["database"] = {"url": "postgresql://studio@db.internal/studio"}

    database = parse(document).database

    assert (database.path, database.url) == (None, "postgresql://studio@db.internal/studio")


def test_the_database_pool_holds_ten_connections_unless_told(parse: Parse,
                                                             full_config: Any) -> None:
    document = full_config()
    document["database"] = {"url": "postgresql://studio@db.internal/studio"}
    default = parse(document).database.pool_size
    document["database"]["pool_size"] = 3

    assert (default, parse(document).database.pool_size) == (10, 3)


def test_gas_guard_in_gwei_becomes_wei(parse: Parse, full_config: Any) -> None:
    document = full_config()
    document["chains"]["8453"]["max_fee_per_gas_gwei"] = "1.5"
    document["chains"]["84532"]["max_fee_per_gas_gwei"] = 30

    chains = parse(document).chains

    assert chains[8453].max_fee_per_gas_wei == 1_500_000_000
    assert chains[84532].max_fee_per_gas_wei == 30_000_000_000


def test_feed_price_source_keeps_feed_and_max_age(parse: Parse, full_config: Any) -> None:
    price = parse(full_config()).chains[84532].native_price

    assert price == PriceSource(feed=BASE_ETH_USD_FEED, max_age_s=3600)


def test_lowercase_token_address_is_stored_checksummed(parse: Parse, full_config: Any) -> None:
    document = full_config()
    document["tokens"][0]["address"] = BASE_USDC.lower()

    assert parse(document).tokens[0].address == BASE_USDC


def test_same_symbol_on_two_chains_is_allowed(parse: Parse, full_config: Any) -> None:
    tokens = parse(full_config()).tokens

    assert [(t.chain_id, t.symbol) for t in tokens] == [(8453, "USDC"), (84532, "USDC")]


def test_token_lookup_by_symbol_is_case_sensitive(parse: Parse, full_config: Any) -> None:
    settings = parse(full_config())

    found = settings.token(8453, "USDC")
    assert found is not None
    assert found.address == BASE_USDC
    assert settings.token(8453, "usdc") is None


def test_token_lookup_by_address_ignores_case(parse: Parse, full_config: Any) -> None:
    settings = parse(full_config())

    assert settings.token(8453, BASE_USDC.upper().replace("0X", "0x")) == settings.tokens[0]
    assert settings.token(8453, BASE_USDC.lower()) == settings.tokens[0]


def test_token_lookup_stays_on_its_chain(parse: Parse, full_config: Any) -> None:
    settings = parse(full_config())

    assert settings.token(84532, BASE_USDC) is None
    assert settings.token(1, "USDC") is None
