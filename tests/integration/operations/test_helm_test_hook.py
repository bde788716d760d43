"""What the chart's `helm test` pod runs, run here against the real operator: the pod's own
arguments from the rendered chart, with the Service's name pointed at 127.0.0.1 (no pod can
run here)."""

from __future__ import annotations

from typing import Any

from cfgpu_operator.demo import free_port
from tests.chart.render import NAMESPACE, is_hook, objects
from tests.helpers import eventually_async
from tests.integration.operations.conftest import PodWorld, reachable
from tests.integration.test_cli_commands import cli

SERVICE = f"cfgpu-operator-metrics.{NAMESPACE}.svc"


def hook_args(metrics_port: int, liveness_port: int) -> list[str]:
    values: dict[str, Any] = {
        "metrics": {"port": metrics_port},
        "liveness": {"port": liveness_port},
    }
    (pod,) = [o for o in objects(values) if is_hook(o)]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = pod["spec"]["containers"]
    return [a.replace(SERVICE, "127.0.0.1") for a in container["args"]]


def port_of(url: str) -> int:
    return int(url.split(":")[2].split("/")[0])


async def test_the_helm_test_pod_passes_against_a_running_operator(pod: PodWorld) -> None:
    # Helm runs the test once the install is ready: the pods' probes pass.
    await eventually_async(lambda: reachable(pod.endpoints.liveness), what="ready")
    args = hook_args(port_of(pod.endpoints.metrics), port_of(pod.endpoints.liveness))
    assert args[0] == "check"
    code, out = await cli(*args, within=60)
    assert code == 0, out
    assert out.startswith("ok: ")


async def test_the_helm_test_pod_fails_in_a_sentence_when_nothing_answers() -> None:
    args = hook_args(free_port(), free_port())
    code, out = await cli(*args, within=60)
    assert code == 1
    lines = out.strip().splitlines()
    assert len(lines) == 2  # one sentence per endpoint, no traceback
    assert lines[0].startswith("error: the health endpoint http://127.0.0.1:")
    assert lines[0].endswith("did not answer (ConnectError)")
    assert lines[1].startswith("error: the metrics endpoint")
