"""Copy-and-paste client code for a session: Python web3.py, TypeScript viem and ethers v6.

The credential is read from the environment, never pasted into code: snippets end up in
repositories and chat logs, the secret should not.
"""

from __future__ import annotations

from ._schemas import SnippetLang

ENV = "SESSION_STUDIO_CREDENTIAL"


def snippet(lang: SnippetLang, address: str, chain_id: int, rpc_url: str) -> str:
    """Client code sending a zero-value transfer to itself from the session's address."""
    if lang is SnippetLang.PYTHON:
        return f'''import os
from web3 import Web3

# export {ENV}=<the session's credential>
w3 = Web3(Web3.HTTPProvider(
    "{rpc_url}",
    request_kwargs={{"headers": {{"Authorization": "Bearer " + os.environ["{ENV}"]}}}},
))
account = "{address}"
tx = w3.eth.send_transaction({{"from": account, "to": account, "value": 0}})
print(w3.eth.wait_for_transaction_receipt(tx).status)
'''
    if lang is SnippetLang.VIEM:
        return f'''import {{ createWalletClient, http }} from "viem";

// export {ENV}=<the session's credential>
const client = createWalletClient({{
  account: "{address}",
  chain: {{ id: {chain_id}, name: "chain {chain_id}",
           nativeCurrency: {{ name: "Ether", symbol: "ETH", decimals: 18 }},
           rpcUrls: {{ default: {{ http: ["{rpc_url}"] }} }} }},
  transport: http("{rpc_url}", {{
    fetchOptions: {{ headers: {{ Authorization: `Bearer ${{process.env.{ENV}}}` }} }},
  }}),
}});
const hash = await client.sendTransaction({{ to: "{address}", value: 0n }});
console.log(hash);
'''
    return f'''import {{ FetchRequest, JsonRpcProvider }} from "ethers";

// export {ENV}=<the session's credential>
const request = new FetchRequest("{rpc_url}");
request.setHeader("Authorization", `Bearer ${{process.env.{ENV}}}`);
const provider = new JsonRpcProvider(request, {chain_id}, {{ staticNetwork: true }});
const signer = await provider.getSigner("{address}");
const tx = await signer.sendTransaction({{ to: "{address}", value: 0n }});
console.log((await tx.wait())?.status);
'''
