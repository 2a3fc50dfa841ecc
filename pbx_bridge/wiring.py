"""Build the daemon's parts from the settings, in start order (README, "How it fits together").

    ITFlow clients ─> directory sync ─> caller ID ─┬─> FastAGI (cid, balance)
                                                   ├─> HTTP face (/cid, /phonebook/*, /healthz, /metrics)
                                                   ├─> balance (FastAGI route + loopback listener)
                                                   └─> tickets intake <── AMI listener
    directory snapshots ─> phonebook service          tickets outbox ─> outbox worker ─> ITFlow

Which part runs: FastAGI, HTTP, directory sync and the phonebook scheduler unless disabled; the AMI
listener when an ``ami`` section is present; ticketing whenever the AMI listener runs (it reports
itself unavailable, and the outbox does not grow, when the backend cannot create tickets).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Middleware

from pbx_bridge.agi.server import FastAgiServer
from pbx_bridge.ami.listener import AmiListener
from pbx_bridge.ami.outcome import CallRecord
from pbx_bridge.ami.settings import AmiSettings
from pbx_bridge.balance.dialogue import BalanceService
from pbx_bridge.balance.http import RemoteSessions, balance_http_routes
from pbx_bridge.balance.route import balance_route
from pbx_bridge.balance.settings import BalanceSettings, read_secret
from pbx_bridge.callerid.http import cid_guard, cid_routes
from pbx_bridge.callerid.route import cid_route, door_guard
from pbx_bridge.callerid.service import CallerId
from pbx_bridge.component import Component, Health
from pbx_bridge.config import HttpSettings
from pbx_bridge.directory.http import directory_routes
from pbx_bridge.directory.service import DirectorySync
from pbx_bridge.http import HttpFace, RouteGroup, TlsListener
from pbx_bridge.itflow.backend import Itflow
from pbx_bridge.itflow.reachability import ItflowReachability
from pbx_bridge.itflow.v1 import V1Client
from pbx_bridge.journal.availability import journal_availability
from pbx_bridge.journal.intake import JournalIntake
from pbx_bridge.metrics import Metrics
from pbx_bridge.numbers import NumberPlan
from pbx_bridge.phonebook.http import phonebook_routes, phonebook_sync_routes
from pbx_bridge.phonebook.service import PhonebookService
from pbx_bridge.screen.board import CallBoard
from pbx_bridge.screen.caller_tickets import CallerTickets
from pbx_bridge.screen.dial import Dialer
from pbx_bridge.screen.http import screen_routes
from pbx_bridge.screen.links import ItflowLinks
from pbx_bridge.screen.service import ScreenService
from pbx_bridge.settings import Settings
from pbx_bridge.state_files import state_health
from pbx_bridge.store import Store
from pbx_bridge.tickets.availability import ticket_availability
from pbx_bridge.tickets.buffer import CallBuffer
from pbx_bridge.tickets.intake import TicketIntake
from pbx_bridge.tickets.open_tickets import OpenTickets
from pbx_bridge.tickets.outbox import Outbox
from pbx_bridge.tickets.settings import TicketsSettings, VoicemailSettings
from pbx_bridge.tickets.voicemail_links import (
    VoicemailAudio,
    VoicemailLinkError,
    VoicemailLinks,
    load_key,
    voicemail_routes,
)
from pbx_bridge.tickets.worker import OutboxWorker, TicketClient

__all__ = ["Parts", "build_parts"]

log = logging.getLogger(__name__)


@dataclass
class Parts:
    """What :func:`build_parts` made; the daemon starts and stops it, tests and ``check`` reach into it."""

    components: list[Component] = field(default_factory=list)
    closers: list[Callable[[], object]] = field(default_factory=list)
    readiness: dict[str, Callable[[], Health]] = field(default_factory=dict)

    def health(self) -> dict[str, Health]:
        """Every readiness check, a broken one reported as not ready instead of breaking /readyz."""
        out: dict[str, Health] = {}
        for name, check in self.readiness.items():
            try:
                out[name] = check()
            except Exception as exc:
                out[name] = Health(False, f"health check failed: {exc}")
        return out


async def build_parts(settings: Settings, store: Store, metrics: Metrics) -> Parts:
    parts = Parts()
    parts.readiness["state"] = lambda: state_health(settings.state_dir)
    itflow = Itflow.from_settings(settings.itflow)
    parts.closers.append(itflow.aclose)
    plan = NumberPlan(settings.numbers)

    directory = DirectorySync(settings.directory, itflow, store, plan, metrics)
    callerid = CallerId(directory, itflow, plan, settings.callerid, settings.directory, metrics)
    parts.closers.append(callerid.aclose)
    if settings.directory.enabled:
        parts.components.append(directory)
        parts.readiness["directory"] = directory.health
    else:
        directory.load()  # still answer from the last stored snapshot

    balance = None
    if settings.balance.enabled:
        balance = BalanceService.build(
            settings=settings.balance,
            itflow=itflow,
            callerid=callerid,
            plan=plan,
            store=store,
            metrics=metrics,
        )

    if settings.fastagi.enabled:
        routes = {
            "cid": cid_route(
                callerid, safe_names=settings.callerid.safe_names, guard=door_guard(settings.callerid)
            )
        }
        if balance is not None:
            routes["balance"] = balance_route(balance)
        fastagi = FastAgiServer(
            settings.fastagi.host,
            settings.fastagi.port,
            routes,
            env_timeout=settings.fastagi.env_timeout,
            command_timeout=settings.fastagi.command_timeout,
            session_timeout=settings.fastagi.session_timeout,
            allow=settings.fastagi.allow,
            max_connections=settings.fastagi.max_connections,
            metrics=metrics,
        )
        parts.components.append(fastagi)
        parts.readiness["fastagi"] = fastagi.health

    phonebook = None
    if settings.phonebook.enabled:
        phonebook = PhonebookService(
            settings.phonebook,
            directory,
            plan,
            http=settings.http,
            state_dir=settings.state_dir,
            metrics=metrics,
        )
        parts.components.append(phonebook)

    vm_links = _voicemail_links(settings)
    listener: AmiListener | None = None
    if settings.ami is not None:
        parts.components.extend(
            _ticketing(
                settings.ami,
                settings.tickets,
                settings.voicemail,
                store,
                metrics,
                itflow,
                callerid,
                plan,
                parts,
                journal=_Journal(settings, directory),
                links=vm_links,
            )
        )
        listener = next(c for c in parts.components if isinstance(c, AmiListener))

    screen = _screen(settings, directory, plan, itflow, listener, parts) if settings.screen.enabled else None

    # ITFlow reachability for /readyz: detection plus a keyless probe that notices ITFlow going away
    # (and coming back) after start.
    probe = ItflowReachability(itflow, verify_tls=settings.itflow.verify_tls)
    parts.components.append(probe)
    parts.readiness["itflow"] = probe.health

    if settings.http.enabled:
        face = _http_face(
            settings.http,
            directory,
            phonebook,
            cid_routes(callerid, settings.callerid),
            cid_guard(settings.callerid),
            parts,
            metrics,
            voicemail=None
            if vm_links is None
            else voicemail_routes(vm_links, VoicemailAudio(settings.voicemail.spool_root)),
            extra_groups=[RouteGroup("screen", screen_routes(screen), settings.screen.allow, "screen.allow")]
            if screen is not None
            else [],
        )
        parts.components.append(face)
        parts.readiness["http"] = face.health
        if balance is not None:
            parts.components.append(_balance_door(settings.balance, settings.http, balance, parts))
    if screen is not None:
        # after the HTTP face, so it stops first: its open event streams end and the listener drains at once
        parts.components.append(screen)
    return parts


def _http_face(
    http: HttpSettings,
    directory: DirectorySync,
    phonebook: PhonebookService | None,
    callerid_routes: list[web.RouteDef],
    callerid_guard: Middleware,
    parts: Parts,
    metrics: Metrics,
    *,
    voicemail: list[web.RouteDef] | None = None,
    extra_groups: list[RouteGroup],
) -> HttpFace:
    """The listener of FreePBX, the phones and the operator; each route group behind its own allow-list."""
    wide = http.callerid_open_beyond_loopback()
    if wide:
        # FreePBX asks over loopback; a phones' subnet in http.allow (the old advice) opens /cid too
        log.warning(
            "http: caller ID (/cid, /cid.json, /cid.agi) is open to %s through http.allow; "
            "put the phones' subnet in http.phonebook.allow and keep http.allow on loopback, "
            "or set http.callerid.allow",
            ", ".join(wide),
        )
    http_routes: list[web.RouteDef] = [*directory_routes(directory)]
    groups = [RouteGroup("callerid", callerid_routes, http.allow_for("callerid"))]
    if phonebook is not None:
        http_routes += phonebook_sync_routes(phonebook)
        groups.append(
            RouteGroup("phonebook", phonebook_routes(phonebook, with_sync=False), http.allow_for("phonebook"))
        )
    if voicemail is not None:
        groups.append(RouteGroup("voicemail", voicemail, http.allow_for("voicemail")))
    groups += extra_groups
    tls = None
    if http.tls_port is not None and http.tls_cert is not None and http.tls_key is not None:
        tls = TlsListener(http.tls_host, http.tls_port, http.tls_cert, http.tls_key)
    auth = http.basic_auth
    return HttpFace(
        http.host,
        http.port,
        http_routes,
        allow=http.allow,
        basic_auth=(auth.username, auth.password) if auth else None,
        readiness=parts.health,
        metrics=metrics,
        front=[callerid_guard],
        groups=groups,
        tls=tls,
    )


def _screen(
    settings: Settings,
    directory: DirectorySync,
    plan: NumberPlan,
    itflow: Itflow,
    listener: AmiListener | None,
    parts: Parts,
) -> ScreenService:
    """The calls page (docs/screen.md): fed by the call tracker, dialling through the same AMI login."""
    cfg = settings.screen
    links = ItflowLinks(cfg.itflow_web_url or settings.itflow.url, cfg.itflow_ui)
    board = CallBoard(
        index=lambda: directory.index,
        plan=plan,
        links=links,
        technicians=settings.technicians,
        recent=cfg.recent_calls,
        clock=time.time,
    )
    send = None
    ticket_of = None
    if listener is not None:
        listener.tracker.observe(board.observe)
        connection = listener.connection

        async def send(action: dict[str, str]) -> object:
            # as_list=False: the answer is Asterisk's first response ("successfully queued"), not the
            # OriginateResponse that comes only once the technician picked up
            return await connection.send_action(action, wait=10.0, as_list=False)

        worker = next(c for c in parts.components if isinstance(c, OutboxWorker))
        ticket_of = worker.outbox.aticket_of
    service = ScreenService(
        cfg,
        settings.technicians,
        board,
        links,
        CallerTickets(itflow.v1, ttl=cfg.tickets_cache_seconds, clock=time.monotonic),
        Dialer(cfg.dial, plan, send, time.monotonic),
        ticket_of=ticket_of,
        clock=time.time,
    )
    parts.readiness["screen"] = service.health
    return service


def _balance_door(
    cfg: BalanceSettings, http: HttpSettings, balance: BalanceService, parts: Parts
) -> HttpFace:
    """The classic balance script's door: loopback only, never the handsets' listener."""
    sessions = RemoteSessions(balance, reply_timeout=cfg.script_timeout)
    parts.closers.append(sessions.close)  # cancel calls in flight on shutdown
    secret_file = cfg.secret_file
    return HttpFace(
        "127.0.0.1",
        http.internal_port,
        balance_http_routes(
            balance, sessions=sessions, secret=read_secret(secret_file) if secret_file else None
        ),
        allow=["127.0.0.0/8", "::1/128"],
        name="http-internal",
    )


@dataclass
class _Journal:
    """What the call journal needs besides the ticketing parts (its items share the tickets outbox)."""

    settings: Settings
    directory: DirectorySync

    def writers(self) -> tuple[dict[str, TicketClient], list[Callable[[], object]]]:
        """One v1 client per technician with an own key file (ITFlow credits a reply to the key's
        user); a key file that cannot be read leaves that technician on the daemon's key."""
        it = self.settings.itflow
        out: dict[str, TicketClient] = {}
        closers: list[Callable[[], object]] = []
        for person in self.settings.technicians.people:
            if person.api_key_file is None:
                continue
            try:
                key = person.api_key_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                log.error(
                    "journal: technician %s: api_key_file %s unreadable (%s); their notes use the "
                    "daemon's key",
                    person.name,
                    person.api_key_file,
                    exc.strerror,
                )
                continue
            if key:
                client = V1Client(it.url, key, timeout=it.timeout, verify_tls=it.verify_tls)
                out[person.name] = client
                closers.append(client.aclose)
        return out, closers


def _ticketing(
    ami: AmiSettings,
    tickets: TicketsSettings,
    voicemail: VoicemailSettings,
    store: Store,
    metrics: Metrics,
    itflow: Itflow,
    callerid: CallerId,
    plan: NumberPlan,
    parts: Parts,
    *,
    journal: _Journal,
    links: VoicemailLinks | None,
) -> list[Component]:
    outbox = Outbox(store, clock=time.time)

    def available() -> bool | None:
        # False only when ITFlow positively has no ticket API; "could not tell yet" queues the call.
        caps = itflow.cached_capabilities
        return None if caps is None else ticket_availability(caps)[0] != "no"

    intake = TicketIntake(
        tickets,
        outbox,
        is_internal=plan.is_internal,
        plan=plan,
        lookup=callerid.lookup,
        available=available,
        spool_root=voicemail.spool_root,
        technicians=journal.settings.technicians,
        links=links,
    )
    handle: Callable[[CallRecord], Awaitable[object]] = intake.handle
    open_tickets = OpenTickets(clock=time.time)
    writers: dict[str, TicketClient] = {}
    js = journal.settings.journal
    if js.enabled:
        writers, closers = journal.writers()
        parts.closers.extend(closers)
        journal_intake = JournalIntake(
            js,
            outbox.aenqueue,
            technicians=journal.settings.technicians,
            lookup=callerid.lookup,
            plan=plan,
            available=lambda: _journal_available(itflow),
            # the calls page's /calls/<linkedid> exists only when the page is served (docs/screen.md)
            link_base=journal.settings.http.public_url if journal.settings.screen.enabled else None,
            tz=intake.tz,
        )

        async def both(record: CallRecord) -> None:
            # Each enqueue is idempotent per (Linkedid, kind): a retried record adds nothing twice.
            await intake.handle(record)
            await journal_intake.handle(record)

        handle = both
        v1 = itflow.v1

        async def refresh_index(_snapshot: object) -> None:
            # v26.08 reads ignore client_id: the open tickets are listed once per directory sync,
            # never per call (docs/tickets.md, "The call journal"). 26.09+ filters per call instead.
            caps = itflow.cached_capabilities
            if v1 is None or (caps is not None and (caps.v1e or not caps.ticket_replies)):
                return
            try:
                await open_tickets.refresh(v1)
            except Exception as exc:  # the last index stays; notes wait while there is none
                log.warning("journal: open-ticket index not refreshed (%s)", exc)

        journal.directory.subscribe(refresh_index)
        parts.readiness["journal"] = lambda: _journal_health(itflow, open_tickets)
    # Finished calls pass through the buffer: committed at their last Hangup, held in memory when
    # the state file cannot be written.
    buffer = CallBuffer(store, handle)
    listener = AmiListener(
        ami, buffer, is_internal=plan.is_internal, metrics=metrics, on_ended=buffer.remember
    )
    worker = OutboxWorker(
        outbox,
        itflow.v1,
        itflow.capabilities,
        tickets,
        clock=time.time,
        metrics=metrics,
        open_tickets=open_tickets,
        writers=writers.get,
    )
    parts.readiness["ami"] = listener.health
    parts.readiness["tickets"] = worker.health
    parts.readiness["intake"] = buffer.health
    return [worker, buffer, listener]


def _voicemail_links(settings: Settings) -> VoicemailLinks | None:
    """Signed voicemail links when tickets run, the HTTP face is on and http.public_url says where."""
    vm, http = settings.voicemail, settings.http
    if settings.ami is None or not vm.audio_links or not http.enabled or not http.public_url:
        return None
    try:
        key = load_key(settings.state_dir)
    except VoicemailLinkError as exc:
        log.error("voicemail links off: %s", exc)
        return None
    return VoicemailLinks(key, base_url=http.public_url, days=vm.link_days)


def _journal_available(itflow: Itflow) -> bool | None:
    state, _ = journal_availability(itflow.cached_capabilities)
    return None if state == "unknown" else state == "yes"


def _journal_health(itflow: Itflow, index: OpenTickets) -> Health:
    caps = itflow.cached_capabilities
    state, why = journal_availability(caps)
    if state == "no":
        return Health(False, why)
    if state == "unknown":
        return Health(False, f"journal waiting: {why}")
    if caps is not None and not caps.v1e and not index.ready:
        return Health(False, "journal waiting: the open-ticket index is built at the first directory sync")
    return Health(True, f"journaling answered calls ({why})")
