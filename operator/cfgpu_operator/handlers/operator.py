"""Build the Kopf registry for the whole operator and run it."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from cfgpu_operator.handlers import gpuinstance, safeworkload
from cfgpu_operator.handlers.runtime import Runtime
from cfgpu_operator.models.common import FINALIZER, GROUP
from cfgpu_operator.settings import Settings


class PollerStalled(Exception):
    pass


def build(settings: Settings, rt: Runtime | None = None) -> tuple[kopf.OperatorRegistry, Runtime]:
    registry = kopf.OperatorRegistry()
    runtime = rt or Runtime(settings)

    @kopf.on.login(id="login", registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # In-cluster service account, else KUBECONFIG / ~/.kube/config, as kubectl does.
        return kopf.login_via_client(**kwargs)

    @kopf.on.startup(id="configure", registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.persistence.finalizer = FINALIZER
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=GROUP, key="last-handled-configuration"
        )
        settings.posting.level = logging.INFO
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330

    @kopf.on.cleanup(id="close-clients", registry=registry)
    async def close(**_: Any) -> None:
        await runtime.close()

    @kopf.on.probe(id="pollers", registry=registry)
    def pollers(**_: Any) -> str:
        if runtime.pollers_stalled():
            raise PollerStalled("a CFGPU poller has not succeeded for three slow intervals")
        return "ok"

    gpuinstance.register(registry, runtime)
    if settings.SAFE_API_URL is not None:
        safeworkload.register(registry, runtime)
    return registry, runtime


def run(
    settings: Settings,
    *,
    namespaces: tuple[str, ...],
    standalone: bool,
    liveness: str | None,
    verbose: bool,
) -> None:
    kopf.configure(verbose=verbose, log_prefix=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    registry, _ = build(settings)
    kopf.run(
        registry=registry,
        standalone=standalone,
        clusterwide=not namespaces,
        namespaces=namespaces,
        liveness_endpoint=liveness,
    )
