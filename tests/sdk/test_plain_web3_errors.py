"""Users of plain web3.py (no SDK) still get the refusal's code and data: `Web3RPCError`
carries the JSON-RPC answer in `rpc_response`. And the SDK's `PolicyDenied` is a
`Web3RPCError` too, so code written for plain web3.py keeps working with the SDK."""

from __future__ import annotations

from typing import Any

import pytest
from e2e.harness import Studio
from e2e.rpc_client import fresh_address
from session_studio.sdk import sidecar_web3
from web3.exceptions import Web3RPCError

from session_studio import PolicyDenied

from .conftest import agent_with_session

pytestmark = pytest.mark.e2e
USDC = 10**6


def test_plain_web3_gets_code_and_data_of_a_denial_in_web3rpcerror(studio: Studio) -> None:
    agent = agent_with_session(studio)
    w3 = studio.web3(agent.config)  # web3.HTTPProvider with the header, as the README shows
    usdc = studio.usdc_contract(w3)

    with pytest.raises(Web3RPCError) as raised:
        usdc.functions.transfer(fresh_address(), 100 * USDC).transact(
            {"from": agent.config["address"]})

    assert not isinstance(raised.value, PolicyDenied)
    assert raised.value.rpc_response is not None
    error: Any = raised.value.rpc_response["error"]
    assert error["code"] == 4001
    assert error["message"].startswith("User denied")
    assert error["data"]["reason"] == "per_tx_limit_exceeded"


def test_the_sdk_denial_is_still_a_web3rpcerror(studio: Studio) -> None:
    agent = agent_with_session(studio)
    w3 = sidecar_web3(agent.config["rpc_url"], agent.config["credential"],
                      account=agent.config["address"])

    with pytest.raises(Web3RPCError) as raised:
        w3.eth.send_transaction({"to": fresh_address(), "value": 10**17})  # ~300 USD

    assert isinstance(raised.value, PolicyDenied)
    assert raised.value.reason == "per_tx_limit_exceeded"
    assert raised.value.rpc_response is not None
    assert raised.value.rpc_response["error"]["data"]["reason"] == "per_tx_limit_exceeded"
