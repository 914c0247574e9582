"""Which nonce the ledger starts from: the node's pending count, asked only until it is ours."""

from __future__ import annotations

from session_studio.store import Session

from ._context import ChainRuntime
from ._upstream import upstream_quantity


class NonceOracle:
    """Asks the node for a signer's pending nonce only until the ledger counts it.

    A session key never leaves the sidecar, so nobody else can advance its nonce: once the
    store's counter for (chain, address) exists, it is authoritative and the upstream round trip
    is saved on every later send. State is per RPC app, created by `RpcMethods`.
    """

    def __init__(self) -> None:
        self._counted: set[tuple[int, str]] = set()

    async def pending(self, chain: ChainRuntime, session: Session) -> int:
        if (chain.chain_id, session.address) in self._counted:
            return 0
        count = await chain.upstream.call("eth_getTransactionCount",
                                          [session.address, "pending"])
        return upstream_quantity(count, "eth_getTransactionCount")

    def counted(self, chain: ChainRuntime, session: Session) -> None:
        self._counted.add((chain.chain_id, session.address))

    def doubt(self, chain: ChainRuntime, session: Session) -> None:
        """The node refused a transaction: ask it for the pending nonce again next time."""
        self._counted.discard((chain.chain_id, session.address))
