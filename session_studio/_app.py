"""The composition root: the one place that builds and wires every part.

Nothing else reaches across planes: the CLI, `serve` and `dev` all get a `Studio` from here, and
the planes receive only the narrow dependencies they declare (`RpcPlaneDeps`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from session_studio.admin_ui import AdminAccounts, AdminDeps, PasskeyCeremonies, create_admin_app
from session_studio.basics import CredentialIssuer
from session_studio.keystore import LocalKeystore, load_master_key
from session_studio.policy import Asset, ChainAssets
from session_studio.prices import ChainPriceOracle
from session_studio.proxy import (
    ApprovalSigner,
    ChainRuntime,
    FeeCache,
    RpcPlaneDeps,
    Upstream,
    create_rpc_app,
    unbroadcast_grace_ms,
)
from session_studio.services import (
    AdminService,
    AgentDesk,
    ApprovalService,
    AuditTrail,
    RotationSchedule,
    SessionService,
    TokenService,
)
from session_studio.settings import ListenAddress, Settings
from session_studio.store import Approval, Store, open_store
from session_studio.telemetry import FleetCollector, FleetView, PrometheusObserver, UsageRecorder

from . import __version__

log = logging.getLogger("session_studio")


Clock = Callable[[], int]
"""Milliseconds since the Unix epoch: the one time every service, plane and timer reads."""


def now_ms() -> int:
    """The wall clock, the `Clock` of every real `Studio`."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Studio:
    settings: Settings
    store: Store
    keystore: LocalKeystore
    service: SessionService  # sessions, agents, workspaces
    admins: AdminService  # admins, invites, passkeys, logins
    tokens: TokenService  # admin API tokens
    audit: AuditTrail  # reading the audit trail
    registry: CollectorRegistry
    observer: PrometheusObserver
    usage: UsageRecorder  # started by `start_server`, flushed by `RunningServer.stop`
    fleet: FleetView  # the snapshot behind the session and agent series, refreshed likewise
    admin: AdminDeps  # what the admin plane (and the CLI's setup links and tokens) uses
    rotation: RotationSchedule  # per-agent `rotate_every`, run by `serve`
    approvals: ApprovalService  # held requests: list, approve, reject; the expiry sweep
    signer: _PlaneSigner  # signs approved requests with the RPC plane's parts
    clock: Clock  # what "now" is for every part built here

    @classmethod
    async def open(cls, settings: Settings, env: Mapping[str, str] | None = None, *,
                   clock: Clock = now_ms) -> Studio:
        """Build every part around one `clock`. Only tests pass another one: a clock they move
        by hand, so expiry, step-up and token windows pass without anyone sleeping."""
        master = load_master_key(path=settings.keystore.master_key_file,
                                 env=os.environ if env is None else env)
        store = open_store(path=settings.database.path, url=settings.database.url,
                           pool_size=settings.database.pool_size)
        await store.open()
        keystore = LocalKeystore(master)
        issuer = CredentialIssuer(master.derive("credentials/v1"))
        service = SessionService(store=store, keystore=keystore, issuer=issuer,
                                 settings=settings, clock=clock)
        admins = AdminService(store=store, origin=settings.admin.origin, clock=clock)
        tokens = TokenService(store=store, clock=clock)
        audit = AuditTrail(store=store)
        admin = AdminDeps(
            service=service, admins=admins, tokens=tokens, audit=audit, clock=clock,
            accounts=AdminAccounts(admins=admins, tokens=tokens,
                                   csrf_key=master.derive("admin-csrf/v1"), clock=clock),
            passkeys=PasskeyCeremonies(admins=admins, rp_id=settings.admin.rp_id,
                                       origin=settings.admin.origin, clock=clock),
            secure_cookies=settings.admin.origin.startswith("https://"))
        registry = CollectorRegistry(auto_describe=True)
        usage = UsageRecorder(store, flush_interval_s=settings.metrics.usage_flush_interval_s)
        fleet = FleetView(store, interval_s=settings.metrics.snapshot_interval_s,
                          per_session=settings.metrics.per_session,
                          window_mode=settings.policy.window, clock=clock)
        registry.register(FleetCollector(fleet))
        observer = PrometheusObserver(registry, version=__version__, usage=usage)
        signer = _PlaneSigner()
        approvals = ApprovalService(store=store, signer=signer, clock=clock)
        studio = cls(settings=settings, store=store, keystore=keystore, service=service,
                     admins=admins, tokens=tokens, audit=audit, registry=registry,
                     observer=observer, usage=usage, fleet=fleet, admin=admin,
                     rotation=RotationSchedule(service=service, clock=clock),
                     approvals=approvals, signer=signer, clock=clock)
        signer.studio = studio
        return studio

    async def close(self) -> None:
        await self.store.close()

    def rpc_deps(self) -> RpcPlaneDeps:
        s = self.settings
        upstreams = {chain_id: Upstream(chain.rpc_url, timeout_s=s.server.upstream_timeout_s,
                                        chain_id=chain_id, observer=self.observer)
                     for chain_id, chain in s.chains.items()}
        chains = {
            chain_id: ChainRuntime(
                chain_id=chain_id,
                assets=_chain_assets(s, chain_id),
                upstream=upstreams[chain_id],
                fees=FeeCache(upstreams[chain_id]),
                max_fee_per_gas=chain.max_fee_per_gas_wei,
                l1_fee=chain.l1_fee,
                name=chain.name,
            )
            for chain_id, chain in s.chains.items()
        }
        # Feeds are read through each chain's own upstream, the client started with the plane.
        # The oracle counts in seconds: a feed's age is compared with its heartbeat.
        clock = self.clock
        prices = ChainPriceOracle(
            s, upstreams={chain_id: chain.upstream for chain_id, chain in chains.items()},
            clock=lambda: clock() / 1000)
        return RpcPlaneDeps(
            store=self.store, keystore=self.keystore, chains=MappingProxyType(chains),
            prices=prices, clock=clock, window_mode=s.policy.window,
            max_outstanding_signed=s.policy.max_outstanding_signed,
            max_body_bytes=s.server.max_body_bytes, max_batch_size=s.server.max_batch_size,
            allow_raw_transactions=s.server.allow_raw_transactions, observer=self.observer,
            agents=AgentDesk(service=self.service),
            unbroadcast_grace_ms=unbroadcast_grace_ms(s.server.upstream_timeout_s),
            approval_ttl_ms=s.approvals.expire_after_s * 1000)


class _PlaneSigner:
    """The RPC plane's `ApprovalSigner`, for the admin plane and the CLI.

    In `serve` it signs with the running RPC plane's parts (its started upstream clients):
    `start_server` hands them over. Anywhere else (the CLI on the host) it builds the plane's
    parts for the one approval, starts their upstream clients and closes them after."""

    def __init__(self) -> None:
        self.studio: Studio | None = None
        self.running: ApprovalSigner | None = None

    async def approve(self, approval_id: str, *, workspace_id: str | None,
                      decided_by: str) -> Approval:
        if self.running is not None:
            return await self.running.approve(approval_id, workspace_id=workspace_id,
                                              decided_by=decided_by)
        assert self.studio is not None
        deps = self.studio.rpc_deps()
        for chain in deps.chains.values():
            await chain.upstream.start()
        try:
            return await ApprovalSigner(deps).approve(approval_id, workspace_id=workspace_id,
                                                      decided_by=decided_by)
        finally:
            for chain in deps.chains.values():
                await chain.upstream.close()


def _chain_assets(settings: Settings, chain_id: int) -> ChainAssets:
    chain = settings.chains[chain_id]
    native = Asset(chain_id=chain_id, symbol=chain.native_symbol, decimals=chain.native_decimals)
    tokens = {
        t.address.lower(): Asset(chain_id=chain_id, symbol=t.symbol, decimals=t.decimals,
                                 address=t.address.lower())
        for t in settings.tokens if t.chain_id == chain_id
    }
    return ChainAssets(chain_id=chain_id, native=native, tokens=MappingProxyType(tokens),
                       routers=frozenset(r.lower() for r in chain.routers),
                       permit2=chain.permit2.lower())


def _metrics_app(registry: CollectorRegistry) -> web.Application:
    app = web.Application()

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/metrics", metrics)
    return app


@dataclass(slots=True)
class RunningServer:
    """The three listeners of one `serve`, with the ports they actually bound."""

    runners: list[web.AppRunner]
    rpc_port: int
    admin_port: int
    metrics_port: int
    studio: Studio | None = None  # whose background work (usage, fleet snapshot) stops too

    async def stop(self) -> None:
        for runner in reversed(self.runners):
            await runner.cleanup()
        if self.studio is not None:
            # After the listeners: no call can be counted once the last usage flush ran.
            await self.studio.rotation.stop()
            await self.studio.approvals.stop()
            self.studio.signer.running = None
            await self.studio.fleet.stop()
            await self.studio.usage.stop()


async def start_server(studio: Studio) -> RunningServer:
    s = studio.settings.server
    # Before the listeners: the first scrape already finds a fleet snapshot.
    await studio.usage.start()
    await studio.fleet.start()
    await studio.rotation.start()
    await studio.approvals.start()
    rpc_deps = studio.rpc_deps()
    # Approvals made on the admin page sign with the running RPC plane's upstream clients.
    studio.signer.running = ApprovalSigner(rpc_deps)
    runners: list[web.AppRunner] = []
    ports: list[int] = []
    for app, listen in ((create_rpc_app(rpc_deps), s.rpc_listen),
                        (create_admin_app(studio.admin, version=__version__), s.admin_listen),
                        (_metrics_app(studio.registry), s.metrics_listen)):
        # access_log=None: the credential can be part of an RPC URL path, and paths end up
        # in access logs.
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, listen.host, listen.port)
        await site.start()
        runners.append(runner)
        ports.append(_bound_port(site, listen))
    return RunningServer(runners=runners, rpc_port=ports[0], admin_port=ports[1],
                         metrics_port=ports[2], studio=studio)


def _bound_port(site: web.TCPSite, listen: ListenAddress) -> int:
    server = site._server  # aiohttp exposes no public accessor for the bound socket
    sockets = getattr(server, "sockets", None) or []
    return int(sockets[0].getsockname()[1]) if sockets else listen.port


async def serve_forever(studio: Studio, *, announce: bool = True) -> None:
    """Run the listeners until SIGINT/SIGTERM, then shut down cleanly."""
    server = await start_server(studio)
    if announce:
        s = studio.settings.server
        print(f"session-studio serving: rpc {s.rpc_listen.host}:{server.rpc_port}, "
              f"admin {s.admin_listen.host}:{server.admin_port}, "
              f"metrics {s.metrics_listen.host}:{server.metrics_port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
