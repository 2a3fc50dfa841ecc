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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pbx_bridge.component import Component
    from pbx_bridge.config import Settings
    from pbx_bridge.directory.lookup import CallerId
    from pbx_bridge.itflow.backend import Itflow
    from pbx_bridge.metrics import Metrics
    from pbx_bridge.numbers import NumberPlan
    from pbx_bridge.service import Parts
    from pbx_bridge.store import Store

__all__ = ["build_parts"]

log = logging.getLogger(__name__)


async def build_parts(settings: Settings, store: Store, metrics: Metrics) -> Parts:
    from aiohttp import web

    from pbx_bridge.agi.cid import cid_route, door_guard
    from pbx_bridge.agi.server import FastAgiServer
    from pbx_bridge.balance.dialogue import BalanceService
    from pbx_bridge.balance.http import RemoteSessions, balance_http_routes
    from pbx_bridge.balance.route import balance_route
    from pbx_bridge.balance.settings import read_secret
    from pbx_bridge.callerid_http import cid_guard, cid_routes
    from pbx_bridge.directory.http import directory_routes
    from pbx_bridge.directory.lookup import CallerId
    from pbx_bridge.directory.service import DirectorySync
    from pbx_bridge.http import HttpFace, RouteGroup, TlsListener
    from pbx_bridge.itflow.backend import Itflow
    from pbx_bridge.numbers import NumberPlan
    from pbx_bridge.phonebook.http import phonebook_routes, phonebook_sync_routes
    from pbx_bridge.phonebook.service import PhonebookService
    from pbx_bridge.service import Parts
    from pbx_bridge.state_files import state_health
    from pbx_bridge.upstream import ItflowReachability

    parts = Parts()
    parts.readiness["state"] = lambda: state_health(settings.state_dir)
    itflow = Itflow.from_settings(settings)
    parts.closers.append(itflow.aclose)
    plan = NumberPlan(settings.numbers)

    directory = DirectorySync(settings, itflow, store, plan, metrics)
    callerid = CallerId(directory, itflow, plan, settings, metrics)
    parts.closers.append(callerid.aclose)
    if settings.directory.enabled:
        parts.components.append(directory)
        parts.readiness["directory"] = directory.health
    else:
        directory.load()  # still answer from the last stored snapshot

    balance = None
    if settings.balance.enabled:
        balance = BalanceService.build(settings=settings.balance, itflow=itflow, callerid=callerid,
                                       plan=plan, store=store, metrics=metrics)

    if settings.fastagi.enabled:
        routes = {"cid": cid_route(callerid, safe_names=settings.callerid.safe_names,
                                   guard=door_guard(settings))}
        if balance is not None:
            routes["balance"] = balance_route(balance)
        fastagi = FastAgiServer(settings.fastagi.host, settings.fastagi.port, routes,
                                env_timeout=settings.fastagi.env_timeout,
                                command_timeout=settings.fastagi.command_timeout,
                                session_timeout=settings.fastagi.session_timeout,
                                allow=settings.fastagi.allow,
                                max_connections=settings.fastagi.max_connections,
                                metrics=metrics)
        parts.components.append(fastagi)
        parts.readiness["fastagi"] = fastagi.health

    phonebook = None
    if settings.phonebook.enabled:
        phonebook = PhonebookService(settings, directory, plan, metrics=metrics)
        parts.components.append(phonebook)

    if settings.ami is not None:
        parts.components.extend(_ticketing(settings, store, metrics, itflow, callerid, plan, parts))

    # ITFlow reachability for /readyz: detection plus a keyless probe that notices ITFlow going away
    # (and coming back) after start.
    probe = ItflowReachability(itflow, verify_tls=settings.itflow.verify_tls)
    parts.components.append(probe)
    parts.readiness["itflow"] = probe.health

    if settings.http.enabled:
        http = settings.http
        wide = http.callerid_open_beyond_loopback()
        if wide:
            # FreePBX asks over loopback; a phones' subnet in http.allow (the old advice) opens /cid too
            log.warning("http: caller ID (/cid, /cid.json, /cid.agi) is open to %s through http.allow; "
                        "put the phones' subnet in http.phonebook.allow and keep http.allow on loopback, "
                        "or set http.callerid.allow", ", ".join(wide))
        http_routes: list[web.RouteDef] = [*directory_routes(directory)]
        groups = [RouteGroup("callerid", cid_routes(callerid, settings), http.allow_for("callerid"))]
        if phonebook is not None:
            http_routes += phonebook_sync_routes(phonebook)
            groups.append(RouteGroup("phonebook", phonebook_routes(phonebook, with_sync=False),
                                     http.allow_for("phonebook")))
        tls = None
        if http.tls_port is not None and http.tls_cert is not None and http.tls_key is not None:
            tls = TlsListener(http.tls_host, http.tls_port, http.tls_cert, http.tls_key)
        auth = http.basic_auth
        face = HttpFace(http.host, http.port, http_routes,
                        allow=http.allow,
                        basic_auth=(auth.username, auth.password) if auth else None,
                        readiness=parts.health, metrics=metrics, front=[cid_guard(settings)],
                        groups=groups, tls=tls)
        parts.components.append(face)
        parts.readiness["http"] = face.health
        if balance is not None:
            # The classic balance script's door: loopback only, never the handsets' listener.
            sessions = RemoteSessions(balance, reply_timeout=settings.balance.script_timeout)
            parts.closers.append(sessions.close)  # cancel calls in flight on shutdown
            secret_file = settings.balance.secret_file
            internal = HttpFace("127.0.0.1", settings.http.internal_port,
                                balance_http_routes(balance, sessions=sessions,
                                                    secret=read_secret(secret_file) if secret_file else None),
                                allow=["127.0.0.0/8", "::1/128"], name="http-internal")
            parts.components.append(internal)
    return parts


def _ticketing(settings: Settings, store: Store, metrics: Metrics, itflow: Itflow, callerid: CallerId,
               plan: NumberPlan, parts: Parts) -> list[Component]:
    from pbx_bridge.ami.listener import AmiListener
    from pbx_bridge.tickets.availability import ticket_availability
    from pbx_bridge.tickets.buffer import CallBuffer
    from pbx_bridge.tickets.intake import TicketIntake
    from pbx_bridge.tickets.outbox import Outbox
    from pbx_bridge.tickets.worker import OutboxWorker

    assert settings.ami is not None
    outbox = Outbox(store, clock=time.time)

    def available() -> bool | None:
        # False only when ITFlow positively has no ticket API; "could not tell yet" queues the call.
        caps = itflow.cached_capabilities
        return None if caps is None else ticket_availability(caps)[0] != "no"

    intake = TicketIntake(settings.tickets, outbox, is_internal=plan.is_internal,
                          plan=plan, lookup=callerid.lookup, available=available,
                          spool_root=settings.voicemail.spool_root)
    # Finished calls pass through the buffer: committed at their last Hangup, held in memory when
    # the state file cannot be written.
    buffer = CallBuffer(store, intake.handle)
    listener = AmiListener(settings.ami, buffer, is_internal=plan.is_internal,
                           metrics=metrics, on_ended=buffer.remember)
    worker = OutboxWorker(outbox, itflow.v1, itflow.capabilities,
                          settings.tickets, clock=time.time, metrics=metrics)
    parts.readiness["ami"] = listener.health
    parts.readiness["tickets"] = worker.health
    parts.readiness["intake"] = buffer.health
    return [worker, buffer, listener]

