"""What a request would do, as explicit intents: the only thing the engine ever judges.

A transaction is turned into a tuple of intents (a native transfer, a token transfer, an approval,
gas, ...) or into `Undecodable`; nothing in between. Anything the decoder does not recognise
becomes an intent the engine refuses (contract call, contract creation), never a guess. Typed data
(EIP-712) is turned into the same intents, wrapped in `TypedDataIntents` with its domain.
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
    # An approval selector granting an asset the sidecar cannot value: `approve` sent to a
    # contract that is not a configured token (an unknown ERC-20, an ERC-721's `approve(to,
    # tokenId)`), Permit2's `approve` of an unknown token. `counterparty` is the contract whose
    # asset would be approved. Never signed (POLICY.md catalogue 11).
    UNVALUED_APPROVAL = "unvalued_approval"
    # Acts on tokens of an owner other than the session: `transferFrom(other, ...)` spending
    # someone's allowance, a permit naming another owner (POLICY.md catalogue 2). Never signed.
    FOREIGN_FUNDS = "foreign_funds"
    SWAP = "swap"  # a call to one of the chain's routers; `amount` is the native value sent
    CONTRACT_CALL = "contract_call"  # any other call; `amount` is the native value sent
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
    # Width of the on-chain allowance field: 256 for ERC-20, 160 for Permit2's uint160 amounts.
    amount_bits: int = 256

    @property
    def unlimited(self) -> bool:
        """An allowance with its field's top bit set is a blank cheque, whatever the cap.

        That is 2**255 and up for a uint256 allowance (max-uint approvals and anything near
        them), 2**159 and up for Permit2's uint160 ones (type(uint160).max never decreases).
        """
        return (self.kind in (IntentKind.TOKEN_APPROVAL, IntentKind.UNVALUED_APPROVAL)
                and self.amount >= 2 ** (self.amount_bits - 1))


@dataclass(frozen=True, slots=True, kw_only=True)
class Undecodable:
    """The decoder could not tell what the request does; the engine refuses it."""

    detail: str


# Uniswap's Permit2, deployed at the same address on every chain it supports.
CANONICAL_PERMIT2 = "0x000000000022d473030f116ddee9f6b43ac78ba3"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainAssets:
    """The assets the operator configured on one chain: what can be valued there at all."""

    chain_id: int
    native: Asset
    tokens: Mapping[str, Asset]  # lower-case address -> token
    routers: frozenset[str] = frozenset()  # lower-case swap router addresses (the swap permission)
    permit2: str | None = CANONICAL_PERMIT2  # lower-case; None: Permit2 is not deployed here

    def is_permit2(self, address: str | None) -> bool:
        return self.permit2 is not None and address is not None and (
            address.lower() == self.permit2.lower())

    def is_router(self, address: str) -> bool:
        return address.lower() in {router.lower() for router in self.routers}

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
    # The L1 data fee an OP-stack chain charges on top of gas (wei): the oracle's quote times
    # the safety margin, taken before the decision (session_studio.proxy._l1_fee). 0 on other
    # chains.
    l1_fee_wei: int = 0

    @property
    def worst_case_gas_cost(self) -> int:
        """Everything the sender may pay the chain in native wei: gas at its cap, plus L1 fee."""
        return self.gas * self.max_fee_per_gas + self.l1_fee_wei


DecodedTransaction = tuple[Intent, ...] | Undecodable


@dataclass(frozen=True, slots=True, kw_only=True)
class TypedDataIntents:
    """What an EIP-712 signature would authorise, as far as its domain and message tell.

    `opaque` is True for any message that is not a known spend type (a permit): it has no
    intents, and only an allowlisted `verifying_contract` may have it signed.
    """

    domain_chain_id: int | None  # `domain.chainId`; None when the domain has none
    verifying_contract: str | None  # lower-case hex; None when the domain has none
    primary_type: str
    intents: tuple[Intent, ...]
    opaque: bool


DecodedTypedData = TypedDataIntents | Undecodable
