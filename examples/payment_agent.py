"""A payment agent that pays from its Session Studio session and rotates it daily.

Run it on a schedule (cron, a CronJob): each run makes sure the agent has a usable session,
rotates it when it is a day old (revoke it, create a fresh one within the ceiling the operator
gave the agent), pays, and shows what a refusal looks like. The agent holds only its exported
config (its agent credential, RPC URLs and session terms); keys stay in the sidecar.

Against `make dev` (the demo agent `demo-agent` and its funded session):

    CONFIG=.studio-dev/session-studio.toml
    KEY=$(.venv/bin/session-studio sessions list --agent demo-agent --json --config $CONFIG \\
          | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["key_hash"])')
    .venv/bin/session-studio sessions export $KEY --json --config $CONFIG > agent.json
    .venv/bin/python examples/payment_agent.py --config agent.json --rotate-now \\
        --dev-faucet http://127.0.0.1:8545

Without `--config` the config comes from `$SESSION_STUDIO_AGENT_CONFIG` (a path or the JSON).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from session_studio import AgentWallet, PolicyDenied

USDC = 10**6  # base units per USDC
TOO_MUCH = 500 * USDC  # over the demo per-transaction limit (50 USD): to show a refusal


def session_age(wallet: AgentWallet) -> timedelta:
    current = wallet.init()
    created = next(s["created_at"] for s in wallet.list_sessions()
                   if s["key_hash"] == current.key_hash)
    return datetime.now(UTC) - datetime.fromisoformat(created.replace("Z", "+00:00"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--config", help="the exported agent config (JSON file)")
    parser.add_argument("--to", default="0x000000000000000000000000000000000000dEaD")
    parser.add_argument("--amount", type=int, default=5 * USDC, help="USDC base units")
    parser.add_argument("--rotate-every", type=float, default=24.0, help="hours")
    parser.add_argument("--rotate-now", action="store_true", help="rotate whatever the age")
    parser.add_argument("--dev-faucet", metavar="ANVIL_URL",
                        help="dev only: fund a fresh session on this anvil chain")
    args = parser.parse_args()

    wallet = AgentWallet.from_file(args.config) if args.config else AgentWallet.from_env()
    with wallet:
        session = wallet.init()
        print(f"session {session.key_hash[:10]} at {session.address}")

        if args.rotate_now or session_age(wallet) >= timedelta(hours=args.rotate_every):
            old = session
            session = wallet.rotate()
            print(f"rotated: {old.key_hash[:10]} revoked, now {session.key_hash[:10]} "
                  f"at {session.address}")
            if args.dev_faucet:
                from dev_faucet import fund_on_anvil

                usdc = wallet.config.token_addresses[wallet.chain_id]["USDC"]
                fund_on_anvil(args.dev_faucet, session.address, usdc)
            # In production: fund the new address from your treasury before paying from it.

        receipt = wallet.transfer(args.to, args.amount, "USDC")
        print(f"paid {Decimal(args.amount).scaleb(-6)} USDC: tx {receipt['transactionHash'].hex()} "
              f"status {receipt['status']}")

        try:
            wallet.transfer(args.to, TOO_MUCH, "USDC")
        except PolicyDenied as refused:
            print(f"refused: {refused.reason} ({refused.detail})")

        for status in wallet.get_session_statuses():
            print(f"  {status['key_hash'][:10]} {status['status']:<8} spent "
                  f"{status['spent_in_window']}/{status['limits']['daily']} "
                  f"{status['limits']['unit']}")


if __name__ == "__main__":
    main()
