"""The decision: session policy + decoded request + usage + prices -> allow (with a cost) or deny.

Pure and total: no I/O, no clock, no randomness, and every path returns a `Decision`. The store
calls `evaluate_transaction` *inside* the database transaction that reserves the spend, with the
session state it just read, so the check and the reservation are one atomic step
(POLICY.md, "Limits"). Checks run from the cheapest, most fundamental refusal to the limits, so a
revoked session is reported as revoked, not as over its limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ._intents import (
    DecodedTransaction,
    DecodedTypedData,
    Intent,
    IntentKind,
    TransactionRequest,
    Undecodable,
)
from ._money import PriceBook, format_amount, value_in_unit
from ._reasons import Permission, ReasonCode

WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionPolicy:
    """What a session may do; fixed at creation (rotation makes a new session)."""

    permissions: frozenset[Permission]
    chain_ids: frozenset[int]
    tokens: frozenset[str]  # symbols, native coins included ("ETH")
    unit: str  # "USD" or a token symbol
    per_tx: int  # atoms of `unit`
    daily: int  # atoms of `unit`, over the spend window
    max_fee_per_gas: int | None = None  # wei; None = no cap beyond the chain's
    # Transfers and approvals only to these (lower-case) addresses; None = any address.
    recipients: frozenset[str] | None = None
    # contract_call allowlist: lower-case address -> allowed "0x"-selectors (None = any).
    contracts: Mapping[str, frozenset[str] | None] = field(default_factory=dict)
    rate_limit_per_minute: int | None = None  # signing requests; None = unlimited
    # The agent's budget across all its sessions (revoked and rotated ones too), in `unit`
    # atoms; None = no agent-wide budget. Sessions of a budgeted agent are USD-limited.
    agent_daily_budget: int | None = None
    # A request that passes every check but costs more than this (unit atoms) is held for a
    # person's approval instead of signed; None = never held. `per_tx` and `daily` stay hard
    # caps: a held request has passed them, and approving never lifts them.
    approve_above: int | None = None
    # Held requests of the lineage that may wait at once: beyond it a costlier request is
    # refused `rate_limited` (it clears as a person decides), so an agent cannot flood the
    # inbox with cheap holds that each stay inside the window.
    max_pending_approvals: int = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentWindow:
    """The one spend window an agent's self-created sessions share (POLICY.md, "Limits").

    Each `studio_createSession` starts a new lineage with an empty window of its own; this is
    what keeps revoking and recreating (or letting a session expire) from buying a new one:
    everything those sessions spent counts against the ceiling's daily limit together."""

    unit: str  # the ceiling's limit unit
    limit: int  # the ceiling's daily limit, atoms of `unit`
    spent: int  # atoms, every self-created lineage of the agent, in the window


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionState:
    """The session's mutable facts, read inside the reserving transaction."""

    revoked: bool
    expires_at_ms: int
    spent_in_window: int  # atoms of the policy's unit, lineage-wide (rotation keeps the window)
    requests_last_minute: int = 0  # signing decisions of this session in the last 60 s
    agent_spent_in_window: int = 0  # atoms, every lineage of the session's agent
    # eth_signTransaction results of the lineage that the chain has neither mined nor passed
    # by nonce: signed, handed out, and broadcastable at any moment by whoever holds them.
    outstanding_signed: int = 0
    # Set for a session the agent created for itself; None for every other session.
    self_service: AgentWindow | None = None
    # Requests of the lineage held for a person right now (issue 14).
    pending_approvals: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """Outcome of one evaluation. `cost` is what an allowed request reserves, in unit atoms.

    Three verdicts: allowed (sign, reserving `cost`); held (`allowed` False, `held` True,
    reason `approval_required`: reserve `cost` but sign nothing until a person approves); and
    refused (neither: nothing is reserved)."""

    allowed: bool
    reason: ReasonCode | None
    detail: str
    cost: int = 0
    gas_cost: int = 0  # the worst-case gas part of `cost`, which settlement corrects later
    figures: Mapping[str, str] = field(default_factory=dict)
    held: bool = False

    @property
    def reserves(self) -> bool:
        """Whether the ledger reserves `cost` for this verdict: allowed, or held."""
        return self.allowed or self.held

    @classmethod
    def deny(cls, reason: ReasonCode, detail: str, **figures: str) -> Decision:
        return cls(allowed=False, reason=reason, detail=detail, figures=figures)


def window_start_ms(now_ms: int, mode: str = "rolling_24h") -> int:
    """Start of the spend window that contains `now_ms` (rolling 24 h or the UTC calendar day)."""
    if mode == "utc_day":
        now = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return int(midnight.timestamp() * 1000)
    return now_ms - int(WINDOW.total_seconds() * 1000)


def check_session_usable(state: SessionState, now_ms: int) -> Decision | None:
    """Revocation and expiry, shared by every signing method; None when the session may sign."""
    if state.revoked:
        return Decision.deny(ReasonCode.SESSION_REVOKED, "the session was revoked")
    if now_ms >= state.expires_at_ms:
        return Decision.deny(ReasonCode.SESSION_EXPIRED, "the session has expired")
    return None


def _admit(policy: SessionPolicy, state: SessionState, now_ms: int) -> Decision | None:
    """Usable, then under its rate limit: the checks every signing request starts with."""
    unusable = check_session_usable(state, now_ms)
    if unusable is not None:
        return unusable
    limit = policy.rate_limit_per_minute
    if limit is not None and state.requests_last_minute >= limit:
        return Decision.deny(ReasonCode.RATE_LIMITED,
                             f"{state.requests_last_minute} signing requests in the last minute; "
                             f"the limit is {limit}",
                             requests_last_minute=str(state.requests_last_minute),
                             rate_limit_per_minute=str(limit))
    return None


def evaluate_transaction(
    *,
    policy: SessionPolicy,
    state: SessionState,
    tx: TransactionRequest,
    decoded: DecodedTransaction,
    prices: PriceBook,
    now_ms: int,
    chain_max_fee_per_gas: int | None = None,
    max_outstanding_signed: int | None = None,
) -> Decision:
    """Decide whether `tx` may be signed for this session, and what it costs.

    `max_outstanding_signed` is given when the signed transaction is handed to the client
    (eth_signTransaction) instead of being broadcast: it bounds `state.outstanding_signed`.
    """
    refusal = _admit(policy, state, now_ms)
    if refusal is not None:
        return refusal
    refusal = _check_outstanding(state, max_outstanding_signed)
    if refusal is not None:
        return refusal
    if tx.declared_chain_id is not None and tx.declared_chain_id != tx.chain_id:
        return Decision.deny(
            ReasonCode.CHAIN_NOT_IN_SCOPE,
            f"chainId {tx.declared_chain_id} differs from the chain of the URL ({tx.chain_id})",
        )
    if tx.chain_id not in policy.chain_ids:
        return Decision.deny(ReasonCode.CHAIN_NOT_IN_SCOPE,
                             f"chain {tx.chain_id} is not in the session's scope")
    if tx.tx_type == 4 or tx.has_authorization_list:
        return Decision.deny(ReasonCode.PERMISSION_DENIED,
                             "EIP-7702 authorizations are never signed")
    if isinstance(decoded, Undecodable):
        return Decision.deny(ReasonCode.UNDECODABLE_REQUEST, decoded.detail)
    for intent in decoded:
        refusal = _check_intent(intent, policy)
        if refusal is not None:
            return refusal
    gas_cap = _tightest(policy.max_fee_per_gas, chain_max_fee_per_gas)
    if gas_cap is not None and tx.max_fee_per_gas > gas_cap:
        return Decision.deny(ReasonCode.GAS_PRICE_TOO_HIGH,
                             f"max fee per gas {tx.max_fee_per_gas} wei exceeds the cap {gas_cap}",
                             max_fee_per_gas=str(tx.max_fee_per_gas), cap=str(gas_cap))
    return _check_limits(policy, state, decoded, prices)


def _check_outstanding(state: SessionState, bound: int | None) -> Decision | None:
    """Signed is not spent: transactions held back by the client can all be broadcast in one
    block, whenever the window has moved on. A count of them, not their value, is bounded, and
    refused as `rate_limited` because, like the per-minute limit, it clears by itself (here,
    once settlement sees them mined or their nonce taken) and a retry later succeeds."""
    if bound is None or state.outstanding_signed < bound:
        return None
    return Decision.deny(ReasonCode.RATE_LIMITED,
                         f"{state.outstanding_signed} signed transactions are not on chain yet; "
                         f"at most {bound} may be outstanding (broadcast or replace them first)",
                         outstanding_signed=str(state.outstanding_signed),
                         max_outstanding_signed=str(bound))


def _tightest(a: int | None, b: int | None) -> int | None:
    caps = [c for c in (a, b) if c is not None]
    return min(caps) if caps else None


def _check_intent(intent: Intent, policy: SessionPolicy) -> Decision | None:
    kind = intent.kind
    if kind is IntentKind.GAS:
        return None
    if kind is IntentKind.CONTRACT_CREATION:
        return Decision.deny(ReasonCode.PERMISSION_DENIED, "contract creation is never signed")
    if kind is IntentKind.APPROVAL_FOR_ALL:
        return Decision.deny(ReasonCode.PERMISSION_DENIED,
                             "setApprovalForAll grants every token and is never signed, "
                             "to any contract, allowlisted or not")
    if kind is IntentKind.UNVALUED_APPROVAL:
        return _refuse_unvalued_approval(intent, policy)
    if kind is IntentKind.FOREIGN_FUNDS:
        # A call spending another owner's allowance keeps the reason it had before allowlists
        # existed, `contract_not_allowed` (no allowlist can cover it); a signed permit for
        # another owner's tokens is `permission_denied`.
        if intent.selector is not None:
            return Decision.deny(ReasonCode.CONTRACT_NOT_ALLOWED,
                                 f"{intent.selector} spending another owner's tokens is never "
                                 f"signed, allowlisted or not")
        return Decision.deny(ReasonCode.PERMISSION_DENIED,
                             "a permit for another owner's tokens is never signed")
    if kind in (IntentKind.SWAP, IntentKind.CONTRACT_CALL):
        refusal = _check_call(intent, policy)
        if refusal is not None or intent.amount == 0:
            return refusal
        # The native value sent with an allowed call is spend in the native coin.
        return _check_token(intent, policy)
    needed = _SPEND_PERMISSIONS.get(kind)
    if needed is None:  # a kind this engine does not know: default deny
        return Decision.deny(ReasonCode.PERMISSION_DENIED, f"{kind} is never signed")
    if needed not in policy.permissions:
        return Decision.deny(ReasonCode.PERMISSION_DENIED,
                             f"the session lacks the '{needed}' permission")
    if intent.unlimited:
        return Decision.deny(ReasonCode.PERMISSION_DENIED, "unlimited approvals are never signed")
    refusal = _check_token(intent, policy)
    return refusal if refusal is not None else _check_recipient(intent, policy)


def _refuse_unvalued_approval(intent: Intent, policy: SessionPolicy) -> Decision:
    """An approval of an asset nobody can price is never signed; the reason says what is
    missing first: the permission any approval needs, a bounded amount, then a value."""
    if Permission.APPROVE not in policy.permissions:
        return Decision.deny(ReasonCode.PERMISSION_DENIED,
                             f"{intent.selector} grants an allowance and needs the 'approve' "
                             f"permission; a contract allowlist does not cover approvals")
    if intent.unlimited:
        return Decision.deny(ReasonCode.PERMISSION_DENIED, "unlimited approvals are never signed")
    return Decision.deny(ReasonCode.UNPRICEABLE_ASSET,
                         f"{intent.selector} grants an allowance of {intent.counterparty}, which "
                         f"is not a configured token, so it cannot be valued; a contract "
                         f"allowlist does not cover approvals")


_SPEND_PERMISSIONS: Mapping[IntentKind, Permission] = {
    IntentKind.NATIVE_TRANSFER: Permission.TRANSFER,
    IntentKind.TOKEN_TRANSFER: Permission.TRANSFER,
    IntentKind.TOKEN_APPROVAL: Permission.APPROVE,
}


def _check_token(intent: Intent, policy: SessionPolicy) -> Decision | None:
    assert intent.asset is not None  # transfers, approvals and valued calls name their asset
    if intent.asset.symbol not in policy.tokens:
        return Decision.deny(ReasonCode.TOKEN_NOT_ALLOWED,
                             f"{intent.asset.symbol} is not among the session's tokens")
    return None


def _check_recipient(intent: Intent, policy: SessionPolicy) -> Decision | None:
    """Transfers go, and allowances are granted, only to listed addresses (when listed)."""
    if policy.recipients is None:
        return None
    listed = {address.lower() for address in policy.recipients}
    if intent.counterparty is None or intent.counterparty.lower() not in listed:
        role = "spender" if intent.kind is IntentKind.TOKEN_APPROVAL else "recipient"
        return Decision.deny(ReasonCode.RECIPIENT_NOT_ALLOWED,
                             f"{role} {intent.counterparty} is not among the session's "
                             f"recipients")
    return None


def _contract_listed(policy: SessionPolicy, address: str | None) -> bool:
    """Whether `address` is on the session's contract allowlist, whatever its selectors."""
    return address is not None and any(
        listed.lower() == address.lower() for listed in policy.contracts)


def _contract_allows(policy: SessionPolicy, address: str | None, selector: str | None) -> bool:
    """Whether the session's contract allowlist covers this call (address and selector)."""
    if address is None:
        return False
    for listed, selectors in policy.contracts.items():
        if listed.lower() == address.lower():
            return selectors is None or (
                selector is not None and selector.lower() in {s.lower() for s in selectors})
    return False


def _check_call(intent: Intent, policy: SessionPolicy) -> Decision | None:
    """A router call needs `swap`; any call the allowlist covers needs `contract_call`.

    An operator who lists a router among the session's contracts has allowed it as a contract
    call, so that also covers it without `swap`.
    """
    if intent.kind is IntentKind.SWAP and Permission.SWAP in policy.permissions:
        return None
    listed = _contract_allows(policy, intent.counterparty, intent.selector)
    if listed and Permission.CONTRACT_CALL in policy.permissions:
        return None
    if intent.kind is IntentKind.SWAP:
        return Decision.deny(ReasonCode.PERMISSION_DENIED,
                             f"calling router {intent.counterparty} needs the 'swap' permission")
    if not listed:
        return Decision.deny(ReasonCode.CONTRACT_NOT_ALLOWED,
                             f"call {intent.selector} to {intent.counterparty} is not "
                             f"allowlisted")
    return Decision.deny(ReasonCode.PERMISSION_DENIED,
                         f"calling {intent.counterparty} needs the 'contract_call' permission")


def _check_limits(
    policy: SessionPolicy, state: SessionState, intents: tuple[Intent, ...], prices: PriceBook
) -> Decision:
    cost = gas_cost = 0
    for intent in intents:
        if intent.asset is None or intent.amount == 0:
            continue
        value = value_in_unit(intent.asset, intent.amount, policy.unit, prices)
        if value is None:
            return Decision.deny(ReasonCode.UNPRICEABLE_ASSET,
                                 f"no usable price for {intent.asset.symbol} in {policy.unit}")
        cost += value
        if intent.kind is IntentKind.GAS:
            gas_cost += value
    figures = _limit_figures(policy, state, cost)
    # Per-tx covers the whole cost of the request, worst-case gas included: gas is spend.
    if cost > policy.per_tx:
        return Decision(allowed=False, reason=ReasonCode.PER_TX_LIMIT_EXCEEDED,
                        detail=f"costs {figures['cost']} {policy.unit}, over the per-transaction "
                               f"limit of {figures['per_tx_limit']}", figures=figures)
    within = _check_windows(policy, state, cost, gas_cost, figures)
    if not within.allowed or policy.approve_above is None or cost <= policy.approve_above:
        return within
    figures = {**within.figures, "approve_above": format_amount(policy.approve_above)}
    if state.pending_approvals >= policy.max_pending_approvals:
        return Decision.deny(
            ReasonCode.RATE_LIMITED,
            f"{state.pending_approvals} requests of this session already wait for approval; "
            f"at most {policy.max_pending_approvals} may wait at once",
            pending_approvals=str(state.pending_approvals),
            max_pending_approvals=str(policy.max_pending_approvals))
    return Decision(allowed=False, held=True, reason=ReasonCode.APPROVAL_REQUIRED,
                    detail=f"costs {figures['cost']} {policy.unit}, over the session's approval "
                           f"threshold of {figures['approve_above']}: held for a person's "
                           f"approval", cost=cost, gas_cost=gas_cost, figures=figures)


def evaluate_approval(*, policy: SessionPolicy, state: SessionState, cost: int,
                      gas_cost: int = 0, now_ms: int,
                      max_outstanding_signed: int | None = None) -> Decision:
    """Decide whether a held request may be signed now that a person approved it.

    `state` is read under the ledger's lock with the held amount taken out of the window, so
    the request is judged as if it were asked now: revocation and expiry first, then the daily
    window, the agent budget and the self-service window at this instant (a held request whose
    reservation fell out of the window, or was reserved in yesterday's calendar day, must fit
    today's). The rate limit and per-tx cap were passed when it was held and do not change.
    `max_outstanding_signed` is given for an `eth_signTransaction`, whose result is handed
    out: its bound is counted now, as when it would have been signed at once."""
    unusable = check_session_usable(state, now_ms)
    if unusable is not None:
        return unusable
    refusal = _check_outstanding(state, max_outstanding_signed)
    if refusal is not None:
        return refusal
    figures = _limit_figures(policy, state, cost)
    return _check_windows(policy, state, cost, gas_cost, figures)


def _limit_figures(policy: SessionPolicy, state: SessionState, cost: int) -> dict[str, str]:
    """The figures every limit decision reports (CONTRACT.md: `data` of a 4001)."""
    return {
        "unit": policy.unit,
        "cost": format_amount(cost),
        "per_tx_limit": format_amount(policy.per_tx),
        "daily_limit": format_amount(policy.daily),
        "spent_in_window": format_amount(state.spent_in_window),
    }


def _check_windows(policy: SessionPolicy, state: SessionState, cost: int, gas_cost: int,
                   figures: Mapping[str, str]) -> Decision:
    """The spend windows: the session's daily limit, its agent's budget, the self-service
    ceiling. Allow with `cost` reserved, or the first one it would overshoot."""
    if state.spent_in_window + cost > policy.daily:
        return Decision(allowed=False, reason=ReasonCode.DAILY_LIMIT_EXCEEDED,
                        detail=f"costs {figures['cost']} {policy.unit} with "
                               f"{figures['spent_in_window']} already spent in the window, over "
                               f"the daily limit of {figures['daily_limit']}", figures=figures)
    budget = policy.agent_daily_budget
    if budget is not None and state.agent_spent_in_window + cost > budget:
        figures = {**figures, "agent_daily_budget": format_amount(budget),
                   "agent_spent_in_window": format_amount(state.agent_spent_in_window)}
        return Decision(allowed=False, reason=ReasonCode.AGENT_BUDGET_EXCEEDED,
                        detail=f"costs {figures['cost']} {policy.unit} with "
                               f"{figures['agent_spent_in_window']} already spent by the agent's "
                               f"sessions in the window, over its daily budget of "
                               f"{figures['agent_daily_budget']}", figures=figures)
    window = state.self_service
    if window is not None:
        refusal = _check_agent_window(window, policy.unit, cost, figures)
        if refusal is not None:
            return refusal
    return Decision(allowed=True, reason=None, detail="allowed", cost=cost, gas_cost=gas_cost,
                    figures=figures)


def _check_agent_window(window: AgentWindow, unit: str, cost: int,
                        figures: Mapping[str, str]) -> Decision | None:
    """The ceiling's daily limit over everything the agent's self-created sessions spent.

    Reported as `agent_budget_exceeded`: it is an agent-wide bound like the daily budget, and
    the session's own `daily_limit_exceeded` would point at a window that is not full."""
    figures = {**figures, "self_service_daily_limit": format_amount(window.limit),
               "self_service_spent_in_window": format_amount(window.spent)}
    if window.unit != unit:
        # Self-created sessions are limited in the ceiling's unit; anything else cannot be
        # added up, so it is refused rather than left unbounded.
        return Decision(allowed=False, reason=ReasonCode.AGENT_BUDGET_EXCEEDED,
                        detail=f"the session's limits are in {unit}, the agent's self-service "
                               f"ceiling in {window.unit}", figures=figures)
    if window.spent + cost > window.limit:
        return Decision(allowed=False, reason=ReasonCode.AGENT_BUDGET_EXCEEDED,
                        detail=f"costs {figures['cost']} {unit} with "
                               f"{figures['self_service_spent_in_window']} already spent by the "
                               f"sessions the agent created for itself in the window, over its "
                               f"ceiling's daily limit of {figures['self_service_daily_limit']}",
                        figures=figures)
    return None


def _admit_on_chain(policy: SessionPolicy, state: SessionState, now_ms: int,
                    chain_id: int) -> Decision | None:
    """Usable session (revocation, expiry, rate) signing for a chain in its scope."""
    refusal = _admit(policy, state, now_ms)
    if refusal is not None:
        return refusal
    if chain_id not in policy.chain_ids:
        return Decision.deny(ReasonCode.CHAIN_NOT_IN_SCOPE,
                             f"chain {chain_id} is not in the session's scope")
    return None


# A personal_sign message this long can be a hash (POLICY.md, `sign_digest`).
DIGEST_LENGTH = 32


def message_permission(message: bytes) -> Permission:
    """The permission `personal_sign` of `message` (the exact bytes signed) needs.

    A Safe owner's eth_sign signature type and an ERC-4337 SimpleAccount owner both accept an
    EIP-191 signature over a 32-byte hash as authorisation of whatever the hash stands for (a
    Safe transaction, a UserOperation), so exactly 32 bytes is a separate, explicitly granted
    risk. Taken literally: 32 bytes of UTF-8 text count too, since the contract cannot tell.
    """
    return Permission.SIGN_DIGEST if len(message) == DIGEST_LENGTH else Permission.SIGN_MESSAGE


def evaluate_message(
    *, policy: SessionPolicy, state: SessionState, chain_id: int, message: bytes, now_ms: int,
) -> Decision:
    """Decide an off-chain signature that spends nothing (`personal_sign` of `message`)."""
    refusal = _admit_on_chain(policy, state, now_ms, chain_id)
    if refusal is not None:
        return refusal
    permission = message_permission(message)
    if permission in policy.permissions:
        return Decision(allowed=True, reason=None, detail="allowed", cost=0)
    if permission is Permission.SIGN_DIGEST:
        return Decision.deny(
            ReasonCode.PERMISSION_DENIED,
            f"a message of exactly {DIGEST_LENGTH} bytes can be a hash an account contract (a "
            f"Safe, an ERC-4337 account) accepts as authorisation of whatever it stands for; "
            f"signing one needs the 'sign_digest' permission, which 'sign_message' does not "
            f"include")
    return Decision.deny(ReasonCode.PERMISSION_DENIED,
                         f"the session lacks the '{permission}' permission")


def evaluate_typed_data(
    *,
    policy: SessionPolicy,
    state: SessionState,
    chain_id: int,
    decoded: DecodedTypedData,
    prices: PriceBook,
    now_ms: int,
) -> Decision:
    """Decide an EIP-712 signature (`eth_signTypedData_v4`) for the chain of the URL.

    A permit is an approval: it needs `approve` and is judged and charged like one (tokens,
    recipients, unlimited, both limits), without gas. Any other message needs `sign_typed_data`
    and an allowlisted `verifyingContract`, and costs nothing. Either way the domain must name
    the URL's chain: a signature without `domain.chainId` is valid on every chain.
    """
    refusal = _admit_on_chain(policy, state, now_ms, chain_id)
    if refusal is not None:
        return refusal
    if isinstance(decoded, Undecodable):
        return Decision.deny(ReasonCode.UNDECODABLE_REQUEST, decoded.detail)
    if decoded.domain_chain_id is None:
        return Decision.deny(ReasonCode.CHAIN_NOT_IN_SCOPE,
                             "typed data without domain.chainId could be replayed on any chain")
    if decoded.domain_chain_id != chain_id:
        return Decision.deny(
            ReasonCode.CHAIN_NOT_IN_SCOPE,
            f"domain.chainId {decoded.domain_chain_id} differs from the chain of the URL "
            f"({chain_id})")
    if decoded.opaque:
        if decoded.verifying_contract is None:
            return Decision.deny(ReasonCode.CONTRACT_NOT_ALLOWED,
                                 f"{decoded.primary_type} names no domain.verifyingContract, "
                                 f"so no allowlist can cover it")
        if not _contract_listed(policy, decoded.verifying_contract):
            return Decision.deny(ReasonCode.CONTRACT_NOT_ALLOWED,
                                 f"{decoded.primary_type} for {decoded.verifying_contract} is "
                                 f"not allowlisted")
        if Permission.SIGN_TYPED_DATA not in policy.permissions:
            return Decision.deny(ReasonCode.PERMISSION_DENIED,
                                 "the session lacks the 'sign_typed_data' permission")
        return Decision(allowed=True, reason=None, detail="allowed", cost=0)
    if Permission.APPROVE not in policy.permissions:
        return Decision.deny(ReasonCode.PERMISSION_DENIED,
                             f"{decoded.primary_type} grants an allowance and needs the "
                             f"'approve' permission")
    if not decoded.intents:
        return Decision.deny(ReasonCode.UNDECODABLE_REQUEST,
                             f"{decoded.primary_type} names nothing to value")
    for intent in decoded.intents:
        if intent.kind not in (IntentKind.TOKEN_APPROVAL, IntentKind.FOREIGN_FUNDS):
            # A signature grants allowances; it cannot send value or call anything itself.
            return Decision.deny(ReasonCode.UNDECODABLE_REQUEST,
                                 f"{decoded.primary_type} cannot carry a {intent.kind} intent")
        refusal = _check_intent(intent, policy)
        if refusal is not None:
            return refusal
    return _check_limits(policy, state, decoded.intents, prices)
