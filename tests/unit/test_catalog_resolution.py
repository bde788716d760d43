from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cfgpu_operator.clients.catalog import (
    ImageRef,
    normalize,
    resolve_gpu_type,
    resolve_image_id,
    resolve_private_image,
    resolve_region,
    resolve_system_image,
)
from cfgpu_operator.clients.cfgpu_wire import GpuType, PrivateImage, Region, SystemImageNode
from cfgpu_operator.errors import RejectedInput

REGIONS = [Region(code="hz", name="杭州"), Region(code="cq", name="重庆")]
GPUS = [
    GpuType(code="nt8cyt3s", name="RTX 4090"),
    GpuType(code="8sxe63f5", name="H800"),
    GpuType(code="vupgiaxl", name="RTX 4070"),
]
TREE = [
    SystemImageNode.model_validate(
        {
            "name": "Tensorflow",
            "childrenName": "版本",
            "children": [
                {
                    "name": "2.15.0",
                    "children": [
                        {
                            "name": "3.11(ubuntu20.04)",
                            "children": [{"name": "12.2", "code": "image_exc6f72b"}],
                        }
                    ],
                }
            ],
        }
    )
]
PRIVATE = [
    PrivateImage(code="image_gzo9zvxs", name="ComfyUI 定制版"),
    PrivateImage(code="image_dup00001", name="twin"),
    PrivateImage(code="image_dup00002", name="twin"),
]


@pytest.mark.parametrize(
    ("query", "code"), [("hz", "hz"), ("杭州", "hz"), (" 重庆 ", "cq"), ("cq", "cq")]
)
def test_region_by_code_or_name(query: str, code: str) -> None:
    assert resolve_region(REGIONS, query).code == code


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("RTX 4090", "nt8cyt3s"),
        ("rtx4090", "nt8cyt3s"),
        ("rtx-4090", "nt8cyt3s"),
        ("RTX_4070", "vupgiaxl"),
        ("h800", "8sxe63f5"),
        ("nt8cyt3s", "nt8cyt3s"),
    ],
)
def test_gpu_type_by_code_or_loose_name(query: str, code: str) -> None:
    assert resolve_gpu_type(GPUS, query).code == code


def test_unknown_gpu_lists_valid_choices() -> None:
    with pytest.raises(RejectedInput) as caught:
        resolve_gpu_type(GPUS, "RTX 5090")
    message = str(caught.value)
    assert "unknown GPU type 'RTX 5090'" in message
    assert "nt8cyt3s (RTX 4090)" in message
    assert "8sxe63f5 (H800)" in message


def test_unknown_region_lists_valid_choices() -> None:
    with pytest.raises(RejectedInput, match=r"valid: cq \(重庆\), hz \(杭州\)"):
        resolve_region(REGIONS, "bj")


def test_two_codes_under_one_name_are_refused_not_guessed() -> None:
    gpus = [*GPUS, GpuType(code="qnid2x6c", name="RTX 4090")]
    with pytest.raises(RejectedInput, match=r"ambiguous.*nt8cyt3s, qnid2x6c"):
        resolve_gpu_type(gpus, "RTX 4090")
    assert resolve_gpu_type(gpus, "qnid2x6c").code == "qnid2x6c"


@given(
    st.sampled_from(GPUS),
    st.lists(st.booleans(), min_size=10, max_size=10),
    st.sampled_from(["", " ", "-", "_"]),
)
def test_any_spelling_of_a_gpu_name_resolves(gpu: GpuType, upper: list[bool], sep: str) -> None:
    letters = [c.upper() if flip else c.lower() for c, flip in zip(gpu.name, upper, strict=False)]
    spelled = "".join(letters) + gpu.name[len(letters) :]
    assert resolve_gpu_type(GPUS, spelled.replace(" ", sep)) == gpu


def test_system_image_by_path() -> None:
    image = resolve_system_image(TREE, "Tensorflow/2.15.0/3.11(ubuntu20.04)/12.2")
    assert (image.id, image.source) == ("image_exc6f72b", "system")
    assert image.name == "Tensorflow/2.15.0/3.11(ubuntu20.04)/12.2"
    assert resolve_system_image(TREE, "tensorflow/2.15.0/3.11(ubuntu20.04)/12.2").id == (
        "image_exc6f72b"
    )


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("PyTorch/2.1", "no system image 'PyTorch'; valid: Tensorflow"),
        ("Tensorflow/9.9.9", "no system image '9.9.9' under 'Tensorflow'; valid: 2.15.0"),
        ("Tensorflow/2.15.0", "incomplete; next level: 3.11(ubuntu20.04)"),
        ("", "incomplete"),
    ],
)
def test_bad_system_paths_say_where_they_went_wrong(path: str, message: str) -> None:
    with pytest.raises(RejectedInput) as caught:
        resolve_system_image(TREE, path)
    assert message in str(caught.value)


def test_private_image_by_exact_name() -> None:
    assert resolve_private_image(PRIVATE, "ComfyUI 定制版").id == "image_gzo9zvxs"
    with pytest.raises(RejectedInput, match="unknown private image 'comfyui'"):
        resolve_private_image(PRIVATE, "comfyui")
    with pytest.raises(RejectedInput, match="ambiguous"):
        resolve_private_image(PRIVATE, "twin")


@pytest.mark.parametrize(
    ("image_id", "source"), [("image_exc6f72b", "system"), ("image_gzo9zvxs", "private")]
)
def test_image_by_id_is_checked_against_both_lists(image_id: str, source: str) -> None:
    assert resolve_image_id(TREE, PRIVATE, image_id).source == source


@pytest.mark.parametrize(
    ("image_id", "message"),
    [("image_nope0000", "unknown image id"), ("exc6f72b", "not an image id")],
)
def test_bad_image_ids(image_id: str, message: str) -> None:
    with pytest.raises(RejectedInput, match=message):
        resolve_image_id(TREE, PRIVATE, image_id)


@pytest.mark.parametrize("fields", [{}, {"id": "image_a", "system": "x/y"}])
def test_image_ref_needs_exactly_one_source(fields: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        ImageRef(**fields)


def test_normalize() -> None:
    assert normalize("RTX 4090") == normalize("rtx_4090") == normalize("Rtx-4090") == "rtx4090"
