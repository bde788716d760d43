from __future__ import annotations

import pytest

from cfgpu_operator.clients.cfgpu_errors import classify_code
from cfgpu_operator.errors import (
    ApiError,
    Conflict,
    Expired,
    InsufficientBalance,
    NoCapacity,
    NotFound,
    PrepaidNotExpired,
    RateLimited,
    RejectedInput,
    Unauthorized,
    Unavailable,
    WrongState,
    redact,
)


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        ("10001", "请求参数错误", RejectedInput),
        ("10001", "实例不存在", NotFound),
        ("50001", "余额不足", InsufficientBalance),
        ("52001", "余额不足1小时", InsufficientBalance),
        ("51001", "资源不足", NoCapacity),
        ("51002", "GPU不足", NoCapacity),
        ("BIZ_ERROR", "当前主机可用资源不足 [显卡]", NoCapacity),
        ("BIZ_ERROR", "GPU不足", NoCapacity),
        ("BIZ_ERROR", "系统繁忙", ApiError),
        *[(str(code), "state", WrongState) for code in range(52002, 52008)],
        ("52008", "实例已到期", Expired),
        ("52009", "未到期包年包月实例暂不支持释放", PrepaidNotExpired),
        ("401", "token无效", Unauthorized),
        ("429", "too many", RateLimited),
        (" 10001 ", "请求参数错误", RejectedInput),
        ("99999", "新的错误", ApiError),
        (None, "no code", ApiError),
    ],
)
def test_business_codes_map_to_domain_errors(
    code: str | None, message: str, expected: type[ApiError]
) -> None:
    assert classify_code(code, message) is expected


@pytest.mark.parametrize(
    ("kind", "retryable"),
    [
        (Unavailable, True),
        (RateLimited, True),
        (NoCapacity, True),
        (RejectedInput, False),
        (Unauthorized, False),
        (WrongState, False),
        (InsufficientBalance, False),
        (ApiError, False),
    ],
)
def test_retryable_flags(kind: type[ApiError], retryable: bool) -> None:
    assert kind.retryable is retryable


def test_wrong_state_and_prepaid_are_conflicts() -> None:
    assert issubclass(WrongState, Conflict)
    assert issubclass(PrepaidNotExpired, Conflict)


def test_error_text_names_api_endpoint_code_and_status() -> None:
    error = NoCapacity("GPU不足", api="cfgpu", endpoint="instance/create", code="51002")
    assert str(error) == "cfgpu instance/create [51002]: GPU不足"
    down = Unavailable("server error", api="cfgpu", endpoint="gpu/list", http_status=503)
    assert str(down) == "cfgpu gpu/list (HTTP 503): server error"


def test_scrub_removes_secrets_from_message_and_args() -> None:
    error = Unauthorized("bad token abc123 sent", api="cfgpu", endpoint="gpu/list")
    error.scrub(["abc123"])
    assert "abc123" not in str(error)
    assert "abc123" not in repr(error)
    assert all("abc123" not in str(arg) for arg in error.args)


def test_redact_ignores_empty_secrets() -> None:
    assert redact("plain text", ["", "zz"]) == "plain text"


TOKEN = "secret-0123456789abcdef"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"token {TOKEN} bad", "token *** bad"),
        (f"prefix {TOKEN[:12]} echoed", "prefix *** echoed"),
        (f"middle {TOKEN[5:13]}!", "middle ***!"),
        (f"too short {TOKEN[:7]} to tell", f"too short {TOKEN[:7]} to tell"),
        (f"{TOKEN}{TOKEN}", "***"),
        ("nothing here", "nothing here"),
    ],
)
def test_redact_hides_every_piece_of_eight_or_more_characters(text: str, expected: str) -> None:
    assert redact(text, [TOKEN]) == expected


def test_redact_hides_short_secrets_whole() -> None:
    assert redact("key abc here", ["abc"]) == "key *** here"
