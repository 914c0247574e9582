"""Development tooling: a local anvil with the demo contracts, and `session-studio dev`.

Not part of the runtime wheel: it ships as its own distribution (`dev/pyproject.toml`),
installed by `make install` beside the sidecar, so a production install carries no anvil keys,
contract artifacts or demo setup. `session-studio dev` says so when it is missing.
"""

from __future__ import annotations

from ._chain import (
    ANVIL_DEFAULT_ADDRESS,
    ANVIL_DEFAULT_KEY,
    DEMO_USDC_DEV_ADDRESS,
    AnvilNode,
    DevchainError,
    bind_contract,
    break_gas_price_oracle,
    deploy_contract,
    deploy_demo_usdc,
    deploy_mock_aggregator,
    erc20_balance,
    find_anvil,
    free_port,
    fund_native,
    install_gas_price_oracle,
    mint_usdc,
    send_contract_transaction,
    set_aggregator_answer,
    set_l1_fee_per_byte,
)
from ._run import (
    run_dev,
)

__all__ = [
    "ANVIL_DEFAULT_ADDRESS",
    "ANVIL_DEFAULT_KEY",
    "DEMO_USDC_DEV_ADDRESS",
    "AnvilNode",
    "DevchainError",
    "bind_contract",
    "break_gas_price_oracle",
    "deploy_contract",
    "deploy_demo_usdc",
    "deploy_mock_aggregator",
    "erc20_balance",
    "find_anvil",
    "free_port",
    "fund_native",
    "install_gas_price_oracle",
    "mint_usdc",
    "run_dev",
    "send_contract_transaction",
    "set_aggregator_answer",
    "set_l1_fee_per_byte",
]
