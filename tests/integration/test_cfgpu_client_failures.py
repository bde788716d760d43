"""Every failure class through the real client: business codes, HTTP trouble, retries."""

from __future__ import annotations

import logging
import time

import pytest

from cfgpu_operator.clients.cfgpu import CfgpuClient
from cfgpu_operator.clients.http import ClientOptions, RetryPolicy
from cfgpu_operator.emulators.faults import FaultKind
from cfgpu_operator.errors import (
    ApiError,
    ApiTimeout,
    InsufficientBalance,
    NoCapacity,
    NotFound,
    PrepaidNotExpired,
    RateLimited,
    RejectedInput,
    Unauthorized,
    Unavailable,
    WrongState,
)
from tests.conftest import TOKEN, ServedCfgpu
from tests.integration.test_cfgpu_client_endpoints import request

READS = ["region/list", "gpu/list", "instance/status", "instance/page"]


async def read(client: CfgpuClient, endpoint: str) -> object:
    calls = {
        "region/list": client.list_regions,
        "gpu/list": client.list_gpu_types,
        "instance/status": client.list_instance_statuses,
        "instance/page": client.page_instances,
    }
    return await calls[endpoint]()


@pytest.mark.parametrize(
    ("code", "message", "kind"),
    [
        (10001, "请求参数错误", RejectedInput),
        (50001, "余额不足", InsufficientBalance),
        (52001, "余额不足1小时", InsufficientBalance),
        (51001, "资源不足", NoCapacity),
        (51002, "GPU不足", NoCapacity),
        ("BIZ_ERROR", "当前主机可用资源不足 [显卡]", NoCapacity),
        ("52009", "未到期包年包月实例暂不支持释放", PrepaidNotExpired),
        (60001, "某个新错误", ApiError),
    ],
)
async def test_business_errors_become_domain_errors_carrying_code_and_message(
    cfgpu: ServedCfgpu, client: CfgpuClient, code: object, message: str, kind: type[ApiError]
) -> None:
    cfgpu.emulator.faults.error("instance/create", code, message)  # type: ignore[arg-type]
    with pytest.raises(kind) as caught:
        await client.create_instance(request())
    error = caught.value
    assert type(error) is kind
    assert (error.code, error.message) == (str(code), message)
    assert (error.api, error.endpoint) == ("cfgpu", "instance/create")
    assert len(cfgpu.emulator.calls("instance/create")) == 1


async def test_real_rules_reach_the_client(cfgpu: ServedCfgpu, client: CfgpuClient) -> None:
    instance_id = await client.create_instance(request(price_type="Day"))
    with pytest.raises(WrongState) as caught:
        await client.start_instance(instance_id)
    assert caught.value.code == "52002"
    cfgpu.clock.advance(5)
    with pytest.raises(WrongState, match="52007"):
        await client.release_instance(instance_id)
    await client.stop_instance(instance_id)
    cfgpu.clock.advance(3)
    with pytest.raises(WrongState, match="52005"):
        await client.stop_instance(instance_id)
    with pytest.raises(PrepaidNotExpired, match="52009"):
        await client.release_instance(instance_id)


async def test_no_stock_from_the_real_rule(cfgpu: ServedCfgpu, client: CfgpuClient) -> None:
    cfgpu.emulator.state.set_stock("hz", "nt8cyt3s", 0)
    with pytest.raises(NoCapacity, match="显卡"):
        await client.create_instance(request())
    assert cfgpu.emulator.state.instances == {}


@pytest.mark.parametrize("unknown", ["10001", "404"])
async def test_unknown_instance_is_not_found(
    cfgpu: ServedCfgpu, client: CfgpuClient, unknown: str
) -> None:
    cfgpu.emulator.config.unknown_instance = unknown  # type: ignore[assignment]
    with pytest.raises(NotFound):
        await client.get_instance_status("instance-doesnotexist")
    with pytest.raises(NotFound):
        await client.release_instance("instance-doesnotexist")


async def test_bad_token_is_unauthorized_and_not_retried(cfgpu: ServedCfgpu) -> None:
    async with cfgpu.client("wrong-token") as client:
        with pytest.raises(Unauthorized) as caught:
            await client.list_regions()
    assert caught.value.http_status == 401
    assert len(cfgpu.emulator.calls("region/list")) == 1


@pytest.mark.parametrize("endpoint", READS)
async def test_reads_are_retried_through_transient_failures(
    cfgpu: ServedCfgpu, client: CfgpuClient, endpoint: str
) -> None:
    faults = cfgpu.emulator.faults
    faults.http(endpoint, 503)
    faults.kind(FaultKind.MALFORMED, endpoint)
    await read(client, endpoint)
    assert [c.status for c in cfgpu.emulator.calls(endpoint)] == [503, 200, 200]


async def test_reads_give_up_after_the_configured_attempts(
    cfgpu: ServedCfgpu, client: CfgpuClient
) -> None:
    cfgpu.emulator.faults.http("gpu/list", 500, times=10, message="<h1>oops</h1>")
    with pytest.raises(Unavailable, match="server error: <h1>oops</h1>") as caught:
        await client.list_gpu_types()
    assert caught.value.http_status == 500
    assert len(cfgpu.emulator.calls("gpu/list")) == 3  # FAST_RETRY.attempts


@pytest.mark.parametrize(
    ("endpoint", "call"),
    [
        ("instance/create", lambda c, i: c.create_instance(request())),
        ("instance/{id}/start", lambda c, i: c.start_instance(i)),
        ("instance/{id}/stop", lambda c, i: c.stop_instance(i)),
        ("instance/{id}/release", lambda c, i: c.release_instance(i)),
        ("instance/{id}/changeImage", lambda c, i: c.change_image(i, "image_pt241c12")),
    ],
)
async def test_writes_are_never_retried(
    cfgpu: ServedCfgpu, client: CfgpuClient, endpoint: str, call: object
) -> None:
    cfgpu.emulator.faults.http(endpoint, 503, times=5)
    with pytest.raises(Unavailable):
        await call(client, "instance-x")  # type: ignore[operator]
    assert len(cfgpu.emulator.calls(endpoint)) == 1


async def test_rate_limited_read_waits_for_retry_after(cfgpu: ServedCfgpu) -> None:
    cfgpu.emulator.faults.http("region/list", 429, headers={"Retry-After": "0.3"})
    options = ClientOptions(retry=RetryPolicy(attempts=3, initial_wait=0.01, max_wait=1.0))
    async with cfgpu.client(options=options) as client:
        started = time.monotonic()
        await client.list_regions()
        assert time.monotonic() - started >= 0.3
    assert [c.status for c in cfgpu.emulator.calls("region/list")] == [429, 200]


async def test_retry_after_longer_than_allowed_is_left_to_the_caller(
    cfgpu: ServedCfgpu, client: CfgpuClient
) -> None:
    cfgpu.emulator.faults.http("region/list", 429, headers={"Retry-After": "120"})
    with pytest.raises(RateLimited) as caught:
        await client.list_regions()
    assert caught.value.retry_after == 120.0
    assert len(cfgpu.emulator.calls("region/list")) == 1


async def test_rate_limited_write_reports_the_hint(cfgpu: ServedCfgpu, client: CfgpuClient) -> None:
    cfgpu.emulator.faults.http("instance/create", 429, headers={"Retry-After": "7"})
    with pytest.raises(RateLimited) as caught:
        await client.create_instance(request())
    assert caught.value.retry_after == 7.0


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        (FaultKind.HTML, "(HTTP 502): server error: <html>"),
        (FaultKind.EMPTY, "malformed response: empty body"),
        (FaultKind.MALFORMED, 'malformed response: {"success": tru'),
        (FaultKind.DROP, "unreachable"),
    ],
)
async def test_unusable_answers_are_unavailable_with_a_clear_message(
    cfgpu: ServedCfgpu, client: CfgpuClient, kind: FaultKind, text: str
) -> None:
    cfgpu.emulator.faults.kind(kind, "instance/create")
    with pytest.raises(Unavailable) as caught:
        await client.create_instance(request())
    assert text in str(caught.value)
    assert cfgpu.emulator.state.instances == {}


async def test_timeout_is_its_own_error(cfgpu: ServedCfgpu) -> None:
    options = ClientOptions(timeout=0.2, rate_limit=100, retry=RetryPolicy(attempts=1))
    cfgpu.emulator.faults.latency("instance/status", 1.0)
    async with cfgpu.client(options=options) as client:
        with pytest.raises(ApiTimeout, match="timed out"):
            await client.list_instance_statuses()


async def test_an_answer_that_trickles_in_times_out_as_a_whole(cfgpu: ServedCfgpu) -> None:
    """Each byte comes well within the timeout, so httpx alone would wait for all of them
    (a poller stuck for minutes); the timeout bounds the whole request instead."""
    options = ClientOptions(timeout=0.5, rate_limit=100, retry=RetryPolicy(attempts=1))
    cfgpu.emulator.faults.kind(FaultKind.TRICKLE, "instance/status", delay=0.1)
    async with cfgpu.client(options=options) as client:
        with pytest.raises(ApiTimeout, match=r"no complete answer within 0\.5 s"):
            await client.list_instance_statuses()
        assert await client.list_instance_statuses() == []  # the next call is answered


async def test_a_404_page_is_a_wrong_url_not_a_missing_instance(cfgpu: ServedCfgpu) -> None:
    async with CfgpuClient(TOKEN, base_url=cfgpu.url + "/wrong") as client:
        with pytest.raises(Unavailable, match="check CFGPU_API_URL"):
            await client.release_instance("instance-abc")


async def test_connection_refused_is_unavailable() -> None:
    options = ClientOptions(retry=RetryPolicy(attempts=2, initial_wait=0.01, max_wait=0.01))
    async with CfgpuClient(TOKEN, base_url="http://127.0.0.1:9", options=options) as client:
        with pytest.raises(Unavailable, match="unreachable"):
            await client.list_regions()


async def test_create_committed_but_answer_lost_leaves_one_findable_instance(
    cfgpu: ServedCfgpu, client: CfgpuClient
) -> None:
    cfgpu.emulator.faults.kind(FaultKind.DROP_AFTER_COMMIT, "instance/create")
    with pytest.raises(Unavailable):
        await client.create_instance(request("crash-case"))
    found = [r async for r in client.iter_instances(key_word="crash-case")]
    assert len(found) == 1
    assert len(cfgpu.emulator.calls("instance/create")) == 1


async def test_rate_limiter_caps_calls_per_second(cfgpu: ServedCfgpu) -> None:
    options = ClientOptions(rate_limit=20, retry=RetryPolicy(attempts=1))
    async with cfgpu.client(options=options) as client:
        started = time.monotonic()
        for _ in range(30):
            await client.list_regions()
        elapsed = time.monotonic() - started
    # A bucket of 20 drains at 20/s: the 10 calls past the burst need at least 0.5 s.
    assert elapsed >= 0.45


async def test_the_token_never_appears_in_errors_or_logs(
    cfgpu: ServedCfgpu, caplog: pytest.LogCaptureFixture
) -> None:
    token = "tok-leaky-0123456789abcdef0123456789"
    cfgpu.emulator.state.add_account(token)
    faults = cfgpu.emulator.faults
    # Error pages that echo the request's token back, as some proxies do.
    faults.http("region/list", 502, times=3, message=f"upstream said: Authorization: {token}")
    faults.error("instance/create", 10001, f"bad header {token}")
    faults.http("instance/status", 401, message=f"token {token} revoked")
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    async with cfgpu.client(token) as client:
        for call in (
            client.list_regions,
            lambda: client.create_instance(request()),
            client.list_instance_statuses,
        ):
            try:
                await call()
            except ApiError as exc:
                errors.append(exc)
    assert len(errors) == 3
    texts = [str(e) for e in errors] + [repr(e) for e in errors]
    texts += [str(arg) for e in errors for arg in e.args]
    texts += [record.getMessage() for record in caplog.records]
    assert texts
    assert all(token not in text for text in texts)
    assert any("***" in text for text in texts)


def _pieces(token: str, texts: list[str], size: int = 8) -> list[str]:
    """Every run of ``size`` characters of the token that shows up in one of the texts."""
    grams = {token[i : i + size] for i in range(len(token) - size + 1)}
    return [g for g in grams for text in texts if g in text]


async def test_no_piece_of_the_token_escapes_a_cut_or_an_echo(cfgpu: ServedCfgpu) -> None:
    token = "tok-cut-0123456789abcdefghijklmnop"
    cfgpu.emulator.state.add_account(token)
    faults = cfgpu.emulator.faults
    # The token straddles character 200 of the body, where error messages cut it short.
    padding = "x" * (200 - 10)
    faults.http("region/list", 502, times=3, message=f"{padding}{token} trailing")
    # A server quoting only the token's first 12 characters.
    faults.error("instance/create", 10001, f"token {token[:12]} is not allowed here")
    errors: list[ApiError] = []
    async with cfgpu.client(token) as client:
        for call in (client.list_regions, lambda: client.create_instance(request())):
            try:
                await call()
            except ApiError as exc:
                errors.append(exc)
    assert len(errors) == 2
    texts = [e.message for e in errors] + [str(e) for e in errors]
    assert _pieces(token, texts) == []
    assert all("***" in e.message for e in errors)
