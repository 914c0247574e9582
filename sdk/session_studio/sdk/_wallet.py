"""`AgentWallet` / `AsyncAgentWallet`: an agent's runtime view of its sessions.

The agent holds one secret, its agent credential (from the exported config); keys stay in the
sidecar. The wallet keeps track of a *current* session (the one it signs with) and manages
sessions through the agent self-service methods (`studio_*`) of the RPC plane, so the agent
needs no admin token:

- `init()` picks a usable active session (the exported one first), or creates one with the
  config's terms through `studio_createSession` (refused beyond the operator's ceiling:
  `PolicyDenied` with reason `ceiling_exceeded`);
- rotation is revoke-then-create: `rotate()` revokes the current session and creates a fresh
  one (a new key, a new address: fund it before paying from it); `revoke_session()` of the
  current session leaves none, and the next `init()` or call that needs one creates it;
- `rotate_session()` instead asks the server to rotate in place (`studio_rotateSession`): a
  new key with the same terms, spend window and expiry.

A session the operator revoked is never silently replaced by a call: only `init()` and
`rotate()` create sessions, so an operator's revoke stops the agent until it re-initialises.

A payment above the session's `approve_above` is held for a person (`ApprovalPending`);
`transfer(..., wait_for_approval=SECONDS)` waits for the decision and returns the receipt, and
`get_approval()` / `wait_for_approval()` follow a held request of any method.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3 import AsyncWeb3, Web3
from web3.types import RPCEndpoint, TxParams, TxReceipt, Wei

from ._agent_config import AgentConfig, SessionTerms
from ._approval import Approval, decided_against
from ._errors import ApprovalPending, ServerError, ValidationError, raise_for_rpc_error
from ._portal import Portal
from ._types import Artifact, SessionInfo, SessionStatus
from ._web3 import sidecar_async_web3, sidecar_web3

ERC20_TRANSFER_ABI: list[dict[str, Any]] = [{
    "name": "transfer", "type": "function", "stateMutability": "nonpayable",
    "inputs": [{"name": "to", "type": "address"}, {"name": "amount", "type": "uint256"}],
    "outputs": [{"name": "", "type": "bool"}]}]
# A session this close to expiry is not worth picking: a send would race its end.
EXPIRY_MARGIN = timedelta(seconds=60)
DEFAULT_NATIVE_SYMBOL = "ETH"
# How often a waiting caller asks about a held request: a person's decision takes seconds at
# best, and each poll is one cheap read on the sidecar.
APPROVAL_POLL_S = 0.5

ConfigSource = AgentConfig | Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class WalletSession:
    """The session the wallet signs with."""

    key_hash: str
    address: ChecksumAddress
    chain_ids: tuple[int, ...]
    expires_at: str
    created: bool  # made by this wallet (init/rotate), rather than found


def _as_config(config: ConfigSource) -> AgentConfig:
    return config if isinstance(config, AgentConfig) else AgentConfig.from_mapping(config)


def _expires(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _usable(status: SessionStatus, chain_id: int, now: datetime) -> bool:
    return (status["status"] == "active" and chain_id in status["chain_ids"]
            and _expires(status["expires_at"]) - now > EXPIRY_MARGIN)


def _wait_seconds(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or value < 0:
        raise ValidationError(f"{name}: a finite number of seconds >= 0", field=name)
    return float(value)


def _session_of(found: SessionStatus | Artifact, *, created: bool) -> WalletSession:
    return WalletSession(key_hash=found["key_hash"],
                         address=Web3.to_checksum_address(found["address"]),
                         chain_ids=tuple(found["chain_ids"]), expires_at=found["expires_at"],
                         created=created)


class AsyncAgentWallet:
    """The agent wallet, async; see the module docstring. Use it on one event loop and
    `await wallet.aclose()` (or `async with`) when done."""

    def __init__(self, config: ConfigSource, *, chain_id: int | None = None,
                 token_addresses: Mapping[str, str] | None = None) -> None:
        """`chain_id`: the chain to sign on (default: the config's first). `token_addresses`
        ({symbol: address} on that chain) completes or overrides the export's
        `token_addresses`, which `transfer()` needs for ERC-20 tokens."""
        self.config = _as_config(config)
        self.chain_id = self.config.chain_ids[0] if chain_id is None else chain_id
        if self.chain_id not in self.config.rpc_urls:
            raise ValidationError(f"chain_id: the config has RPC URLs for "
                                  f"{sorted(self.config.rpc_urls)}, not {self.chain_id}",
                                  field="chain_id")
        self._tokens = {**self.config.token_addresses.get(self.chain_id, {}),
                        **(token_addresses or {})}
        self._w3 = sidecar_async_web3(self.rpc_url, self.config.credential)
        self._current: WalletSession | None = None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **options: Any) -> AsyncAgentWallet:
        return cls(AgentConfig.from_file(path), **options)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None,
                 **options: Any) -> AsyncAgentWallet:
        return cls(AgentConfig.from_env(environ), **options)

    async def __aenter__(self) -> AsyncAgentWallet:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._w3.provider.disconnect()

    @property
    def rpc_url(self) -> str:
        return self.config.rpc_urls[self.chain_id]

    @property
    def session(self) -> WalletSession | None:
        """The current session, or None before `init()` / after revoking it."""
        return self._current

    @property
    def async_web3(self) -> AsyncWeb3[Any]:
        """The wallet's `AsyncWeb3` (agent credential; the current session's address as
        `eth.default_account`). Call `init()` first: a property cannot await one."""
        self._w3.eth.default_account = self._require_session().address
        return self._w3

    def _require_session(self) -> WalletSession:
        if self._current is None:
            raise RuntimeError("no current session: await wallet.init() first")
        return self._current

    # -- the studio_* methods ------------------------------------------------------------
    async def _call(self, method: str, params: list[Any], *,
                    w3: AsyncWeb3[Any] | None = None) -> Any:
        response = await (w3 or self._w3).provider.make_request(RPCEndpoint(method), params)
        raise_for_rpc_error(response)
        if "result" not in response:
            raise ServerError(f"{method}: an answer without result or error")
        return response["result"]

    async def list_sessions(self) -> list[SessionInfo]:
        """Every session of the agent, whatever its status (admin API shape)."""
        sessions: list[SessionInfo] = await self._call("studio_listSessions", [])
        return sessions

    async def get_session_statuses(self) -> list[SessionStatus]:
        """Status, expiry, spend and health of each of the agent's sessions."""
        statuses: list[SessionStatus] = await self._call("studio_getSessionStatuses", [])
        return statuses

    async def create_session(self, terms: SessionTerms | None = None) -> Artifact:
        """A new session for the agent (default: the config's terms); does not make it the
        current one. Beyond the ceiling: `PolicyDenied(reason="ceiling_exceeded")`."""
        chosen = self.config.terms if terms is None else terms
        artifact: Artifact = await self._call("studio_createSession", [chosen.as_params()])
        return artifact

    async def revoke_session(self, key_hash: str) -> SessionInfo:
        """Revoke one of the agent's sessions; revoking the current one leaves the wallet
        without, and the next `init()` (or a call that needs a session) creates a fresh one."""
        revoked: SessionInfo = await self._call("studio_revokeSession", [key_hash])
        if self._current is not None and self._current.key_hash == key_hash.lower():
            self._current = None
        return revoked

    async def rotate_session(self, key_hash: str | None = None) -> Artifact:
        """Server-side rotation (default: the current session): a new key and address with
        the same terms, spend window and expiry; the old key is revoked."""
        target = key_hash or self._require_session().key_hash
        successor: Artifact = await self._call("studio_rotateSession", [target])
        if self._current is not None and self._current.key_hash == target.lower():
            self._current = _session_of(successor, created=True)
        return successor

    # -- held requests -----------------------------------------------------------------
    async def get_approval(self, approval_id: str, chain_id: int | None = None) -> Approval:
        """A held request of this agent's credential, now (`studio_getApproval`). `chain_id`:
        the chain it was sent on, when not the wallet's. An unknown id, or another
        credential's, is `RpcError` with `rpc_code == -32602`."""
        if chain_id is None or chain_id == self.chain_id:
            return Approval.from_json(await self._call("studio_getApproval", [approval_id]))
        url = self.config.rpc_urls.get(chain_id)
        if url is None:
            raise ValidationError(f"chain_id: the config has RPC URLs for "
                                  f"{sorted(self.config.rpc_urls)}, not {chain_id}",
                                  field="chain_id")
        w3 = sidecar_async_web3(url, self.config.credential)
        try:
            return Approval.from_json(
                await self._call("studio_getApproval", [approval_id], w3=w3))
        finally:
            await w3.provider.disconnect()

    async def wait_for_approval(self, approval_id: str, timeout_s: float, *,
                                chain_id: int | None = None) -> Approval:
        """The approval once decided (approved, rejected or expired), asking every
        `APPROVAL_POLL_S` seconds and never sleeping past `timeout_s`; still pending then:
        `ApprovalPending`. `timeout_s=0` asks once."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _wait_seconds(timeout_s, "timeout_s")
        while True:
            approval = await self.get_approval(approval_id, chain_id)
            if approval.decided:
                return approval
            left = deadline - loop.time()
            if left <= 0:
                raise ApprovalPending(approval_id, f"approval {approval_id} is still pending "
                                      f"after {timeout_s} s", expires_at=approval.expires_at,
                                      data={**approval.raw, "reason": "approval_required"})
            await asyncio.sleep(min(APPROVAL_POLL_S, left))

    async def _approved_tx_hash(self, held: ApprovalPending, wait_s: float) -> str:
        """The hash of the held send once a person approved it; raises what a refused or
        undecided one means (see `transfer`)."""
        try:
            approval = await self.wait_for_approval(held.approval_id, wait_s)
        except ApprovalPending:
            # The original hold says what the request does and costs; the poll's does not.
            raise held from None
        refusal = decided_against(approval, held=held.data)
        if refusal is not None:
            raise refusal
        assert approval.result is not None  # decided_against checked it
        return approval.result

    # -- the current session -------------------------------------------------------------
    async def init(self) -> WalletSession:
        """Make sure the wallet has a usable session: active, on this chain, more than a
        minute from expiry. Prefers the current one, then the exported one, then the one
        that lives longest; creates one with the config's terms when none is usable."""
        now = datetime.now(UTC)
        usable = [s for s in await self.get_session_statuses()
                  if _usable(s, self.chain_id, now)]
        preferred = [self._current.key_hash if self._current else None, self.config.key_hash]
        for key_hash in preferred:
            match = next((s for s in usable if key_hash and s["key_hash"] == key_hash.lower()),
                         None)
            if match is not None:
                self._current = _session_of(match, created=False)
                return self._current
        if usable:
            self._current = _session_of(max(usable, key=lambda s: _expires(s["expires_at"])),
                                        created=False)
            return self._current
        self._current = _session_of(await self.create_session(), created=True)
        return self._current

    async def rotate(self) -> WalletSession:
        """Revoke the current session, then create a fresh one with the config's terms and
        make it current. The fresh session has a new address with no funds yet."""
        if self._current is not None:
            await self.revoke_session(self._current.key_hash)
        self._current = _session_of(await self.create_session(), created=True)
        return self._current

    async def ensure_session(self) -> WalletSession:
        """The current session, after `init()` if there is none."""
        return self._current if self._current is not None else await self.init()

    # -- paying --------------------------------------------------------------------------
    def _token_address(self, symbol: str) -> ChecksumAddress | None:
        """The ERC-20 address for `symbol`, None for the chain's native coin."""
        address = self._tokens.get(symbol)
        if address is not None:
            return Web3.to_checksum_address(address)
        native = self.config.native_symbols.get(self.chain_id, DEFAULT_NATIVE_SYMBOL)
        if symbol == native:
            return None
        raise ValidationError(
            f"token_symbol: no address for {symbol} on chain {self.chain_id}: the exported "
            "config has no token_addresses for it; pass token_addresses={symbol: address}",
            field="token_symbol")

    async def transfer(self, to: str, amount_base_units: int, token_symbol: str, *,
                       timeout_s: float = 120,
                       wait_for_approval: float | None = None) -> TxReceipt:
        """Send `amount_base_units` (wei, or the token's smallest unit: 1 USDC = 10**6) of
        `token_symbol` to `to` from the current session and wait for the receipt.

        Raises `PolicyDenied` (nothing signed, nothing spent) when the policy refuses, with
        `.reason` such as `per_tx_limit_exceeded` or `agent_budget_exceeded`. A mined but
        reverted transfer returns its receipt with `status == 0`.

        Above the session's `approve_above` the send is held for a person. Without
        `wait_for_approval` that raises `ApprovalPending` (`.approval_id`) at once. With it,
        the wallet waits up to that many seconds for the decision: approved, it returns the
        receipt of the send that was held; rejected or expired, `PolicyDenied` with reason
        `approval_rejected` / `approval_expired`; approved but refused by the node, the
        `Web3RPCError` an unheld refusal raises; still pending, `ApprovalPending`.
        `timeout_s` then bounds the wait for the receipt after approval.
        """
        if isinstance(amount_base_units, bool) or not isinstance(amount_base_units, int) \
                or amount_base_units < 0:
            raise ValidationError("amount_base_units: a non-negative int (base units)",
                                  field="amount_base_units")
        if wait_for_approval is not None:
            _wait_seconds(wait_for_approval, "wait_for_approval")
        token = self._token_address(token_symbol)
        session = await self.ensure_session()
        recipient = Web3.to_checksum_address(to)
        try:
            if token is None:
                tx: TxParams = {"from": session.address, "to": recipient,
                                "value": Wei(amount_base_units)}
                tx_hash: HexBytes | str = await self._w3.eth.send_transaction(tx)
            else:
                contract = self._w3.eth.contract(address=token, abi=ERC20_TRANSFER_ABI)
                tx_hash = await contract.functions.transfer(
                    recipient, amount_base_units).transact({"from": session.address})
        except ApprovalPending as held:
            if wait_for_approval is None:
                raise
            tx_hash = await self._approved_tx_hash(held, wait_for_approval)
        return await self._w3.eth.wait_for_transaction_receipt(HexBytes(tx_hash),
                                                               timeout=timeout_s)


class AgentWallet:
    """The agent wallet, blocking: `AsyncAgentWallet`'s methods run on a private loop, plus a
    sync `web3`. `AgentWallet.from_file(path)`, `AgentWallet(config=dict)`,
    `AgentWallet.from_env()`; `close()` (or `with`) when done."""

    def __init__(self, config: ConfigSource, *, chain_id: int | None = None,
                 token_addresses: Mapping[str, str] | None = None) -> None:
        self._portal = Portal()
        self._aio = AsyncAgentWallet(config, chain_id=chain_id,
                                     token_addresses=token_addresses)
        self._web3: Web3 | None = None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **options: Any) -> AgentWallet:
        """The JSON written by `session-studio sessions export KEY_HASH --json`."""
        return cls(AgentConfig.from_file(path), **options)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> AgentWallet:
        """`$SESSION_STUDIO_AGENT_CONFIG`: the exported config's path, or its JSON."""
        return cls(AgentConfig.from_env(environ), **options)

    def __enter__(self) -> AgentWallet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._portal.close(self._aio.aclose)

    @property
    def config(self) -> AgentConfig:
        return self._aio.config

    @property
    def chain_id(self) -> int:
        return self._aio.chain_id

    @property
    def session(self) -> WalletSession | None:
        return self._aio.session

    @property
    def web3(self) -> Web3:
        """A `Web3` with the agent credential and the current session's address as
        `eth.default_account` (initialising the wallet first if it has no session)."""
        session = self._portal.call(self._aio.ensure_session())
        if self._web3 is None:
            self._web3 = sidecar_web3(self._aio.rpc_url, self.config.credential)
        self._web3.eth.default_account = session.address
        return self._web3

    @property
    def async_web3(self) -> AsyncWeb3[Any]:
        """A new `AsyncWeb3` for the caller's own event loop (the wallet's loop is private),
        bound like `web3`. Disconnect it when done."""
        session = self._portal.call(self._aio.ensure_session())
        return sidecar_async_web3(self._aio.rpc_url, self.config.credential,
                                  account=session.address)

    def init(self) -> WalletSession:
        return self._portal.call(self._aio.init())

    def rotate(self) -> WalletSession:
        return self._portal.call(self._aio.rotate())

    def list_sessions(self) -> list[SessionInfo]:
        return self._portal.call(self._aio.list_sessions())

    def get_session_statuses(self) -> list[SessionStatus]:
        return self._portal.call(self._aio.get_session_statuses())

    def create_session(self, terms: SessionTerms | None = None) -> Artifact:
        return self._portal.call(self._aio.create_session(terms))

    def revoke_session(self, key_hash: str) -> SessionInfo:
        return self._portal.call(self._aio.revoke_session(key_hash))

    def rotate_session(self, key_hash: str | None = None) -> Artifact:
        return self._portal.call(self._aio.rotate_session(key_hash))

    def get_approval(self, approval_id: str, chain_id: int | None = None) -> Approval:
        """See `AsyncAgentWallet.get_approval`."""
        return self._portal.call(self._aio.get_approval(approval_id, chain_id))

    def wait_for_approval(self, approval_id: str, timeout_s: float, *,
                          chain_id: int | None = None) -> Approval:
        """See `AsyncAgentWallet.wait_for_approval`: the decided approval, or
        `ApprovalPending` after `timeout_s` seconds."""
        return self._portal.call(self._aio.wait_for_approval(approval_id, timeout_s,
                                                             chain_id=chain_id))

    def transfer(self, to: str, amount_base_units: int, token_symbol: str, *,
                 timeout_s: float = 120, wait_for_approval: float | None = None) -> TxReceipt:
        """See `AsyncAgentWallet.transfer`: the receipt, or `PolicyDenied`; above the
        session's `approve_above`, `ApprovalPending` unless `wait_for_approval` seconds see
        it approved."""
        return self._portal.call(self._aio.transfer(to, amount_base_units, token_symbol,
                                                    timeout_s=timeout_s,
                                                    wait_for_approval=wait_for_approval))

