"""The TOML configuration, parsed once into frozen, typed settings.

Every key is declared once in ``SETTINGS`` with its default (written as the TOML value a user
would type) and a line of help; the parser, the error messages and ``settings_help()`` all read
that one table. Nothing here reads the environment or the clock: the composition root calls
``load_settings`` once and passes the result down.

A bad file fails with one line naming the dotted key and the problem, as a ``ConfigError``::

    chains.8453.rpc_url: expected an http(s) URL, got 'foo'
    tokens[0].decimals: expected an integer 0..36, got 99
    unknown key 'server.rpc_lissen'

Token entries are numbered from 0 (``tokens[0]`` is the first ``[[tokens]]`` block). A key that
is not a bare TOML key is quoted the way TOML writes it (``server."rpc listen"``), so a message
is always a single line.
"""

from __future__ import annotations

import ipaddress
import math
import re
import tomllib
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any, Final, Generic, Literal, TypeVar
from urllib.parse import urlsplit

from eth_utils.address import to_checksum_address

__all__ = [
    "SETTINGS",
    "AdminSettings",
    "ChainSettings",
    "ConfigError",
    "DatabaseSettings",
    "KeystoreSettings",
    "ListenAddress",
    "MetricsSettings",
    "PolicySettings",
    "PriceSource",
    "PricesSettings",
    "ServerSettings",
    "Setting",
    "Settings",
    "TokenSettings",
    "default_config_path",
    "load_settings",
    "parse_settings",
    "settings_help",
]

CONFIG_ENV_VAR: Final = "SESSION_STUDIO_CONFIG"
DEFAULT_CONFIG_NAME: Final = "session-studio.toml"

T = TypeVar("T")


class ConfigError(Exception):
    """The configuration is unusable; ``str(error)`` is one line naming the key and the problem."""


# --------------------------------------------------------------------------------------------
# Settings as the rest of the program sees them
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ListenAddress:
    host: str  # without brackets for IPv6: "::1"
    port: int  # 0 asks the OS for a free port

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceSource:
    """Exactly one of a static ``usd`` price or a Chainlink-style ``feed`` (with ``max_age_s``)."""

    usd: Decimal | None = None
    feed: str | None = None  # EIP-55 checksum address of the aggregator
    max_age_s: int | None = None  # a feed answer older than this makes the asset unpriceable


# Uniswap's Permit2, deployed at the same address on every chain that has it.
PERMIT2_CANONICAL: Final = "0x000000000022D473030F116dDEE9F6B43aC78BA3"


# The dataclasses below carry no defaults: every default is the `SETTINGS` table's (one place,
# shown by `settings_help()`), and the parser passes every field.
@dataclass(frozen=True, slots=True, kw_only=True)
class ChainSettings:
    chain_id: int
    name: str
    rpc_url: str
    native_symbol: str
    native_decimals: int
    native_price: PriceSource
    max_fee_per_gas_wei: int | None
    routers: tuple[str, ...]  # checksum addresses the `swap` permission may call
    permit2: str  # Permit2's address: typed data and approve() to it
    l1_fee: Literal["op-stack"] | None  # an L1 data fee the sender pays besides gas


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenSettings:
    chain_id: int
    symbol: str
    address: str  # EIP-55 checksum form
    decimals: int
    price: PriceSource


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerSettings:
    rpc_listen: ListenAddress
    admin_listen: ListenAddress
    metrics_listen: ListenAddress
    public_rpc_url: str  # no trailing slash
    max_body_bytes: int
    max_batch_size: int
    upstream_timeout_s: float
    allow_raw_transactions: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseSettings:
    path: Path | None  # absolute
    url: str | None
    pool_size: int  # PostgreSQL connections per process (ignored for SQLite)


@dataclass(frozen=True, slots=True, kw_only=True)
class KeystoreSettings:
    master_key_file: Path  # absolute


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminSettings:
    rp_id: str
    origin: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicySettings:
    window: Literal["rolling_24h", "utc_day"]
    # eth_signTransaction results a session lineage may hold that the chain has not consumed
    # yet: bounds what can be broadcast at once beyond the daily window (docs/design.md).
    max_outstanding_signed: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalSettings:
    """Requests held for a person (issue 14): how long they wait, and who hears of them."""

    # A pending approval expires (its reserved cost released) after this long. At most a day,
    # so a held request's reservation stays inside the rolling window it was reserved in.
    expire_after_s: int
    webhook_url: str | None  # a JSON POST per new pending approval and per decision
    webhook_secret_file: Path | None  # absolute; the HMAC key (or $SESSION_STUDIO_WEBHOOK_SECRET)


@dataclass(frozen=True, slots=True, kw_only=True)
class PricesSettings:
    cache_s: float  # how long one feed reading is reused; 0 reads the feed every time


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsSettings:
    per_session: bool  # False: no per-session series (fleets too large to label each)
    snapshot_interval_s: float  # how often the fleet snapshot behind /metrics is re-read
    usage_flush_interval_s: float  # how often buffered per-session usage is written


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    config_path: Path  # absolute
    server: ServerSettings
    database: DatabaseSettings
    keystore: KeystoreSettings
    admin: AdminSettings
    policy: PolicySettings
    chains: Mapping[int, ChainSettings]  # a MappingProxyType: read-only
    tokens: tuple[TokenSettings, ...]
    prices: PricesSettings
    metrics: MetricsSettings
    approvals: ApprovalSettings = ApprovalSettings(expire_after_s=3600, webhook_url=None,
                                                   webhook_secret_file=None)

    def token(self, chain_id: int, symbol_or_address: str) -> TokenSettings | None:
        """The token on ``chain_id`` with this symbol (case-sensitive) or address (any case)."""
        by_address = _ADDRESS_SHAPE.fullmatch(symbol_or_address) is not None
        wanted = symbol_or_address.lower()
        for token in self.tokens:
            if token.chain_id != chain_id:
                continue
            if by_address and token.address.lower() == wanted:
                return token
            if not by_address and token.symbol == symbol_or_address:
                return token
        return None


# --------------------------------------------------------------------------------------------
# Value parsers: (raw TOML value, dotted key) -> typed value, or ConfigError
# --------------------------------------------------------------------------------------------

_ADDRESS_SHAPE: Final = re.compile(r"0[xX][0-9a-fA-F]{40}")
_DECIMAL_SHAPE: Final = re.compile(r"[0-9]+(\.[0-9]+)?")
_HOSTNAME: Final = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")
_NUMERIC_HOST: Final = re.compile(r"[0-9.]+")
_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")
_TOML_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_WEI_PER_GWEI: Final = 10**9
_MAX_CHAIN_ID: Final = 2**63 - 1


def _show(value: object) -> str:
    """A raw value as it appears in an error: short, on one line."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    text = repr(value).replace("\n", "\\n").replace("\r", "\\r")
    return text if len(text) <= 80 else text[:77] + "..."


def _fail(key: str, problem: str, value: object = None, *, show: bool = True) -> ConfigError:
    suffix = f", got {_show(value)}" if show else ""
    return ConfigError(f"{key}: {problem}{suffix}")


def _key_part(name: str) -> str:
    """One segment of a dotted key, quoted as TOML would write it when it is not bare."""
    if _BARE_KEY.fullmatch(name):
        return name
    escaped = "".join(
        _TOML_ESCAPES.get(c, f"\\u{ord(c):04X}" if ord(c) < 0x20 or ord(c) == 0x7F else c)
        for c in name
    )
    return f'"{escaped}"'


def _join(prefix: str, name: str) -> str:
    part = _key_part(name)
    return f"{prefix}.{part}" if prefix else part


def _string(value: object, key: str) -> str:
    if not isinstance(value, str):
        raise _fail(key, "expected a string", value)
    if not value.strip():
        raise _fail(key, "expected a non-empty string", value)
    return value


def _symbol(value: object, key: str) -> str:
    text = _string(value, key)
    # The length cap also keeps a symbol from looking like an address (42 characters), which
    # Settings.token() relies on to tell the two apart.
    if len(text) > 32 or any(c.isspace() for c in text):
        raise _fail(key, "expected a symbol of at most 32 characters without spaces", value)
    return text


def _int_in(low: int, high: int) -> Callable[[object, str], int]:
    def parse(value: object, key: str) -> int:
        # TOML booleans arrive as bool, which Python counts as int.
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _fail(key, f"expected an integer {low}..{high}", value)
        return value

    return parse


def _positive_seconds(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(key, "expected a number of seconds > 0", value)
    seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise _fail(key, "expected a number of seconds > 0", value)
    return seconds


def _seconds_or_zero(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(key, "expected a number of seconds >= 0", value)
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise _fail(key, "expected a number of seconds >= 0", value)
    return seconds


def _bool(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(key, "expected true or false", value)
    return value


def _http_url(value: object, key: str) -> str:
    problem = "expected an http(s) URL"
    if not isinstance(value, str) or any(c.isspace() for c in value):
        raise _fail(key, problem, value)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError on a malformed port)
    except ValueError:
        raise _fail(key, problem, value) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _fail(key, problem, value)
    return value


def _base_url(value: object, key: str) -> str:
    """An http(s) URL others append paths to (``/rpc/8453``): no query, no trailing slash."""
    url = _http_url(value, key)
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise _fail(key, "expected an http(s) URL without query or fragment", value)
    return url.rstrip("/")


def _origin(value: object, key: str) -> str:
    """A WebAuthn origin: scheme://host[:port], compared byte for byte by browsers."""
    url = _http_url(value, key)
    parts = urlsplit(url)
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise _fail(key, "expected an origin like 'https://studio.example.com'", value)
    return url.rstrip("/")


def _rp_id(value: object, key: str) -> str:
    text = _string(value, key)
    if not _HOSTNAME.fullmatch(text) or text.endswith("."):
        raise _fail(key, "expected a domain name like 'localhost' or 'studio.example.com'", value)
    return text.lower()


def _listen(value: object, key: str) -> ListenAddress:
    problem = "expected host:port"
    if not isinstance(value, str):
        raise _fail(key, problem, value)
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or not port_text.isascii() or int(port_text) > 65535:
        raise _fail(key, problem, value)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise _fail(key, problem, value) from None
    elif not _HOSTNAME.fullmatch(host):
        # Also refuses an unbracketed IPv6 address: "::1:8645" is ambiguous.
        raise _fail(key, problem, value)
    elif _NUMERIC_HOST.fullmatch(host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise _fail(key, problem, value) from None
    return ListenAddress(host=host, port=int(port_text))


def _address_list(value: object, key: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _fail(key, "expected a list of 0x addresses", value)
    return tuple(_address(item, f"{key}[{i}]") for i, item in enumerate(value))


def _address(value: object, key: str) -> str:
    if not isinstance(value, str) or not _ADDRESS_SHAPE.fullmatch(value):
        raise _fail(key, "expected a 0x-prefixed 20-byte hex address", value)
    digits = value[2:]
    checksummed = to_checksum_address("0x" + digits.lower())
    mixed_case = digits != digits.lower() and digits != digits.upper()
    if mixed_case and "0x" + digits != checksummed:
        # A wrong checksum means a typo somewhere; suggesting the "fixed" form would bless it.
        raise _fail(key, "bad EIP-55 checksum (check the address for typos)", value)
    if int(digits, 16) == 0:
        raise _fail(key, "expected a contract address, not the zero address", value)
    return checksummed


def _usd(value: object, key: str) -> Decimal:
    problem = 'expected a decimal string > 0 like "3000.00" (money is never a float)'
    if not isinstance(value, str) or not _DECIMAL_SHAPE.fullmatch(value):
        raise _fail(key, problem, value)
    price = Decimal(value)
    if price <= 0:
        raise _fail(key, problem, value)
    return price


def _gwei_to_wei(value: object, key: str) -> int:
    problem = 'expected gwei > 0 as an integer or a decimal string like "1.5"'
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _fail(key, problem, value)
    if isinstance(value, str) and not _DECIMAL_SHAPE.fullmatch(value):
        raise _fail(key, problem, value)
    with localcontext() as exact:
        exact.prec = 200  # the default 28 digits would round large values silently
        wei = Decimal(value) * _WEI_PER_GWEI
    if wei <= 0:
        raise _fail(key, problem, value)
    if wei != wei.to_integral_value():
        raise _fail(key, "expected at most 9 decimal places (1 wei = 0.000000001 gwei)", value)
    return int(wei)


def _postgres_url(value: object, key: str) -> str:
    if not isinstance(value, str) or not value.startswith(("postgresql://", "postgres://")):
        raise _fail(key, "expected a postgresql:// URL", value)
    return value


def _window(value: object, key: str) -> Literal["rolling_24h", "utc_day"]:
    if value == "rolling_24h":
        return "rolling_24h"
    if value == "utc_day":
        return "utc_day"
    raise _fail(key, "expected 'rolling_24h' or 'utc_day'", value)


def _l1_fee(value: object, key: str) -> Literal["op-stack"]:
    if value == "op-stack":
        return "op-stack"
    raise _fail(key, "expected 'op-stack' (or leave it out: no L1 data fee)", value)


def _chain_id_key(name: str, key: str) -> int:
    if not name.isascii() or not name.isdigit() or name.startswith("0"):
        raise _fail(
            key, "expected a chain id (a positive integer without leading zeros)", show=False
        )
    chain_id = int(name)
    if chain_id > _MAX_CHAIN_ID:
        raise _fail(key, f"expected a chain id 1..{_MAX_CHAIN_ID}", show=False)
    return chain_id


def _price(raw: object, where: str) -> PriceSource:
    table = _Table(
        raw,
        where,
        "<price>",
        expect='a table like { usd = "1.00" } or { feed = "0x...", max_age_s = 3600 }',
    )
    usd, feed, max_age_s = (
        table.optional(PRICE_USD),
        table.optional(PRICE_FEED),
        table.optional(PRICE_MAX_AGE_S),
    )
    if (usd is None) == (feed is None):
        raise ConfigError(f"{where}: expected exactly one of usd or feed")
    if feed is not None and max_age_s is None:
        raise ConfigError(f"{table.key(PRICE_MAX_AGE_S)}: required with feed")
    if usd is not None and max_age_s is not None:
        raise ConfigError(f"{table.key(PRICE_MAX_AGE_S)}: only valid with feed, not usd")
    return PriceSource(usd=usd, feed=feed, max_age_s=max_age_s)


# --------------------------------------------------------------------------------------------
# The declaration table
# --------------------------------------------------------------------------------------------


class _Marker:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


REQUIRED: Final = _Marker("REQUIRED")  # the key must be present
ABSENT: Final = _Marker("ABSENT")  # optional, no value when absent (or derived, see default_doc)


@dataclass(frozen=True, slots=True, kw_only=True)
class Setting(Generic[T]):
    """One key of the configuration file.

    ``table`` is where it lives, with placeholders: ``chains.<chain_id>``, ``tokens[]``, and
    ``<price>`` for the price tables ``chains.<chain_id>.native_price`` and ``tokens[].price``.
    ``default`` is the TOML value used when the key is absent, parsed like a user's value.
    """

    table: str
    name: str
    parse: Callable[[object, str], T] = field(repr=False)
    default: object
    help: str
    default_doc: str | None = None  # how an ABSENT default is filled in, for the help text

    @property
    def default_text(self) -> str:
        if self.default_doc is not None:
            return self.default_doc
        if self.default is REQUIRED:
            return "required"
        if self.default is ABSENT:
            return "not set"
        return _toml_literal(self.default)


def _toml_literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


RPC_LISTEN = Setting(
    table="server",
    name="rpc_listen",
    parse=_listen,
    default="127.0.0.1:8645",
    help="host:port of the RPC plane agents and apps call",
)
ADMIN_LISTEN = Setting(
    table="server",
    name="admin_listen",
    parse=_listen,
    default="127.0.0.1:8646",
    help="host:port of the admin web page and /api/v1",
)
METRICS_LISTEN = Setting(
    table="server",
    name="metrics_listen",
    parse=_listen,
    default="127.0.0.1:9646",
    help="host:port of the Prometheus /metrics endpoint",
)
PUBLIC_RPC_URL = Setting(
    table="server",
    name="public_rpc_url",
    parse=_base_url,
    default=ABSENT,
    default_doc="http://<rpc_listen> (a wildcard host becomes loopback)",
    help="the RPC plane's URL as clients reach it; used in exports and snippets",
)
MAX_BODY_BYTES = Setting(
    table="server",
    name="max_body_bytes",
    parse=_int_in(1024, 1 << 30),
    default=1_048_576,
    help="largest RPC request body accepted, in bytes",
)
MAX_BATCH_SIZE = Setting(
    table="server",
    name="max_batch_size",
    parse=_int_in(1, 10_000),
    default=100,
    help="most calls in one JSON-RPC batch (ethers' batchMaxCount)",
)
UPSTREAM_TIMEOUT_S = Setting(
    table="server",
    name="upstream_timeout_s",
    parse=_positive_seconds,
    default=10.0,
    help="seconds to wait for a chain's upstream RPC node; a send still unbroadcast 3x this "
    "after signing (its replica died) is rebroadcast by any replica's settlement",
)
ALLOW_RAW_TRANSACTIONS = Setting(
    table="server",
    name="allow_raw_transactions",
    parse=_bool,
    default=False,
    help="pass eth_sendRawTransaction through unchecked (bypasses policy)",
)

DATABASE_PATH = Setting(
    table="database",
    name="path",
    parse=_string,
    default=ABSENT,
    default_doc='"studio.db" (unless url is set)',
    help="SQLite file (WAL mode), relative to the config file",
)
DATABASE_URL = Setting(
    table="database",
    name="url",
    parse=_postgres_url,
    default=ABSENT,
    help="instead of path: a postgresql:// URL, one ledger shared by replicas",
)
DATABASE_POOL_SIZE = Setting(
    table="database",
    name="pool_size",
    parse=_int_in(1, 1000),
    default=10,
    help="with url: connections this process keeps at most (each replica has its own pool)",
)

MASTER_KEY_FILE = Setting(
    table="keystore",
    name="master_key_file",
    parse=_string,
    default="master.key",
    help="32-byte master key file (0600), relative to the config file",
)

RP_ID = Setting(
    table="admin",
    name="rp_id",
    parse=_rp_id,
    default="localhost",
    help="WebAuthn relying party id: the origin's host or a parent domain of it",
)
ORIGIN = Setting(
    table="admin",
    name="origin",
    parse=_origin,
    default="http://localhost:8646",
    help="the admin page's origin as the browser sees it (passkeys are bound to it)",
)

WINDOW = Setting(
    table="policy",
    name="window",
    parse=_window,
    default="rolling_24h",
    help="daily limits count spend over the last 24 hours or since 00:00 UTC",
)
MAX_OUTSTANDING_SIGNED = Setting(
    table="policy",
    name="max_outstanding_signed",
    parse=_int_in(0, 1000),
    default=4,
    help="eth_signTransaction results per session not yet mined or replaced; beyond it 4001 "
    "rate_limited (0 refuses eth_signTransaction)",
)

APPROVALS_EXPIRE_AFTER_S = Setting(
    table="approvals",
    name="expire_after_s",
    parse=_int_in(1, 86_400),
    default=3600,
    help="seconds a held request waits for a person before it expires and its cost is released",
)
APPROVALS_WEBHOOK_URL = Setting(
    table="approvals",
    name="webhook_url",
    parse=_http_url,
    default=ABSENT,
    help="receives a JSON POST (HMAC-signed) per new pending approval and per decision",
)
APPROVALS_WEBHOOK_SECRET_FILE = Setting(
    table="approvals",
    name="webhook_secret_file",
    parse=_string,
    default=ABSENT,
    help="the webhook's HMAC key, relative to the config file (or $SESSION_STUDIO_WEBHOOK_SECRET)",
)

PRICES_CACHE_S = Setting(
    table="prices",
    name="cache_s",
    parse=_seconds_or_zero,
    default=15,
    help="seconds one price feed reading is reused (its age still counts against max_age_s)",
)

METRICS_PER_SESSION = Setting(
    table="metrics",
    name="per_session",
    parse=_bool,
    default=True,
    help="export per-session series (spend, limit, utilization); off for very large fleets",
)
METRICS_SNAPSHOT_INTERVAL_S = Setting(
    table="metrics",
    name="snapshot_interval_s",
    parse=_positive_seconds,
    default=5.0,
    help="seconds between reads of the fleet snapshot the session and agent series show",
)
METRICS_USAGE_FLUSH_INTERVAL_S = Setting(
    table="metrics",
    name="usage_flush_interval_s",
    parse=_positive_seconds,
    default=1.0,
    help="seconds between batched writes of last_used_at and request_count",
)

CHAIN_NAME = Setting(
    table="chains.<chain_id>",
    name="name",
    parse=_string,
    default=REQUIRED,
    help="short name shown in the admin page and metrics",
)
CHAIN_RPC_URL = Setting(
    table="chains.<chain_id>",
    name="rpc_url",
    parse=_http_url,
    default=REQUIRED,
    help="upstream JSON-RPC node for reads and broadcasts",
)
NATIVE_SYMBOL = Setting(
    table="chains.<chain_id>",
    name="native_symbol",
    parse=_symbol,
    default=REQUIRED,
    help="symbol of the native coin, e.g. ETH",
)
NATIVE_DECIMALS = Setting(
    table="chains.<chain_id>",
    name="native_decimals",
    parse=_int_in(0, 36),
    default=18,
    help="decimals of the native coin",
)
NATIVE_PRICE = Setting(
    table="chains.<chain_id>",
    name="native_price",
    parse=_price,
    default=REQUIRED,
    help="USD price of the native coin: a <price> table",
)
MAX_FEE_PER_GAS_GWEI = Setting(
    table="chains.<chain_id>",
    name="max_fee_per_gas_gwei",
    parse=_gwei_to_wei,
    default=ABSENT,
    help="refuse transactions paying more per gas than this (gwei)",
)
ROUTERS = Setting(
    table="chains.<chain_id>",
    name="routers",
    parse=_address_list,
    default=[],
    help="swap router contracts the `swap` permission may call (any function)",
)
PERMIT2 = Setting(
    table="chains.<chain_id>",
    name="permit2",
    parse=_address,
    default=PERMIT2_CANONICAL,
    help="Permit2 contract: its typed data and approve() are valued as approvals",
)
L1_FEE = Setting(
    table="chains.<chain_id>",
    name="l1_fee",
    parse=_l1_fee,
    default=ABSENT,
    default_doc="not set (no L1 data fee)",
    help='"op-stack" (Base, OP Mainnet): reserve the L1 data fee quoted by the GasPriceOracle',
)

TOKEN_CHAIN_ID = Setting(
    table="tokens[]",
    name="chain_id",
    parse=_int_in(1, _MAX_CHAIN_ID),
    default=REQUIRED,
    help="the configured chain the token lives on",
)
TOKEN_SYMBOL = Setting(
    table="tokens[]",
    name="symbol",
    parse=_symbol,
    default=REQUIRED,
    help="symbol sessions name it by, unique per chain (case-sensitive)",
)
TOKEN_ADDRESS = Setting(
    table="tokens[]",
    name="address",
    parse=_address,
    default=REQUIRED,
    help="ERC-20 contract address (a mixed-case address must be EIP-55 valid)",
)
TOKEN_DECIMALS = Setting(
    table="tokens[]",
    name="decimals",
    parse=_int_in(0, 36),
    default=REQUIRED,
    help="the token's decimals() (USDC: 6)",
)
TOKEN_PRICE = Setting(
    table="tokens[]",
    name="price",
    parse=_price,
    default=REQUIRED,
    help="USD price of the token: a <price> table",
)

PRICE_USD = Setting(
    table="<price>",
    name="usd",
    parse=_usd,
    default=ABSENT,
    help='static USD price as a decimal string, e.g. "1.00"',
)
PRICE_FEED = Setting(
    table="<price>",
    name="feed",
    parse=_address,
    default=ABSENT,
    help="instead of usd: a Chainlink-style aggregator (latestRoundData)",
)
PRICE_MAX_AGE_S = Setting(
    table="<price>",
    name="max_age_s",
    parse=_int_in(1, 10**9),
    default=ABSENT,
    help="with feed: oldest answer accepted, in seconds",
)

SETTINGS: Final[tuple[Setting[Any], ...]] = (
    RPC_LISTEN,
    ADMIN_LISTEN,
    METRICS_LISTEN,
    PUBLIC_RPC_URL,
    MAX_BODY_BYTES,
    MAX_BATCH_SIZE,
    UPSTREAM_TIMEOUT_S,
    ALLOW_RAW_TRANSACTIONS,
    DATABASE_PATH,
    DATABASE_URL,
    DATABASE_POOL_SIZE,
    MASTER_KEY_FILE,
    RP_ID,
    ORIGIN,
    WINDOW,
    MAX_OUTSTANDING_SIGNED,
    APPROVALS_EXPIRE_AFTER_S,
    APPROVALS_WEBHOOK_URL,
    APPROVALS_WEBHOOK_SECRET_FILE,
    PRICES_CACHE_S,
    METRICS_PER_SESSION,
    METRICS_SNAPSHOT_INTERVAL_S,
    METRICS_USAGE_FLUSH_INTERVAL_S,
    CHAIN_NAME,
    CHAIN_RPC_URL,
    NATIVE_SYMBOL,
    NATIVE_DECIMALS,
    NATIVE_PRICE,
    MAX_FEE_PER_GAS_GWEI,
    ROUTERS,
    PERMIT2,
    L1_FEE,
    TOKEN_CHAIN_ID,
    TOKEN_SYMBOL,
    TOKEN_ADDRESS,
    TOKEN_DECIMALS,
    TOKEN_PRICE,
    PRICE_USD,
    PRICE_FEED,
    PRICE_MAX_AGE_S,
)

_SECTIONS: Final = ("server", "database", "keystore", "admin", "policy", "approvals", "prices",
                     "metrics")
_TOP_LEVEL: Final = frozenset((*_SECTIONS, "chains", "tokens"))


def settings_help() -> str:
    """Every key with its default and help, one per line (for ``--help-config``)."""
    lines = []
    for setting in SETTINGS:
        key = f"{setting.table}.{setting.name}"
        lines.append(f"{key} = {setting.default_text}\n    {setting.help}")
    lines.append(
        "<price> is chains.<chain_id>.native_price or tokens[].price: exactly one of usd or feed"
    )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Reading tables
# --------------------------------------------------------------------------------------------


class _Table:
    """One TOML table under its dotted key; refuses keys its ``table`` does not declare."""

    def __init__(self, raw: object, where: str, table: str, *, expect: str = "a table") -> None:
        if not isinstance(raw, dict):
            raise _fail(where, f"expected {expect}", raw)
        self.raw: dict[str, object] = raw
        self.where = where
        known = {s.name for s in SETTINGS if s.table == table}
        for name in raw:
            if name not in known:
                raise ConfigError(f"unknown key '{_join(where, name)}'")

    def key(self, setting: Setting[Any]) -> str:
        return _join(self.where, setting.name)

    def has(self, setting: Setting[Any]) -> bool:
        return setting.name in self.raw

    def value(self, setting: Setting[T]) -> T:
        raw = self.raw.get(setting.name, setting.default)
        if raw is REQUIRED:
            raise ConfigError(f"{self.key(setting)}: required key is missing")
        if raw is ABSENT:
            raise AssertionError(f"{setting.name} has no default; use optional()")
        return setting.parse(raw, self.key(setting))

    def optional(self, setting: Setting[T]) -> T | None:
        if setting.name not in self.raw:
            return None
        return setting.parse(self.raw[setting.name], self.key(setting))


def _relative_to(config_dir: Path, text: str) -> Path:
    path = Path(text).expanduser()
    return path if path.is_absolute() else config_dir / path


def _server(raw: object) -> ServerSettings:
    table = _Table(raw, "server", "server")
    rpc_listen = table.value(RPC_LISTEN)
    public_rpc_url = table.optional(PUBLIC_RPC_URL)
    if public_rpc_url is None:
        public_rpc_url = f"http://{_reachable(rpc_listen)}"
    return ServerSettings(
        rpc_listen=rpc_listen,
        admin_listen=table.value(ADMIN_LISTEN),
        metrics_listen=table.value(METRICS_LISTEN),
        public_rpc_url=public_rpc_url,
        max_body_bytes=table.value(MAX_BODY_BYTES),
        max_batch_size=table.value(MAX_BATCH_SIZE),
        upstream_timeout_s=table.value(UPSTREAM_TIMEOUT_S),
        allow_raw_transactions=table.value(ALLOW_RAW_TRANSACTIONS),
    )


def _reachable(listen: ListenAddress) -> ListenAddress:
    """Where a client on this host reaches a listener: a wildcard bind becomes loopback."""
    if listen.host == "0.0.0.0":  # noqa: S104  (comparing, not binding)
        return ListenAddress(host="127.0.0.1", port=listen.port)
    if listen.host == "::":
        return ListenAddress(host="::1", port=listen.port)
    return listen


def _database(raw: object, config_dir: Path) -> DatabaseSettings:
    table = _Table(raw, "database", "database")
    path, url = table.optional(DATABASE_PATH), table.optional(DATABASE_URL)
    pool_size = table.value(DATABASE_POOL_SIZE)
    if path is not None and url is not None:
        raise ConfigError("database: expected exactly one of path or url")
    if url is not None:
        return DatabaseSettings(path=None, url=url, pool_size=pool_size)
    return DatabaseSettings(path=_relative_to(config_dir, path or "studio.db"), url=None,
                            pool_size=pool_size)


def _keystore(raw: object, config_dir: Path) -> KeystoreSettings:
    table = _Table(raw, "keystore", "keystore")
    return KeystoreSettings(master_key_file=_relative_to(config_dir, table.value(MASTER_KEY_FILE)))


def _policy(raw: object) -> PolicySettings:
    table = _Table(raw, "policy", "policy")
    return PolicySettings(window=table.value(WINDOW),
                          max_outstanding_signed=table.value(MAX_OUTSTANDING_SIGNED))


def _approvals(raw: object, config_dir: Path) -> ApprovalSettings:
    table = _Table(raw, "approvals", "approvals")
    secret = table.optional(APPROVALS_WEBHOOK_SECRET_FILE)
    return ApprovalSettings(
        expire_after_s=table.value(APPROVALS_EXPIRE_AFTER_S),
        webhook_url=table.optional(APPROVALS_WEBHOOK_URL),
        webhook_secret_file=None if secret is None else _relative_to(config_dir, secret))


def _prices(raw: object) -> PricesSettings:
    return PricesSettings(cache_s=_Table(raw, "prices", "prices").value(PRICES_CACHE_S))


def _metrics(raw: object) -> MetricsSettings:
    table = _Table(raw, "metrics", "metrics")
    return MetricsSettings(
        per_session=table.value(METRICS_PER_SESSION),
        snapshot_interval_s=table.value(METRICS_SNAPSHOT_INTERVAL_S),
        usage_flush_interval_s=table.value(METRICS_USAGE_FLUSH_INTERVAL_S),
    )


def _admin(raw: object) -> AdminSettings:
    table = _Table(raw, "admin", "admin")
    rp_id, origin = table.value(RP_ID), table.value(ORIGIN)
    host = (urlsplit(origin).hostname or "").lower()
    # WebAuthn: the RP ID must be the origin's effective domain or a registrable suffix of it.
    if host != rp_id and not host.endswith("." + rp_id):
        raise ConfigError(
            f"{table.key(RP_ID)}: {rp_id!r} is not the host of admin.origin "
            f"{origin!r} or a parent domain of it"
        )
    return AdminSettings(rp_id=rp_id, origin=origin)


def _chains(raw: object) -> dict[int, ChainSettings]:
    if not isinstance(raw, dict):
        raise _fail("chains", "expected a table of [chains.<chain_id>] tables", raw)
    if not raw:
        raise ConfigError("chains: at least one [chains.<chain_id>] table is required")
    chains: dict[int, ChainSettings] = {}
    for name, chain_raw in raw.items():
        where = _join("chains", name)
        chain_id = _chain_id_key(name, where)
        table = _Table(chain_raw, where, "chains.<chain_id>")
        chains[chain_id] = ChainSettings(
            chain_id=chain_id,
            name=table.value(CHAIN_NAME),
            rpc_url=table.value(CHAIN_RPC_URL),
            native_symbol=table.value(NATIVE_SYMBOL),
            native_decimals=table.value(NATIVE_DECIMALS),
            native_price=table.value(NATIVE_PRICE),
            max_fee_per_gas_wei=table.optional(MAX_FEE_PER_GAS_GWEI),
            routers=table.value(ROUTERS),
            permit2=table.value(PERMIT2),
            l1_fee=table.optional(L1_FEE),
        )
    return chains


def _tokens(raw: object, chains: Mapping[int, ChainSettings]) -> tuple[TokenSettings, ...]:
    if not isinstance(raw, list):
        raise _fail("tokens", "expected an array of [[tokens]] tables", raw)
    tokens: list[TokenSettings] = []
    for index, token_raw in enumerate(raw):
        table = _Table(token_raw, f"tokens[{index}]", "tokens[]")
        chain_id = table.value(TOKEN_CHAIN_ID)
        chain = chains.get(chain_id)
        if chain is None:
            configured = ", ".join(str(c) for c in sorted(chains))
            raise ConfigError(
                f"{table.key(TOKEN_CHAIN_ID)}: chain {chain_id} is not configured "
                f"(configured: {configured})"
            )
        symbol, address = table.value(TOKEN_SYMBOL), table.value(TOKEN_ADDRESS)
        if symbol == chain.native_symbol:
            raise ConfigError(
                f"{table.key(TOKEN_SYMBOL)}: {symbol!r} is the native symbol of chain {chain_id}"
            )
        for earlier_index, earlier in enumerate(tokens):
            if earlier.chain_id != chain_id:
                continue
            if earlier.symbol == symbol:
                raise ConfigError(
                    f"{table.key(TOKEN_SYMBOL)}: {symbol!r} is already "
                    f"tokens[{earlier_index}] on chain {chain_id}"
                )
            if earlier.address == address:
                raise ConfigError(
                    f"{table.key(TOKEN_ADDRESS)}: {address} is already "
                    f"tokens[{earlier_index}] on chain {chain_id}"
                )
        tokens.append(
            TokenSettings(
                chain_id=chain_id,
                symbol=symbol,
                address=address,
                decimals=table.value(TOKEN_DECIMALS),
                price=table.value(TOKEN_PRICE),
            )
        )
    return tuple(tokens)


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


def parse_settings(text: str, *, config_path: Path) -> Settings:
    """Parse a config file's text; relative paths resolve against ``config_path``'s folder."""
    config_path = config_path.absolute()
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{config_path}: invalid TOML: {error}") from None
    for name in document:
        if name not in _TOP_LEVEL:
            raise ConfigError(f"unknown key '{_key_part(name)}'")
    config_dir = config_path.parent
    server = _server(document.get("server", {}))
    database = _database(document.get("database", {}), config_dir)
    keystore = _keystore(document.get("keystore", {}), config_dir)
    admin = _admin(document.get("admin", {}))
    policy = _policy(document.get("policy", {}))
    approvals = _approvals(document.get("approvals", {}), config_dir)
    prices = _prices(document.get("prices", {}))
    metrics = _metrics(document.get("metrics", {}))
    if "chains" not in document:
        raise ConfigError("chains: at least one [chains.<chain_id>] table is required")
    chains = _chains(document["chains"])
    tokens = _tokens(document.get("tokens", []), chains)
    return Settings(
        config_path=config_path,
        server=server,
        database=database,
        keystore=keystore,
        admin=admin,
        policy=policy,
        chains=types.MappingProxyType(chains),
        tokens=tokens,
        prices=prices,
        metrics=metrics,
        approvals=approvals,
    )


def load_settings(path: Path) -> Settings:
    """Read and parse the config file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path} (run `session-studio init`)") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: invalid TOML: not UTF-8 text") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    return parse_settings(text, config_path=path)


def default_config_path(env: Mapping[str, str], cwd: Path) -> Path:
    """``$SESSION_STUDIO_CONFIG`` if set (relative to ``cwd``), else ``cwd/session-studio.toml``."""
    configured = env.get(CONFIG_ENV_VAR)
    if configured:
        return cwd / Path(configured).expanduser()
    return cwd / DEFAULT_CONFIG_NAME
