"""`session-studio dev`: a complete local demo in one command.

Starts anvil, deploys the demo USDC (its address is deterministic, so `config/dev.toml` can name
it), creates a fresh workspace in `./.studio-dev/`, registers a demo agent with a funded session,
prints a web3.py snippet that works as pasted, and serves. The folder is rebuilt on every run:
a new chain with an old ledger would carry stale nonces.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from session_studio.policy import Permission, parse_amount
from session_studio.store import AgentCeiling, SessionType

from session_studio._app import Studio, serve_forever
from session_studio.services import SessionSpec
from session_studio.settings import load_settings

from ._chain import (
    DEMO_USDC_DEV_ADDRESS,
    AnvilNode,
    deploy_demo_usdc,
    fund_native,
    mint_usdc,
)

DEV_CHAIN_ID = 31337
DEMO_AGENT = "demo-agent"
# The demo session signs up to 20 USD on its own and holds costlier requests (up to its per-tx
# cap of 50) for a person: the Studio's Approvals inbox, or `session-studio approvals`.
DEMO_APPROVE_ABOVE = parse_amount("20")


def find_dev_config() -> Path:
    for base in (Path(__file__).resolve().parent.parent, Path.cwd()):
        candidate = base / "config" / "dev.toml"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("config/dev.toml not found: run `session-studio dev` from the repo")


def run_dev(args: argparse.Namespace) -> int:
    workdir: Path = args.dir.resolve()
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    config_path = workdir / "session-studio.toml"
    shutil.copyfile(find_dev_config(), config_path)
    settings = load_settings(config_path)
    upstream = urlparse(settings.chains[DEV_CHAIN_ID].rpc_url)
    with AnvilNode(port=upstream.port or 8545, chain_id=DEV_CHAIN_ID,
                   log_path=workdir / "anvil.log") as node:
        w3 = node.web3()
        token = deploy_demo_usdc(w3)
        assert token == DEMO_USDC_DEV_ADDRESS, "config/dev.toml names another USDC address"
        from session_studio.cli import initialise

        setup_link = asyncio.run(initialise(config_path))
        artifact = asyncio.run(_provision(config_path))
        fund_native(w3, artifact["address"], 10 * 10**18)
        mint_usdc(w3, token, artifact["address"], 1_000 * 10**6)
        print(_banner(setup_link, config_path, artifact, token), flush=True)
        if args.no_serve:
            return 0
        asyncio.run(_serve(config_path))
    return 0


async def _provision(config_path: Path) -> dict[str, Any]:
    studio = await Studio.open(load_settings(config_path))
    try:
        svc = studio.service
        ws = await svc.workspace(None)
        # With a self-service ceiling, so an agent runtime (AgentWallet) can re-create or
        # rotate its session on its own within the demo terms.
        await svc.register_agent(
            ws, DEMO_AGENT, parse_amount("500"), actor="dev", ceiling=AgentCeiling(
                permissions=(Permission.TRANSFER,), chain_ids=(DEV_CHAIN_ID,),
                tokens=("USDC", "ETH"), limit_unit="USD", per_tx=parse_amount("50"),
                daily=parse_amount("200"), max_lifetime_s=7 * 86400, max_live_sessions=2,
                approve_above=DEMO_APPROVE_ABOVE))
        artifact = await svc.create_session(ws, SessionSpec(
            type=SessionType.AGENT, label="demo payments", agent=DEMO_AGENT,
            chain_ids=(DEV_CHAIN_ID,), permissions=(Permission.TRANSFER,),
            tokens=("USDC", "ETH"), limit_unit="USD", per_tx=parse_amount("50"),
            daily=parse_amount("200"), lifetime_s=7 * 86400,
            approve_above=DEMO_APPROVE_ABOVE), actor="dev")
        return artifact.as_json()
    finally:
        await studio.close()


async def _serve(config_path: Path) -> None:
    studio = await Studio.open(load_settings(config_path))
    try:
        await serve_forever(studio)
    finally:
        await studio.close()


def web3_snippet(rpc_url: str, credential: str, token: str) -> str:
    return f'''from web3 import Web3

w3 = Web3(Web3.HTTPProvider(
    "{rpc_url}",
    request_kwargs={{"headers": {{"Authorization": "Bearer {credential}"}}}},
))
me = w3.eth.accounts[0]                      # the session's address; the key stays in the sidecar
usdc = w3.eth.contract(address="{token}", abi=[{{
    "name": "transfer", "type": "function", "stateMutability": "nonpayable",
    "inputs": [{{"name": "to", "type": "address"}}, {{"name": "amount", "type": "uint256"}}],
    "outputs": [{{"name": "", "type": "bool"}}]}}])
to = "0x000000000000000000000000000000000000dEaD"
tx = usdc.functions.transfer(to, 5_000_000).transact({{"from": me}})        # 5 USDC: allowed
print("USDC:", w3.eth.wait_for_transaction_receipt(tx).status)
tx = w3.eth.send_transaction({{"from": me, "to": to, "value": w3.to_wei(0.001, "ether")}})
print("ETH:", w3.eth.wait_for_transaction_receipt(tx).status)
try:
    usdc.functions.transfer(to, 100_000_000).transact({{"from": me}})      # 100 USDC: over 50
except Exception as refused:
    print("refused:", refused)              # code 4001, data.reason = per_tx_limit_exceeded
'''


def _banner(setup_link: str | None, config_path: Path, artifact: dict[str, Any], token: str) -> str:
    line = "-" * 72
    return (f"{line}\nSession Studio dev is ready (config: {config_path})\n"
            f"  RPC URL:    {artifact['rpc_url']}\n"
            f"  credential: {artifact['credential']}\n"
            f"  session:    {artifact['address']}  (agent {artifact['agent']}, "
            f"per tx {artifact['limits']['per_tx']} / daily {artifact['limits']['daily']} "
            f"{artifact['limits']['unit']}, held for approval above "
            f"{artifact['limits']['approve_above']}, funded with 10 ETH and 1000 USDC)\n"
            f"  admin:      {setup_link}\n"
            f"              (one-time setup link: register your passkey, then manage sessions)\n"
            f"{line}\nPaste into python (web3.py):\n\n"
            f"{web3_snippet(artifact['rpc_url'], artifact['credential'], token)}{line}")
