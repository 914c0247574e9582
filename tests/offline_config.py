"""The chains part of a config for tests that never read a chain (CLI, admin API, Schemathesis):
their upstreams point at a port where nothing listens, prices are static."""

from __future__ import annotations

OFFLINE_RPC_URL = "http://127.0.0.1:1"
USDC_ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
CHAIN_NAMES = {31337: "local", 84532: "second"}


def chains_toml(*chain_ids: int, usdc_chain: int = 31337) -> str:
    """`[chains.N]` tables (native ETH at $3000) and a 6-decimal USDC at $1 on `usdc_chain`."""
    tables = [f"""\
[chains.{chain_id}]
name = "{CHAIN_NAMES.get(chain_id, f"chain-{chain_id}")}"
rpc_url = "{OFFLINE_RPC_URL}"
native_symbol = "ETH"
native_price = {{ usd = "3000.00" }}
""" for chain_id in chain_ids]
    tables.append(f"""\
[[tokens]]
chain_id = {usdc_chain}
symbol = "USDC"
address = "{USDC_ADDRESS}"
decimals = 6
price = {{ usd = "1.00" }}
""")
    return "\n".join(tables)
