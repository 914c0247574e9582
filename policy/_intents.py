"""What a request would do, as explicit intents: the only thing the engine ever judges.

A transaction is turned into a tuple of intents (a native transfer, a token transfer, an approval,
gas, ...) or into `Undecodable`; nothing in between. Anything the decoder does not recognise
becomes an intent the engine refuses (contract call, contract creation), never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from ._money import Asset


class IntentKind(StrEnum):
    NATIVE_TRANSFER = "native_transfer"
    TOKEN_TRANSFER = "token_transfer"
    TOKEN_APPROVAL = "token_approval"
    APPROVAL_FOR_ALL = "approval_for_all"
    CONTRACT_CALL = "contract_call"
    CONTRACT_CREATION = "contract_creation"
    GAS = "gas"


@dataclass(frozen=True, slots=True, kw_only=True)
class Intent:
    """One effect of a request: `amount` base units of `asset` moved or put at risk."""

    kind: IntentKind
    asset: Asset | None
    amount: int
    counterparty: str | None = None  # recipient, spender or called contract (lower-case hex)
    selector: str | None = None  # 4-byte selector of a contract call, "0x" + 8 hex

    @property
    def unlimited(self) -> bool:
        """An allowance of 2**256-1 (or anything near it) is a blank cheque, whatever the cap."""
        return self.kind is IntentKind.TOKEN_APPROVAL and self.amount >= 2**255


@dataclass(frozen=True, slots=True, kw_only=True)
class Undecodable:
    """The decoder could not tell what the request does; the engine refuses it."""

    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainAssets:
    """The assets the operator configured on one chain: what can be valued there at all."""

    chain_id: int
    native: Asset
    tokens: Mapping[str, Asset]  # lower-case address -> token

    def token_at(self, address: str) -> Asset | None:
        return self.tokens.get(address.lower())


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionRequest:
    """A transaction as it will be signed, after the proxy parsed it and filled the gaps.

    `chain_id` is the chain of the URL, the only one the transaction is ever signed for;
    `declared_chain_id` is what the client wrote in `chainId`, kept so a mismatch is refused
    rather than silently corrected (POLICY.md, chain swapping).
    """

    chain_id: int
    declared_chain_id: int | None
    sender: str  # lower-case hex
    to: str | None  # lower-case hex; None is contract creation
    value: int
    data: bytes
    gas: int
    max_fee_per_gas: int  # worst-case price per gas: maxFeePerGas, or gasPrice for legacy
    tx_type: int
    has_authorization_list: bool = False

    @property
    def worst_case_gas_cost(self) -> int:
        return self.gas * self.max_fee_per_gas


DecodedTransaction = tuple[Intent, ...] | Undecodable
