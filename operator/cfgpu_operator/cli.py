"""The ``cfgpu-operator`` command line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import Any

import click

from cfgpu_operator import __version__

DEFAULT_EMULATOR_TOKEN = "emulator-token"  # noqa: S105 - the emulator's made-up demo token


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cfgpu-operator")
def main() -> None:
    """Run GPU instances on CFGPU and AI workloads on Primus-SaFE as Kubernetes objects."""


@main.command()
@click.option(
    "--namespace",
    "-n",
    "namespaces",
    multiple=True,
    help="Watch this namespace (repeatable); default: all namespaces.",
)
@click.option(
    "--all-namespaces",
    "-A",
    "all_namespaces",
    is_flag=True,
    help="Watch every namespace (the default when no --namespace is given).",
)
@click.option(
    "--standalone",
    is_flag=True,
    help="Act at once, without taking the leader Lease (one replica only, or development).",
)
@click.option(
    "--liveness", metavar="URL", help="Serve the liveness probe, e.g. http://0.0.0.0:8081/healthz."
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Serve Prometheus metrics on this port (0: off).",
)
@click.option(
    "--metrics-address",
    default="0.0.0.0",  # noqa: S104 - Prometheus scrapes the pod's IP
    show_default=True,
    help="Address the metrics endpoint listens on.",
)
@click.option("--verbose", "-v", is_flag=True, help="Log at DEBUG (overrides the log level).")
def run(
    namespaces: tuple[str, ...],
    all_namespaces: bool,
    standalone: bool,
    liveness: str | None,
    metrics_port: int,
    metrics_address: str,
    verbose: bool,
) -> None:
    """Run the operator against the current kubeconfig or in-cluster config."""
    from cfgpu_operator.handlers.operator import RunOptions, StartupError
    from cfgpu_operator.handlers.operator import run as run_operator
    from cfgpu_operator.settings import SettingsError, load_settings

    if namespaces and all_namespaces:
        raise click.UsageError("--namespace and --all-namespaces exclude each other")
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    options = RunOptions(
        namespaces=namespaces,
        standalone=standalone,
        liveness=liveness,
        verbose=verbose,
        metrics_port=metrics_port,
        metrics_address=metrics_address,
    )
    try:
        run_operator(settings, options)
    except StartupError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.option("--health", metavar="URL", help="The liveness endpoint, e.g. http://op:8081/healthz.")
@click.option("--metrics", metavar="URL", help="The metrics endpoint, e.g. http://op:8080/metrics.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True)
def check(health: str | None, metrics: str | None, timeout: float) -> None:
    """Check that a running operator answers on its endpoints (what `helm test` runs)."""
    from cfgpu_operator.selfcheck import problems

    if not (health or metrics):
        raise click.UsageError("give --health, --metrics or both")
    found = problems(health, metrics, timeout)
    for problem in found:
        click.echo(f"error: {problem}", err=True)
    if found:
        sys.exit(1)
    click.echo("ok: " + ", ".join(url for url in (health, metrics) if url) + " answered")


@main.command()
@click.option(
    "--write",
    "directory",
    type=click.Path(file_okay=False),
    help="Write one YAML file per CRD into this folder instead of printing them.",
)
@click.option("--check", is_flag=True, help="With --write: fail if the files are stale.")
def crds(directory: str | None, check: bool) -> None:
    """Print (or write) the CustomResourceDefinitions generated from the models."""
    from pathlib import Path

    from cfgpu_operator import crdgen

    if directory is None:
        click.echo("---\n".join(crdgen.render(obj) for obj in crdgen.all_crds().values()), nl=False)
        return
    if check:
        outdated = crdgen.stale(Path(directory))
        if outdated:
            raise click.ClickException(f"stale CRDs in {directory}: {', '.join(outdated)}")
        return
    for path in crdgen.write(Path(directory)):
        click.echo(f"wrote {path}")


@main.command()
@click.option(
    "--keep",
    is_flag=True,
    help="Leave everything running after the samples are Ready (Ctrl-C ends).",
)
@click.option(
    "--transition-seconds",
    type=click.FloatRange(0, 60),
    default=2.0,
    show_default=True,
    help="How long each emulated CFGPU transition takes.",
)
@click.option(
    "--deadline",
    type=click.FloatRange(5, 600),
    default=90.0,
    show_default=True,
    help="Seconds to wait for each stage before failing.",
)
def demo(keep: bool, transition_seconds: float, deadline: float) -> None:
    """The operator against local emulators of Kubernetes, CFGPU and Primus-SaFE, with the
    samples."""
    _need_emulators("the demo runs the emulators, which need")
    from cfgpu_operator.demo import main as run_demo

    with contextlib.suppress(KeyboardInterrupt):
        run_demo(keep, transition_seconds, deadline)


@main.command()
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table")
def orphans(output: str) -> None:
    """Instances this cluster named that no GpuInstance records (CFGPU_API_TOKEN's account)."""
    from cfgpu_operator.catalog_cli import table
    from cfgpu_operator.handlers.orphans_report import ReportError, find
    from cfgpu_operator.settings import SettingsError, load_settings

    try:
        cluster_id, rows = asyncio.run(find(load_settings()))
    except (ReportError, SettingsError) as exc:
        raise click.ClickException(str(exc)) from None
    if output == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if cluster_id is None:
        click.echo("this cluster has no id yet: the operator never ran here, so it named nothing")
        return
    if not rows:
        click.echo(f"no orphans: every instance named by cluster {cluster_id} is recorded")
        return
    columns = ("id", "name", "status", "gpu", "age", "cost/h", "account")
    shown = [
        {**r, "gpu": r["gpu"] or "-", "age": _age(r["ageSeconds"]), "cost/h": _cost(r)}
        for r in rows
    ]
    click.echo(table([{c: r[c] for c in columns} for r in shown]))


def _cost(row: dict[str, Any]) -> str:
    if row["costPerHour"] is not None:
        return f"{row['costPerHour']} CNY"
    return "prepaid" if row["prepaid"] else "-"


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _need_emulators(who_needs: str) -> None:
    """The emulators' own packages are an extra, absent from the operator's image."""
    import importlib.util

    if importlib.util.find_spec("celpy") is None:
        raise click.ClickException(
            f"{who_needs} the emulators extra: pip install 'cfgpu-operator[emulators]'"
        )


def _register_catalog() -> None:
    from cfgpu_operator.catalog_cli import catalog
    from cfgpu_operator.plan_cli import plan

    main.add_command(catalog)
    main.add_command(plan)


_register_catalog()


@main.group()
def emulate() -> None:
    """Serve an emulated external API on 127.0.0.1 until interrupted."""
    _need_emulators("the emulators need")


@emulate.command("cfgpu")
@click.option("--port", type=click.IntRange(0, 65535), default=8090, show_default=True)
@click.option(
    "--token",
    "tokens",
    multiple=True,
    default=[DEFAULT_EMULATOR_TOKEN],
    show_default=True,
    help="A token the emulator accepts (repeatable; one account each).",
)
@click.option("--balance", type=float, default=10_000.0, show_default=True, help="CNY each.")
@click.option(
    "--transition-seconds",
    type=click.FloatRange(0, 3600),
    default=3.0,
    show_default=True,
    help="How long create, start, stop and release take.",
)
@click.option(
    "--stock",
    type=click.IntRange(0),
    default=16,
    show_default=True,
    help="Free GPUs of each type in each region.",
)
def emulate_cfgpu(
    port: int, tokens: tuple[str, ...], balance: float, transition_seconds: float, stock: int
) -> None:
    """Emulated CFGPU API (/userapi/v1) with an in-memory catalog and instances."""
    # Imported here: only emulate and demo may load the emulators.
    from cfgpu_operator.emulators.cfgpu import CatalogData, CfgpuEmulator, EmulatorConfig
    from cfgpu_operator.emulators.serving import serve_forever

    delay = transition_seconds
    config = EmulatorConfig(
        create_seconds=delay, start_seconds=delay, stop_seconds=delay, release_seconds=delay
    )
    emulator = CfgpuEmulator(
        config=config,
        catalog=CatalogData(default_stock=stock),
        tokens=dict.fromkeys(tokens, balance),
    )
    banner = (
        "CFGPU emulator on {url}/userapi/v1 "
        f"({len(tokens)} account(s)); use CFGPU_API_URL={{url}}. Ctrl-C stops it."
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(emulator.app(), port, banner))


@emulate.command("kubernetes")
@click.option("--port", type=click.IntRange(0, 65535), default=8091, show_default=True)
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, writable=True),
    default="emulator.kubeconfig",
    show_default=True,
    help="Where to write a kubeconfig for kubectl, Kopf and the Python client.",
)
def emulate_kubernetes(port: int, kubeconfig: str) -> None:
    """Emulated Kubernetes API server (CRDs, watches, status, finalizers) with no cluster."""
    from pathlib import Path

    from cfgpu_operator.emulators.kubernetes import KubernetesEmulator, write_kubeconfig
    from cfgpu_operator.emulators.serving import serve

    async def run() -> None:
        async with serve(KubernetesEmulator().app(), port) as url:
            path = write_kubeconfig(Path(kubeconfig), url)
            click.echo(f"Kubernetes API emulator on {url}; export KUBECONFIG={path.resolve()}")
            click.echo("Ctrl-C stops it (and forgets every object).")
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


@emulate.command("safe")
@click.option("--port", type=click.IntRange(0, 65535), default=8092, show_default=True)
@click.option(
    "--key",
    default="ak-emulator-demo-key",
    show_default=True,
    help="The API key of a member of the workspace ws-train.",
)
@click.option(
    "--run-seconds",
    type=click.FloatRange(0, 86_400),
    default=30.0,
    show_default=True,
    help="How long a job runs before it succeeds.",
)
def emulate_safe(port: int, key: str, run_seconds: float) -> None:
    """Emulated Primus-SaFE API (/api/v1) with one workspace, ws-train, and two nodes."""
    from cfgpu_operator.emulators.safe import SafeConfig, SafeEmulator, Workspace
    from cfgpu_operator.emulators.serving import serve_forever

    emulator = SafeEmulator(config=SafeConfig(run_seconds=run_seconds))
    emulator.state.add_workspace(Workspace("ws-train", "train"))
    emulator.state.add_user(key, "demo", workspaces=("ws-train",))
    banner = "Primus-SaFE emulator on {url}/api/v1; use SAFE_API_URL={url}. Ctrl-C stops it."
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(emulator.app(), port, banner))


if __name__ == "__main__":
    main()
