from __future__ import annotations

import pytest

from cfgpu_operator.settings import SettingsError, load_settings

SECRET = "tok-settings-5e4d3c2b1a0f9e8d7c6b5a4f"


def test_defaults_without_any_variable() -> None:
    settings = load_settings({})
    assert str(settings.CFGPU_API_URL) == "https://api.cfgpu.com/"
    assert settings.CFGPU_API_TOKEN is None
    assert settings.SAFE_API_URL is None
    assert settings.CFGPU_OPERATOR_RATE_LIMIT == 5.0
    assert settings.CFGPU_OPERATOR_POLL_FAST < settings.CFGPU_OPERATOR_POLL_SLOW


@pytest.mark.parametrize(
    ("environ", "field", "expected"),
    [
        ({"CFGPU_API_URL": "http://127.0.0.1:8090"}, "CFGPU_API_URL", "http://127.0.0.1:8090/"),
        ({"cfgpu_operator_rate_limit": "2.5"}, "CFGPU_OPERATOR_RATE_LIMIT", 2.5),
        ({"CFGPU_OPERATOR_RETRY_ATTEMPTS": "7"}, "CFGPU_OPERATOR_RETRY_ATTEMPTS", 7),
        ({"CFGPU_OPERATOR_HTTP_TIMEOUT": "0.5"}, "CFGPU_OPERATOR_HTTP_TIMEOUT", 0.5),
        ({"CFGPU_OPERATOR_LOG_LEVEL": "debug"}, "CFGPU_OPERATOR_LOG_LEVEL", "debug"),
        # Helm renders an unset value as "": that means "use the default".
        ({"CFGPU_OPERATOR_RATE_LIMIT": ""}, "CFGPU_OPERATOR_RATE_LIMIT", 5.0),
        ({"UNRELATED": "x"}, "CFGPU_OPERATOR_POLL_SLOW", 60.0),
    ],
)
def test_values_are_read_and_converted(
    environ: dict[str, str], field: str, expected: object
) -> None:
    value = getattr(load_settings(environ), field)
    assert (str(value) if field.endswith("_URL") else value) == expected


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"CFGPU_API_URL": "not a url"}, "CFGPU_API_URL"),
        ({"SAFE_API_URL": "ftp//x"}, "SAFE_API_URL"),
        ({"CFGPU_OPERATOR_RATE_LIMIT": "0"}, "CFGPU_OPERATOR_RATE_LIMIT"),
        ({"CFGPU_OPERATOR_RATE_LIMIT": "fast"}, "CFGPU_OPERATOR_RATE_LIMIT"),
        ({"CFGPU_OPERATOR_RETRY_ATTEMPTS": "0"}, "CFGPU_OPERATOR_RETRY_ATTEMPTS"),
        ({"CFGPU_OPERATOR_HTTP_TIMEOUT": "-1"}, "CFGPU_OPERATOR_HTTP_TIMEOUT"),
        ({"CFGPU_OPERATOR_LOG_LEVEL": "LOUD"}, "CFGPU_OPERATOR_LOG_LEVEL"),
        ({"CFGPU_OPERATOR_POLL_FAST": "90"}, "CFGPU_OPERATOR_POLL_FAST"),
        ({"CFGPU_OPERATOR_BACKOFF_BASE": "400"}, "CFGPU_OPERATOR_BACKOFF_BASE"),
    ],
)
def test_invalid_values_fail_naming_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(environ)


def test_every_bad_variable_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"CFGPU_OPERATOR_RATE_LIMIT": "x", "CFGPU_OPERATOR_HTTP_TIMEOUT": "y"})
    assert "CFGPU_OPERATOR_RATE_LIMIT" in str(caught.value)
    assert "CFGPU_OPERATOR_HTTP_TIMEOUT" in str(caught.value)


def test_tokens_are_secret_and_trimmed() -> None:
    settings = load_settings({"CFGPU_API_TOKEN": SECRET + "\n", "SAFE_API_TOKEN": "ak-" + SECRET})
    assert settings.CFGPU_API_TOKEN is not None
    assert settings.CFGPU_API_TOKEN.get_secret_value() == SECRET
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert SECRET not in text


def test_process_environment_is_read_when_no_mapping_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CFGPU_OPERATOR_POLL_FAST", "2")
    assert load_settings().CFGPU_OPERATOR_POLL_FAST == 2.0


def test_client_options_follow_the_settings() -> None:
    from cfgpu_operator.clients.http import ClientOptions

    options = ClientOptions.from_settings(
        load_settings(
            {
                "CFGPU_OPERATOR_HTTP_TIMEOUT": "3",
                "CFGPU_OPERATOR_RATE_LIMIT": "2",
                "CFGPU_OPERATOR_RETRY_ATTEMPTS": "6",
                "CFGPU_OPERATOR_RETRY_MAX_WAIT": "9",
            }
        )
    )
    assert (options.timeout, options.rate_limit) == (3.0, 2.0)
    assert (options.retry.attempts, options.retry.max_wait) == (6, 9.0)
