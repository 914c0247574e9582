"""Dev only: put ETH and demo USDC on a fresh session's address on a local anvil chain.

A new session is a new key, so a new address with nothing on it: in production your treasury
funds it (a transfer from a funding wallet). On `make dev`'s anvil chain, anvil's first account
owns the demo USDC and may mint it, and `anvil_setBalance` sets ether balances, so the
examples can fund what they create with `--dev-faucet http://127.0.0.1:8545`.
"""

from __future__ import annotations

from web3 import Web3

MINT_ABI = [{"name": "mint", "type": "function", "stateMutability": "nonpayable",
             "inputs": [{"name": "to", "type": "address"},
                        {"name": "amount", "type": "uint256"}], "outputs": []}]


def fund_on_anvil(anvil_url: str, address: str, usdc: str, *, eth_wei: int = 10**18,
                  usdc_base_units: int = 1_000 * 10**6) -> None:
    w3 = Web3(Web3.HTTPProvider(anvil_url))
    w3.provider.make_request("anvil_setBalance", [address, hex(eth_wei)])  # type: ignore[arg-type]
    token = w3.eth.contract(address=Web3.to_checksum_address(usdc), abi=MINT_ABI)
    tx = token.functions.mint(Web3.to_checksum_address(address), usdc_base_units).transact(
        {"from": w3.eth.accounts[0]})  # anvil's unlocked dev account 0 deployed the demo USDC
    w3.eth.wait_for_transaction_receipt(tx)
