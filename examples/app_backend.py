"""A web app backend that pays through an app session: `POST /pay {"to", "amount"}`.

The backend holds an app session's credential (its provisioning artifact); the key stays in
the sidecar, which refuses anything outside the session's policy. A refusal becomes HTTP 403
with the reason code, so the app can tell the user "over today's limit" rather than "error".

App sessions are created by a person with a passkey (the Studio page) or the CLI, never by an
API token. Against `make dev`:

    CONFIG=.studio-dev/session-studio.toml
    .venv/bin/session-studio sessions create --type app --label shop --chains 31337 \\
        --permissions transfer --tokens USDC --per-tx-limit 50 --daily-limit 200 \\
        --expires-in 7d --json --config $CONFIG > app.json
    .venv/bin/python examples/app_backend.py demo --artifact app.json \\
        --dev-faucet http://127.0.0.1:8545
    # or serve it:  .venv/bin/python examples/app_backend.py serve --artifact app.json
    #               curl -X POST localhost:8080/pay -d '{"to": "0x...dEaD", "amount": "5"}'

The artifact is the only way in: an admin API token cannot export an app session (that would
sidestep the passkey that creating one needs; the API answers 403 `passkey_required`), so the
person who created the session hands the artifact to the backend, as a file or in
`$SESSION_STUDIO_APP_ARTIFACT`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from session_studio.sdk import sidecar_async_web3
from web3 import AsyncWeb3, Web3

from session_studio import PolicyDenied

USDC_DECIMALS = 6
ERC20_TRANSFER_ABI = [{
    "name": "transfer", "type": "function", "stateMutability": "nonpayable",
    "inputs": [{"name": "to", "type": "address"}, {"name": "amount", "type": "uint256"}],
    "outputs": [{"name": "", "type": "bool"}]}]
W3: web.AppKey[AsyncWeb3[Any]] = web.AppKey("w3")
USDC: web.AppKey[str] = web.AppKey("usdc")


def base_units(amount: str) -> int:
    """"5.25" USDC -> 5250000, exactly; more than 6 places is an error, not a rounding."""
    units = Decimal(amount).scaleb(USDC_DECIMALS)
    if units != units.to_integral_value() or units < 0:
        raise ValueError(f"{amount} is not a USDC amount")
    return int(units)


async def pay(request: web.Request) -> web.Response:
    w3, usdc = request.app[W3], request.app[USDC]
    try:
        body = await request.json()
        to, units = Web3.to_checksum_address(body["to"]), base_units(str(body["amount"]))
    except (ValueError, KeyError, TypeError, InvalidOperation) as bad:
        return web.json_response({"error": f"bad request: {bad}"}, status=400)
    token = w3.eth.contract(address=Web3.to_checksum_address(usdc), abi=ERC20_TRANSFER_ABI)
    try:
        tx = await token.functions.transfer(to, units).transact()
    except PolicyDenied as refused:  # nothing was signed or spent
        return web.json_response({"refused": refused.reason, "detail": refused.detail},
                                 status=403)
    receipt = await w3.eth.wait_for_transaction_receipt(tx)
    return web.json_response({"tx_hash": tx.to_0x_hex(), "status": receipt["status"]})


async def bound_web3(args: argparse.Namespace,
                     artifact: dict[str, Any]) -> tuple[AsyncWeb3[Any], str]:
    """The session's AsyncWeb3 (its address as default account) and the USDC address."""
    w3 = sidecar_async_web3(artifact["rpc_url"], artifact["credential"],
                            account=artifact["address"])
    chain = str(artifact["chain_ids"][0])
    address = artifact["address"]
    usdc = args.usdc or artifact.get("token_addresses", {}).get(chain, {}).get("USDC")
    if usdc is None:
        raise SystemExit("no USDC address: the artifact names none for its chain; pass --usdc")
    if args.dev_faucet:
        from dev_faucet import fund_on_anvil

        fund_on_anvil(args.dev_faucet, address, usdc)
    return w3, usdc


def make_app(w3: AsyncWeb3[Any], usdc: str) -> web.Application:
    app = web.Application()
    app[W3], app[USDC] = w3, usdc
    app.router.add_post("/pay", pay)

    async def disconnect(_: web.Application) -> None:
        await w3.provider.disconnect()

    app.on_cleanup.append(disconnect)
    return app


async def demo(app: web.Application) -> None:
    """Serve on a free port, pay 5 USDC (allowed) and 100 USDC (over the limit), stop."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as http:
            for amount in ("5", "100"):
                async with http.post(f"http://127.0.0.1:{port}/pay", json={
                        "to": "0x000000000000000000000000000000000000dEaD",
                        "amount": amount}) as answer:
                    print(f"pay {amount} USDC -> HTTP {answer.status} {await answer.json()}")
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("mode", choices=["serve", "demo"])
    parser.add_argument("--artifact", help="the app session's artifact (JSON file); default "
                                           "$SESSION_STUDIO_APP_ARTIFACT (the JSON)")
    parser.add_argument("--usdc", help="USDC address, if the artifact has no token_addresses")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--dev-faucet", metavar="ANVIL_URL",
                        help="dev only: fund the session on this anvil chain first")
    args = parser.parse_args()
    artifact = json.loads(Path(args.artifact).read_text() if args.artifact
                          else os.environ["SESSION_STUDIO_APP_ARTIFACT"])

    async def run() -> None:
        w3, usdc = await bound_web3(args, artifact)
        app = make_app(w3, usdc)
        if args.mode == "demo":
            await demo(app)
            return
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", args.port).start()
        print(f"listening on http://127.0.0.1:{args.port}/pay")
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    asyncio.run(run())


if __name__ == "__main__":
    main()
