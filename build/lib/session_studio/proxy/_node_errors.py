"""What a node means when it refuses `eth_sendRawTransaction`: one table of wordings, by client.

Two refusals change what the ledger may do with a reservation, and every client words them its
own way (JSON-RPC has no standard codes for them):

- ALREADY_KNOWN: the node has this very transaction (in its pool, or imported before). It is not
  a refusal at all: the transaction may land, so its spend stays reserved and it is `broadcast`.
- NONCE_USED ("nonce too low"): the signer's nonce is consumed on chain. By *some* transaction:
  possibly this one (mined between our nonce check and the send), so it is never a proof that
  ours never reached the chain. The nonce must never be handed out again, and crash recovery
  looks for the transaction's receipt before it releases anything (`_recovery.py`).

Every other answer with an error object is a refusal: the transaction never entered that
node's pool. Both the send path and crash recovery classify through `node_says`, by way of
`UpstreamError`, in `_outcome.py`, which also says what each answer does to the ledger.

Matching is by word-bounded pattern on the error message, case-insensitive, so a wording keeps
matching when a client adds details around it ("nonce too low: next nonce 5, tx nonce 3") and
never matches inside another word ("unknown transaction type" is not "known transaction").
Misreading in either direction is bounded: a false ALREADY_KNOWN keeps a spend reserved that
settlement later releases once the nonce passes; a false NONCE_USED withholds a nonce. Neither
can lose funds; a missing wording could (a release of a transaction that lands), which is why
each client's is listed with where it comes from (a path in that client's repository; the
unit tests hold the messages as the clients send them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class NodeSays(StrEnum):
    ALREADY_KNOWN = "already_known"
    NONCE_USED = "nonce_used"


@dataclass(frozen=True, slots=True, kw_only=True)
class Wording:
    clients: str  # who words it so
    meaning: NodeSays
    pattern: re.Pattern[str]
    source: str  # where it is worded, in the client's repository


def _words(text: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![a-z0-9_]){text}(?![a-z0-9_])", re.IGNORECASE)


WORDINGS: tuple[Wording, ...] = (
    # -- the node has this transaction -----------------------------------------------------
    Wording(clients="geth, Erigon, reth, Nethermind (current)", meaning=NodeSays.ALREADY_KNOWN,
            pattern=_words("already known"),
            source="go-ethereum core/txpool/errors.go (ErrAlreadyKnown); erigon "
                   "txnprovider/txpool/txpoolcfg/txpoolcfg.go (DiscardReason AlreadyKnown, sent "
                   "by rpc/jsonrpc/send_transaction.go as 'ALREADY_EXISTS: already known'); reth "
                   "crates/rpc/rpc-eth-types/src/error/mod.rs (RpcPoolError::AlreadyKnown); "
                   "nethermind src/Nethermind/Nethermind.TxPool/TxPoolErrorMessages.cs"),
    Wording(clients="Nethermind (earlier releases)", meaning=NodeSays.ALREADY_KNOWN,
            pattern=_words("AlreadyKnown"),
            source="nethermind src/Nethermind/Nethermind.TxPool/AcceptTxResult.cs "
                   "(AcceptTxResult.AlreadyKnown, worded nameof(AlreadyKnown))"),
    Wording(clients="Besu; geth before ErrAlreadyKnown and its forks",
            meaning=NodeSays.ALREADY_KNOWN, pattern=_words("known transaction"),
            source="besu ethereum/api/src/main/java/org/hyperledger/besu/ethereum/api/jsonrpc/"
                   "internal/response/RpcErrorType.java (ETH_SEND_TX_ALREADY_KNOWN, -32000 "
                   "'Known transaction'); go-ethereum core/tx_pool.go (\"known transaction: %x\")"),
    Wording(clients="Erigon", meaning=NodeSays.ALREADY_KNOWN,
            pattern=_words("existing txn? with same hash"),
            source="erigon txnprovider/txpool/txpoolcfg/txpoolcfg.go "
                   "(DiscardReason DuplicateHash)"),
    Wording(clients="anvil, reth before RpcPoolError, OpenEthereum",
            meaning=NodeSays.ALREADY_KNOWN, pattern=_words("already imported"),
            source="foundry crates/anvil/src/eth/error.rs (PoolError::AlreadyImported -> "
                   "'transaction already imported'); reth crates/transaction-pool/src/error.rs "
                   "('[hash] Already imported'); openethereum rpc/src/v1/helpers/errors.rs "
                   "('Transaction with the same hash was already imported.')"),
    # -- the nonce is used on chain (by this transaction or another) -------------------------
    Wording(clients="geth, Besu, Erigon, reth, anvil, Nethermind (current)",
            meaning=NodeSays.NONCE_USED, pattern=_words("nonce too low"),
            source="go-ethereum core/error.go (ErrNonceTooLow; core/txpool/validation.go adds "
                   "'next nonce N, tx nonce M'); besu RpcErrorType.java (NONCE_TOO_LOW, -32001 "
                   "'Nonce too low'); erigon txpoolcfg.go (DiscardReason NonceTooLow); reth "
                   "crates/rpc/rpc-eth-types/src/error/mod.rs (RpcInvalidTransactionError::"
                   "NonceTooLow); foundry crates/anvil/src/eth/error.rs "
                   "(InvalidTransactionError::NonceTooLow); nethermind TxPoolErrorMessages.cs"),
    Wording(clients="Nethermind (earlier releases)", meaning=NodeSays.NONCE_USED,
            pattern=_words("OldNonce"),
            source="nethermind src/Nethermind/Nethermind.TxPool/AcceptTxResult.cs (OldNonce); "
                   "src/Nethermind/Nethermind.TxPool/Filters/LowNonceFilter.cs adds 'Current "
                   "nonce: N, nonce of rejected tx: M'"),
    Wording(clients="OpenEthereum", meaning=NodeSays.NONCE_USED,
            pattern=_words("nonce is too low"),
            source="openethereum rpc/src/v1/helpers/errors.rs ('Transaction nonce is too low. "
                   "Try incrementing the nonce.')"),
)


def node_says(message: str) -> NodeSays | None:
    """What a node's error message for `eth_sendRawTransaction` means; None: a refusal."""
    for wording in WORDINGS:
        if wording.pattern.search(message):
            return wording.meaning
    return None
