"""What the RPC plane is given by the composition root, and what one HTTP request carries."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from session_studio.keystore import LocalKeystore
from session_studio.policy import ChainAssets, PriceBook
from session_studio.store import CredentialOwner, Session, SigningStore

from ._errors import ChainNotConfigured
from ._fees import FeeCache
from ._observer import NullObserver, RpcObserver
from ._upstream import Upstream

if TYPE_CHECKING:
    from ._self_service import AgentSelfService


class PriceOracle(Protocol):
    """Prices for one chain, gathered before a decision (static config now, feeds later)."""

    async def price_book(self, chain_id: int) -> PriceBook: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainRuntime:
    chain_id: int
    assets: ChainAssets
    upstream: Upstream
    fees: FeeCache  # the upstream's fee figures, shared for a second (_fees.py)
    max_fee_per_gas: int | None
    # "op-stack": the sender also pays an L1 data fee, quoted and reserved (_l1_fee.py).
    l1_fee: str | None = None
    name: str = ""  # the operator's name for the chain ("base"), for people (the inbox)

    @property
    def label(self) -> str:
        return self.name or f"chain {self.chain_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RpcPlaneDeps:
    store: SigningStore
    keystore: LocalKeystore
    chains: Mapping[int, ChainRuntime]
    prices: PriceOracle
    clock: Callable[[], int]  # unix milliseconds
    window_mode: str
    # eth_signTransaction results a lineage may hold unmined ([policy] max_outstanding_signed)
    max_outstanding_signed: int
    max_body_bytes: int
    max_batch_size: int
    allow_raw_transactions: bool
    observer: RpcObserver = field(default_factory=NullObserver)
    agents: AgentSelfService | None = None  # studio_* methods; None: refused (4200)
    # How old an unbroadcast send must be before settlement finishes it on any replica
    # (`_recovery.unbroadcast_grace_ms`; 30 s is its value for the default upstream timeout).
    unbroadcast_grace_ms: int = 30_000
    # How long a request held for a person waits before it expires ([approvals]).
    approval_ttl_ms: int = 3_600_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Caller:
    """One authenticated HTTP request: whose credential, which sessions, which chain."""

    owner: CredentialOwner
    sessions: tuple[Session, ...]
    chain: ChainRuntime | None  # None: the URL named a chain that is not configured
    chain_id: int
    request_id: str
    # Told which session a method picked for the call (`pick_session`): agent credentials'
    # usage is counted against the session actually used, not against every session they reach.
    session_picked: Callable[[Session], None] = field(default=lambda _session: None)


def require_chain(caller: Caller) -> ChainRuntime:
    """The chain of the URL, for every method that needs one (signing, reads, eth_chainId)."""
    if caller.chain is None:
        raise ChainNotConfigured(f"chain {caller.chain_id} is not configured on this sidecar")
    return caller.chain
