"""A local anvil chain with the demo contracts, for `make dev` and for test fixtures.

Why this module exists: the sidecar's interesting behaviour (valuing a USDC transfer, refusing a
stale price, settling a spend after the receipt) can only be shown against a real chain. anvil
gives us one in ~100 ms, and this module is the single place that knows how to find it, start it
on a free port, wait until it answers, and put a 6-decimal ``USDC`` and a Chainlink-style price
feed on it. The dev command and every e2e fixture use these functions instead of shelling out
on their own, so there is one way a test chain comes to exist.

Everything here is development tooling: the keys are anvil's public test keys, transactions are
signed locally with eth-account (anvil's unlocked accounts are never relied upon, so the same
code works against any node), and calls are synchronous (``Web3(HTTPProvider(url))``) because
setup code runs before any event loop exists.

Errors: :class:`DevchainError` (a ``RuntimeError``) when anvil fails to start or a setup
transaction reverts; ``FileNotFoundError`` when no anvil binary can be found.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Self, cast

from eth_account import Account
from eth_typing import ABI, ChecksumAddress
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.types import RPCEndpoint, TxParams, TxReceipt

__all__ = [
    "ANVIL_DEFAULT_ADDRESS",
    "ANVIL_DEFAULT_CHAIN_ID",
    "ANVIL_DEFAULT_KEY",
    "DEMO_USDC_DECIMALS",
    "DEMO_USDC_DEV_ADDRESS",
    "GAS_PRICE_ORACLE_PREDEPLOY",
    "AnvilNode",
    "ContractArtifact",
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
    "load_artifact",
    "mint_usdc",
    "send_contract_transaction",
    "set_aggregator_answer",
    "set_l1_fee_per_byte",
]

# Anvil's well-known account 0, derived from the public mnemonic "test test ... junk". It is
# printed by every anvil and hardhat node and therefore PUBLIC: anything it holds on a real chain
# is swept by bots within seconds. Use it only against a local dev chain.
ANVIL_DEFAULT_KEY: Final = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ANVIL_DEFAULT_ADDRESS: Final = cast(ChecksumAddress, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
ANVIL_DEFAULT_CHAIN_ID: Final = 31337

# CREATE address of (account 0, nonce 0). Deploying the demo USDC first on a fresh anvil puts it
# here, so docs, config/dev TOML and a user's wallet can name the token without a lookup.
DEMO_USDC_DEV_ADDRESS: Final = cast(ChecksumAddress, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
DEMO_USDC_DECIMALS: Final = 6

_ANVIL_NOT_FOUND: Final = "anvil not found: run `npm ci` (make dev / make test do it)"
_STARTUP_TIMEOUT_S: Final = 20.0
_STOP_GRACE_S: Final = 5.0
_BIND_SETTLE_S: Final = 0.1
_RECEIPT_TIMEOUT_S: Final = 30.0


class DevchainError(RuntimeError):
    """The local chain could not be started, or a setup transaction on it failed."""


# ---------------------------------------------------------------------------------------------
# Finding and running anvil
# ---------------------------------------------------------------------------------------------


def find_anvil() -> Path:
    """Locate the anvil binary.

    Order: ``$SESSION_STUDIO_ANVIL`` (an explicit override always wins, e.g. a CI image with its
    own foundry), then the npm-pinned ``node_modules/.bin/anvil`` of the repo, searched upwards
    from this file (editable install) and from the working directory (running from a checkout
    with a non-editable install), and only then ``anvil`` on ``PATH``. The pinned binary comes
    before ``PATH`` so that a globally installed, different foundry does not change test results.
    """
    override = os.environ.get("SESSION_STUDIO_ANVIL")
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise FileNotFoundError(
                f"SESSION_STUDIO_ANVIL={override} is not an executable file; {_ANVIL_NOT_FOUND}"
            )
        return path

    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for directory in (start, *start.parents):
            candidate = directory / "node_modules" / ".bin" / "anvil"
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate

    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    raise FileNotFoundError(_ANVIL_NOT_FOUND)


# Below Linux's ephemeral range (32768-60999): the kernel never hands these out as the local
# port of an outgoing connection, so a listener that stops and restarts on the same port (the
# crash tests kill -9 `serve` and start it again) cannot find it taken by some client socket.
_LISTEN_PORTS = range(20_000, 32_768)


def free_port(host: str = "127.0.0.1") -> int:
    """A currently unused TCP port on ``host``, outside the ephemeral range when possible.

    There is an unavoidable gap between closing this probe socket and the server binding the
    port; :class:`AnvilNode` closes it by retrying with a new port if anvil reports the address
    in use.
    """
    for _ in range(50):
        port = _LISTEN_PORTS[secrets.randbelow(len(_LISTEN_PORTS))]
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


# Nodes still running at interpreter exit are stopped, so an aborted test run or a Ctrl-C'd dev
# command does not leave orphan anvils holding ports. A strong set on purpose: a node dropped
# without stop() must still be found here (a SIGKILLed Python cannot clean up; nothing can).
_live_nodes: set[AnvilNode] = set()


@atexit.register
def _stop_live_nodes() -> None:
    for node in list(_live_nodes):
        node.stop()


class AnvilNode:
    """One anvil process listening on ``127.0.0.1``.

    Construct, then :meth:`start` (or use as a context manager, which starts and stops). ``port=0``
    picks a free port. ``log_path`` keeps anvil's log for debugging; without it anvil runs
    ``--silent`` and only its stderr is kept, in a temporary file, to explain a failed start.
    """

    host: Final = "127.0.0.1"

    def __init__(
        self,
        *,
        port: int = 0,
        chain_id: int = ANVIL_DEFAULT_CHAIN_ID,
        block_time: float | None = None,
        log_path: Path | None = None,
        anvil_path: Path | None = None,
        startup_timeout: float = _STARTUP_TIMEOUT_S,
        extra_args: Sequence[str] = (),
    ) -> None:
        self._requested_port = port
        self._port = port
        self._chain_id = chain_id
        self._block_time = block_time
        self._log_path = log_path
        self._anvil_path = anvil_path
        self._startup_timeout = startup_timeout
        self._extra_args = tuple(extra_args)
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._log: IO[bytes] | None = None

    # -- public surface -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port anvil listens on (the chosen one once started, if 0 was requested)."""
        return self._port

    @property
    def chain_id(self) -> int:
        return self._chain_id

    @property
    def rpc_url(self) -> str:
        return f"http://{self.host}:{self._port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def web3(self) -> Web3:
        """A synchronous web3 client for this node."""
        return Web3(HTTPProvider(self.rpc_url))

    def start(self) -> Self:
        """Start anvil and return once ``eth_chainId`` answers with our chain id.

        Raises :class:`DevchainError` with the tail of anvil's stderr if it exits or does not
        answer within ``startup_timeout`` seconds.
        """
        if self._process is not None:
            raise DevchainError(f"anvil already started on {self.rpc_url}")
        binary = self._anvil_path or find_anvil()
        # A port picked by free_port() can be taken by someone else before anvil binds it; only
        # when we picked it ourselves is trying another one the right answer.
        attempts_left = 3 if self._requested_port == 0 else 1
        while True:
            attempts_left -= 1
            self._port = self._requested_port or free_port(self.host)
            self._spawn(binary)
            try:
                self._wait_until_ready()
            except DevchainError as exc:
                tail = self._stderr_tail()
                self._terminate(kill_now=True)
                if "in use" in tail.lower() and attempts_left > 0:
                    continue
                raise DevchainError(f"{exc}\n--- anvil stderr (tail) ---\n{tail}") from None
            _live_nodes.add(self)
            return self

    def stop(self) -> None:
        """Stop anvil: SIGTERM, then SIGKILL after a grace period. Safe to call twice."""
        self._terminate(kill_now=False)

    def kill(self) -> None:
        """SIGKILL anvil at once, e.g. to simulate an upstream that dies mid-request."""
        self._terminate(kill_now=True)

    def __enter__(self) -> Self:
        if self._process is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"AnvilNode({self.rpc_url}, chain_id={self._chain_id}, {state})"

    # -- internals ------------------------------------------------------------------------------

    def _spawn(self, binary: Path) -> None:
        argv = [
            str(binary),
            "--host", self.host,
            "--port", str(self._port),
            "--chain-id", str(self._chain_id),
        ]  # fmt: skip
        if self._block_time is not None:
            argv += ["--block-time", _format_seconds(self._block_time)]
        # Lives as long as the process, closed in _terminate(); a file, not a pipe, so a chatty
        # anvil can never block on a full pipe nobody reads.
        self._stderr = tempfile.TemporaryFile(prefix="anvil-stderr-")  # noqa: SIM115
        if self._log_path is not None:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self._log_path.open("ab")
            stdout: IO[bytes] | int = self._log
        else:
            argv.append("--silent")
            stdout = subprocess.DEVNULL
        argv += self._extra_args
        self._process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=self._stderr
        )

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                raise DevchainError(f"anvil exited with code {code} before answering")
            answered = _probe_chain_id(self.rpc_url)
            if answered is not None:
                if answered != self._chain_id:
                    # Someone else's node on this port: never deploy into it.
                    raise DevchainError(
                        f"{self.rpc_url} answered chain id {answered}, expected {self._chain_id}"
                    )
                # The answer may come from a foreign node that took the port between
                # free_port() and our bind; our anvil then exits ("Address already in use")
                # within milliseconds, so make sure it is still alive a moment later.
                time.sleep(_BIND_SETTLE_S)
                code = self._process.poll()
                if code is not None:
                    raise DevchainError(f"anvil exited with code {code} right after starting")
                return
            time.sleep(0.05)
        raise DevchainError(
            f"anvil did not answer eth_chainId on {self.rpc_url} within {self._startup_timeout:g} s"
        )

    def _stderr_tail(self, limit: int = 4000) -> str:
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-limit:]

    def _terminate(self, *, kill_now: bool) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            if kill_now:
                process.kill()
            else:
                process.terminate()
                try:
                    process.wait(timeout=_STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    process.kill()
            process.wait()
        for handle in (self._stderr, self._log):
            if handle is not None:
                handle.close()
        self._stderr = self._log = None
        _live_nodes.discard(self)


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else repr(float(seconds))


def _probe_chain_id(rpc_url: str) -> int | None:
    """``eth_chainId`` over plain urllib, or None while the node is not answering yet."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
    request = urllib.request.Request(  # noqa: S310 - the URL is our own http://127.0.0.1
        rpc_url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=1.0) as response:  # noqa: S310
            payload = json.loads(response.read())
    except (OSError, urllib.error.URLError, ValueError):
        return None
    result = payload.get("result") if isinstance(payload, dict) else None
    return int(result, 16) if isinstance(result, str) else None


# ---------------------------------------------------------------------------------------------
# Contracts
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class ContractArtifact:
    """A compiled contract as written by ``scripts/build_contracts.mjs``."""

    contract_name: str
    abi: ABI
    bytecode: str
    solc_version: str


def load_artifact(artifact_name: str) -> ContractArtifact:
    """Read ``session_studio_dev/_contracts/<artifact_name>.json`` from the installed package.

    importlib.resources rather than a path relative to the repo, so the artifacts are found in
    an installed wheel too.
    """
    resource = resources.files("session_studio_dev") / "_contracts" / f"{artifact_name}.json"
    if not resource.is_file():
        raise FileNotFoundError(
            f"no contract artifact {artifact_name!r} in session_studio_dev/_contracts "
            "(run `node scripts/build_contracts.mjs`)"
        )
    raw: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return ContractArtifact(
        contract_name=raw["contractName"],
        abi=raw["abi"],
        bytecode=raw["bytecode"],
        solc_version=raw["solcVersion"],
    )


def bind_contract(w3: Web3, artifact_name: str, address: str) -> Contract:
    """A web3 contract object for a deployed contract, using the artifact's ABI."""
    abi = load_artifact(artifact_name).abi
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi)


def deploy_contract(
    w3: Web3, artifact_name: str, *args: Any, deployer_key: str | bytes = ANVIL_DEFAULT_KEY
) -> ChecksumAddress:
    """Deploy an artifact with constructor ``args``; return its checksum address."""
    artifact = load_artifact(artifact_name)
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    deployer = Account.from_key(deployer_key)
    tx = factory.constructor(*args).build_transaction(_base_tx(w3, deployer.address))
    receipt = _sign_and_send(w3, tx, deployer_key, what=f"deploy {artifact_name}")
    address = receipt["contractAddress"]
    if address is None:
        raise DevchainError(f"deploy {artifact_name}: receipt has no contractAddress")
    return Web3.to_checksum_address(address)


def send_contract_transaction(
    w3: Web3,
    artifact_name: str,
    address: str,
    function_name: str,
    *args: Any,
    sender_key: str | bytes = ANVIL_DEFAULT_KEY,
) -> TxReceipt:
    """Call a state-changing contract function as ``sender_key``; raise if it reverts."""
    contract = bind_contract(w3, artifact_name, address)
    sender = Account.from_key(sender_key)
    function = contract.get_function_by_name(function_name)(*args)
    tx = function.build_transaction(_base_tx(w3, sender.address))
    return _sign_and_send(w3, tx, sender_key, what=f"{artifact_name}.{function_name}")


def _base_tx(w3: Web3, sender: ChecksumAddress) -> TxParams:
    # Nonce and chain id are fixed here, not left to web3's defaults, so a replayed or
    # mis-chained setup transaction is impossible; gas and EIP-1559 fees are filled by
    # build_transaction from the node.
    return {
        "from": sender,
        "nonce": w3.eth.get_transaction_count(sender, "pending"),
        "chainId": w3.eth.chain_id,
    }


def _sign_and_send(w3: Web3, tx: TxParams, key: str | bytes, *, what: str) -> TxReceipt:
    signed = Account.sign_transaction(cast(dict[str, Any], tx), key)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=_RECEIPT_TIMEOUT_S)
    if receipt["status"] != 1:
        raise DevchainError(f"{what}: transaction {tx_hash.to_0x_hex()} reverted")
    return receipt


# ---------------------------------------------------------------------------------------------
# Demo assets
# ---------------------------------------------------------------------------------------------


def deploy_demo_usdc(w3: Web3, *, deployer_key: str | bytes = ANVIL_DEFAULT_KEY) -> ChecksumAddress:
    """Deploy ``DemoUSDC`` (6 decimals, symbol USDC, EIP-2612 permit); the deployer owns it.

    As the first transaction of account 0 on a fresh anvil it lands at
    :data:`DEMO_USDC_DEV_ADDRESS`.
    """
    return deploy_contract(w3, "DemoUSDC", deployer_key=deployer_key)


def mint_usdc(
    w3: Web3,
    token: str,
    to: str,
    amount_base_units: int,
    *,
    owner_key: str | bytes = ANVIL_DEFAULT_KEY,
) -> None:
    """Mint ``amount_base_units`` (1 USDC = 10**6) of the demo token to ``to``."""
    send_contract_transaction(
        w3,
        "DemoUSDC",
        token,
        "mint",
        Web3.to_checksum_address(to),
        amount_base_units,
        sender_key=owner_key,
    )


def erc20_balance(w3: Web3, token: str, address: str) -> int:
    """``balanceOf(address)`` of any ERC-20, in base units."""
    contract = bind_contract(w3, "DemoUSDC", token)
    return int(contract.functions.balanceOf(Web3.to_checksum_address(address)).call())


def fund_native(w3: Web3, address: str, wei: int) -> None:
    """Set ``address``'s ether balance to exactly ``wei`` (anvil_setBalance; anvil only).

    Setting rather than transferring keeps account 0's nonce untouched, so deterministic
    deployment addresses stay deterministic whatever was funded first.
    """
    w3.manager.request_blocking(
        RPCEndpoint("anvil_setBalance"), [Web3.to_checksum_address(address), hex(wei)]
    )


def deploy_mock_aggregator(
    w3: Web3,
    *,
    decimals: int,
    answer: int,
    description: str = "ETH / USD",
    deployer_key: str | bytes = ANVIL_DEFAULT_KEY,
) -> ChecksumAddress:
    """Deploy a ``MockAggregator`` whose first round is ``answer`` at the deployment block time."""
    return deploy_contract(
        w3, "MockAggregator", decimals, description, answer, deployer_key=deployer_key
    )


def set_aggregator_answer(
    w3: Web3,
    feed: str,
    answer: int,
    updated_at: int,
    *,
    owner_key: str | bytes = ANVIL_DEFAULT_KEY,
) -> None:
    """Open a new round with ``answer`` claimed to be from unix time ``updated_at``."""
    send_contract_transaction(
        w3, "MockAggregator", feed, "setAnswer", answer, updated_at, sender_key=owner_key
    )


# ---------------------------------------------------------------------------------------------
# OP-stack L1 data fee
# ---------------------------------------------------------------------------------------------

GAS_PRICE_ORACLE_PREDEPLOY: Final = cast(
    ChecksumAddress, "0x420000000000000000000000000000000000000F")


def install_gas_price_oracle(
    w3: Web3, *, fee_per_byte_wei: int, deployer_key: str | bytes = ANVIL_DEFAULT_KEY
) -> ChecksumAddress:
    """Put a ``MockGasPriceOracle`` at the OP-stack predeploy address (anvil only).

    anvil has no GasPriceOracle, so one is deployed normally, its runtime code copied to
    0x4200...000F with ``anvil_setCode``, and the fee set there (the copy has its own, empty,
    storage). ``getL1Fee(data)`` then quotes ``(len(data) + 68) * fee_per_byte_wei``.
    """
    template = deploy_contract(w3, "MockGasPriceOracle", deployer_key=deployer_key)
    runtime = w3.eth.get_code(template)
    w3.manager.request_blocking(
        RPCEndpoint("anvil_setCode"), [GAS_PRICE_ORACLE_PREDEPLOY, "0x" + runtime.hex()])
    set_l1_fee_per_byte(w3, fee_per_byte_wei, sender_key=deployer_key)
    return GAS_PRICE_ORACLE_PREDEPLOY


def set_l1_fee_per_byte(
    w3: Web3, fee_per_byte_wei: int, *, sender_key: str | bytes = ANVIL_DEFAULT_KEY
) -> None:
    """Set the predeploy ``MockGasPriceOracle``'s fee, in wei per byte of quoted data."""
    send_contract_transaction(w3, "MockGasPriceOracle", GAS_PRICE_ORACLE_PREDEPLOY,
                              "setFeePerByte", fee_per_byte_wei, sender_key=sender_key)


def break_gas_price_oracle(
    w3: Web3, broken: bool, *, sender_key: str | bytes = ANVIL_DEFAULT_KEY
) -> None:
    """Make every quote of the predeploy ``MockGasPriceOracle`` revert (or stop doing so)."""
    send_contract_transaction(w3, "MockGasPriceOracle", GAS_PRICE_ORACLE_PREDEPLOY,
                              "setBroken", broken, sender_key=sender_key)
