"""Pure decision engine: decode a request into intents, value them, decide.

Never imports aiohttp, a database or the keystore (go-ethereum's `signer/rules` is the model):
everything it needs is handed in as frozen values, so every rule can be tested exhaustively.
"""

from ._decode import decode_transaction
from ._engine import (
    AgentWindow,
    Decision,
    SessionPolicy,
    SessionState,
    check_session_usable,
    evaluate_approval,
    evaluate_message,
    evaluate_transaction,
    evaluate_typed_data,
    message_permission,
    window_start_ms,
)
from ._health import HealthBadge, health_badges
from ._intents import (
    CANONICAL_PERMIT2,
    ChainAssets,
    DecodedTransaction,
    DecodedTypedData,
    Intent,
    IntentKind,
    TransactionRequest,
    TypedDataIntents,
    Undecodable,
)
from ._money import (
    ATOMS_PER_UNIT,
    USD,
    AmountError,
    Asset,
    PriceBook,
    format_amount,
    parse_amount,
    value_in_unit,
)
from ._reasons import Permission, ReasonCode
from ._typed_data import TypedDataTooLarge, decode_typed_data

__all__ = [
    "ATOMS_PER_UNIT",
    "CANONICAL_PERMIT2",
    "USD",
    "AgentWindow",
    "AmountError",
    "Asset",
    "ChainAssets",
    "Decision",
    "DecodedTransaction",
    "DecodedTypedData",
    "HealthBadge",
    "Intent",
    "IntentKind",
    "Permission",
    "PriceBook",
    "ReasonCode",
    "SessionPolicy",
    "SessionState",
    "TransactionRequest",
    "TypedDataIntents",
    "TypedDataTooLarge",
    "Undecodable",
    "check_session_usable",
    "decode_transaction",
    "decode_typed_data",
    "evaluate_approval",
    "evaluate_message",
    "evaluate_transaction",
    "evaluate_typed_data",
    "format_amount",
    "health_badges",
    "message_permission",
    "parse_amount",
    "value_in_unit",
    "window_start_ms",
]
