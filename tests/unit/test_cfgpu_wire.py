from __future__ import annotations

from typing import Any

import pytest

from cfgpu_operator.clients.cfgpu_wire import (
    CreateInstanceRequest,
    Envelope,
    InstanceRecord,
    SystemImageNode,
    created_instance_id,
    unwrap_list,
)


@pytest.mark.parametrize(
    ("raw", "code"),
    [(10001, "10001"), ("10001", "10001"), ("BIZ_ERROR", "BIZ_ERROR"), (None, None)],
)
def test_error_codes_are_text_whatever_their_json_type(raw: object, code: str | None) -> None:
    envelope = Envelope.model_validate({"success": False, "errorCode": raw, "errorMsg": "m"})
    assert envelope.error_code == code


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ([1, 2], [1, 2]),
        ({"records": [1]}, [1]),
        ({"list": [2]}, [2]),
        ({"total": 1, "rows": [3]}, [3]),
        (None, []),
    ],
)
def test_lists_bare_or_wrapped(content: Any, expected: list[int]) -> None:
    assert unwrap_list(content) == expected


def test_a_non_list_is_refused() -> None:
    with pytest.raises(TypeError):
        unwrap_list({"total": 3})


@pytest.mark.parametrize(
    "content",
    [{"instanceId": "instance-abc"}, "instance-abc", {"id": "instance-abc", "extra": 1}],
)
def test_create_content_object_or_bare_string(content: Any) -> None:
    assert created_instance_id(content) == "instance-abc"


@pytest.mark.parametrize("content", [None, "", {}, {"instanceId": ""}, 42])
def test_create_content_without_id_is_refused(content: Any) -> None:
    with pytest.raises(TypeError):
        created_instance_id(content)


def test_record_tolerates_nulls_and_unknown_fields() -> None:
    record = InstanceRecord.model_validate(
        {
            "instanceId": "instance-1",
            "statusCode": "RUNNING",
            "instanceName": None,
            "cpus": 14.0,
            "expireTime": None,
            "brandNewField": {"x": 1},
        }
    )
    assert record.instance_name == ""
    assert record.cpus == 14.0
    assert record.expire_time is None


def test_system_tree_leaf_with_null_children() -> None:
    node = SystemImageNode.model_validate(
        {"name": "PyTorch", "children": [{"name": "12.2", "code": "image_a", "children": None}]}
    )
    assert node.children[0].children == []
    assert node.children[0].code == "image_a"


def test_create_request_serialises_camel_case() -> None:
    request = CreateInstanceRequest(
        price_type="Usage",
        region_code="hz",
        gpu_type="g",
        gpu_num=2,
        image_id="image_x",
        instance_name="n",
    )
    assert request.model_dump(by_alias=True, exclude_none=True) == {
        "priceType": "Usage",
        "regionCode": "hz",
        "gpuType": "g",
        "gpuNum": 2,
        "imageId": "image_x",
        "serviceTime": 1,
        "instanceName": "n",
        "expandSize": 0,
        "sysDiskExpandSize": 0,
    }
