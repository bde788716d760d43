"""Build the Kopf registry for the whole operator and run it."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import socket
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import kopf
from aiohttp import web

from cfgpu_operator import logs, metrics
from cfgpu_operator.handlers import (
    cluster,
    gpuinstance,
    gpuquota,
    kube_session,
    leader,
    requeue,
    safeworkload,
)
from cfgpu_operator.handlers.runtime import Runtime
from cfgpu_operator.models.common import FINALIZER, KOPF_STATUS
from cfgpu_operator.settings import Settings

EVENT_COMPONENT = kube_session.COMPONENT  # our own Events and Kopf's name the same component
CONSISTENCY_TIMEOUT = 5.0
# How long Kopf waits for an object's periodic loop to end before it runs the deletion
# handler; past it, Kopf sleeps until the loop's cancellation timeout (FINISH_RUN) unless the
# object changes. The loop ends as soon as Kopf tells it, after a run under way.
DAEMON_EXIT_WAIT = 5.0


def build(
    settings: Settings, rt: Runtime | None = None, namespaces: tuple[str, ...] = ()
) -> tuple[kopf.OperatorRegistry, Runtime]:
    """``namespaces``: those watched (none: all)."""
    registry = kopf.OperatorRegistry()
    runtime = rt or Runtime(settings)
    requeue.install()
    kinds = 1 if settings.SAFE_API_URL is None else 2
    watches = kube_session.watches(kinds, len(namespaces))
    connections = settings.CFGPU_OPERATOR_KUBE_CONNECTIONS + watches

    @kopf.on.login(id="login", registry=registry)
    async def login(**kwargs: Any) -> kopf.AiohttpSession | None:
        return await kube_session.login(connections, runtime.patcher, **kwargs)

    @kopf.on.startup(id="configure", registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.persistence.finalizer = FINALIZER
        # Kopf's records go into status, not annotations: a handler's result is then one
        # status write instead of a status write plus a metadata write.
        settings.persistence.progress_storage = kopf.StatusProgressStorage(name=KOPF_STATUS)
        settings.persistence.diffbase_storage = kopf.StatusDiffBaseStorage(
            name=KOPF_STATUS, field="status.{name}.lastHandledConfiguration"
        )
        # Kopf holds an object's next handler run until the watch brings back the version
        # its own last patch stored, for at most this long. Longer would cover the watch's
        # lag under load, but Kopf waits for that exact version: when another write to the
        # object follows (the operator's own status writes), it waits the whole timeout.
        settings.persistence.consistency_timeout = CONSISTENCY_TIMEOUT
        settings.background.instant_exit_timeout = DAEMON_EXIT_WAIT
        settings.posting.level = logging.INFO
        # Events name this operator and the pod that posted them (Kopf's defaults: "kopf",
        # "dev"); in a pod the host name is the pod's name.
        settings.posting.reporting_component = EVENT_COMPONENT
        settings.posting.reporting_instance = socket.gethostname()
        settings.posting.event_name_prefix = f"{EVENT_COMPONENT}-"
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330

    @kopf.on.startup(id="directory", registry=registry)
    async def directory(**_: Any) -> None:
        # Before Kopf watches anything: which object manages which instance must be known
        # before the first handler decides to adopt one.
        await runtime.seed_directory(namespaces)
        runtime.keep_default_account()

    @kopf.on.cleanup(id="close-clients", registry=registry)
    async def close(**_: Any) -> None:
        await runtime.close()

    @kopf.on.probe(id="pollers", registry=registry)
    def pollers(**_: Any) -> str:
        stalled = runtime.stalled_pollers()
        if stalled:
            # Permanent: Kopf would otherwise retry the probe for a minute before answering.
            raise kopf.PermanentError("; ".join(stalled))
        return "ok"

    gpuinstance.register(registry, runtime)
    gpuquota.register(registry, runtime)
    if settings.SAFE_API_URL is not None:
        safeworkload.register(registry, runtime)
    return registry, runtime


@dataclass(frozen=True)
class RunOptions:
    """How ``cfgpu-operator run`` was asked to run (the command line, not the settings)."""

    namespaces: tuple[str, ...] = ()
    standalone: bool = False
    liveness: str | None = None
    verbose: bool = False
    metrics_port: int = 8080  # 0: no metrics endpoint
    metrics_address: str = "0.0.0.0"  # noqa: S104 - Prometheus scrapes the pod's IP


class StartupError(Exception):
    """The operator cannot start; the message says what to change, in one sentence."""


def run(settings: Settings, options: RunOptions) -> None:
    kopf.configure(verbose=options.verbose, log_prefix=True)
    level = "DEBUG" if options.verbose else settings.CFGPU_OPERATOR_LOG_LEVEL
    logs.configure(level, settings.CFGPU_OPERATOR_LOG_FORMAT, logging.getLogger().handlers)
    if options.metrics_port:
        _serve_metrics(options.metrics_port, options.metrics_address)
    registry, runtime = build(settings, namespaces=options.namespaces)
    _connect(runtime)
    runtime.watch_orphans(_cluster(runtime, settings))
    elector = None if options.standalone else _elector(runtime, settings)
    asyncio.run(_operate(registry, options, elector))


def _serve_metrics(port: int, address: str) -> None:
    try:
        metrics.serve(port, address)
    except OSError as exc:
        raise StartupError(
            f"cannot serve metrics on {address}:{port} ({exc.strerror or exc}); free the port "
            "or choose another with --metrics-port (0 turns metrics off)"
        ) from None


def _connect(runtime: Runtime) -> None:
    """Find the cluster before anything starts: without one Kopf would retry for ever."""
    from kubernetes.config import ConfigException

    try:
        runtime.api_client()
    except ConfigException as exc:
        raise StartupError(
            f"no Kubernetes cluster to talk to: not running in a pod and no usable kubeconfig "
            f"({exc}); set KUBECONFIG or create ~/.kube/config"
        ) from None


def _cluster(runtime: Runtime, settings: Settings) -> cluster.Cluster:
    from kubernetes import client

    namespace = leader.default_namespace(settings.CFGPU_OPERATOR_LEASE_NAMESPACE)
    # Without urllib3's own retries, each of which logs a WARNING: an API server that does
    # not answer at start-up is one line and a restart.
    configuration = copy.copy(runtime.api_client().configuration)
    configuration.retries = 0
    with client.ApiClient(configuration) as api:
        try:
            return cluster.resolve(
                client.CoreV1Api(api), namespace, settings.CFGPU_OPERATOR_CLUSTER_ID
            )
        except cluster.ClusterIdError as exc:
            raise StartupError(str(exc)) from None


def _elector(runtime: Runtime, settings: Settings) -> leader.Elector:
    from kubernetes import client

    return leader.Elector(
        client.CoordinationV1Api(runtime.api_client()),
        namespace=leader.default_namespace(settings.CFGPU_OPERATOR_LEASE_NAMESPACE),
        name=settings.CFGPU_OPERATOR_LEASE_NAME,
        timing=leader.Timing(settings.CFGPU_OPERATOR_LEASE_SECONDS),
    )


async def _operate(
    registry: kopf.OperatorRegistry, options: RunOptions, elector: leader.Elector | None
) -> None:
    if elector is not None:
        async with standby_probe(options.liveness):
            await elector.wait_until_leader()
        elector.keep(on_lost=leader.exit_now)
    try:
        # Replicas are coordinated by the Lease, so Kopf's own peering stays off.
        await kopf.operator(
            registry=registry,
            standalone=True,
            clusterwide=not options.namespaces,
            namespaces=options.namespaces,
            liveness_endpoint=options.liveness,
        )
    finally:
        if elector is not None:
            await asyncio.to_thread(elector.release)


@contextlib.asynccontextmanager
async def standby_probe(endpoint: str | None) -> AsyncIterator[None]:
    """While waiting for the Lease, answer the liveness probe (a standby is healthy)."""
    if endpoint is None:
        yield
        return
    parts = urllib.parse.urlsplit(endpoint)

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"standby": "waiting for the leader Lease"})

    app = web.Application()
    app.add_routes([web.get(parts.path or "/", health)])
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, parts.hostname, parts.port or 80).start()
    try:
        yield
    finally:
        await runner.cleanup()
