"""The emulated CFGPU catalog: regions, GPU types with prices and sizes, images, stock.

Codes and names follow cfgpu-api-notes.md (GPU codes seen on the live API, 杭州 = hz); the
codes of the other regions are unknown there, so the ones here are made up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

GIB = 1024**3


@dataclass(frozen=True)
class GpuSpec:
    code: str
    name: str
    price_per_hour: float  # CNY per GPU-hour
    gpu_memory: int  # bytes per GPU
    cpus_per_gpu: float
    memory_per_gpu: int  # bytes per GPU


@dataclass(frozen=True)
class Image:
    code: str
    adapt_type: str
    path: tuple[str, ...]  # names down the systemList tree; a private image has one name
    private: bool = False
    min_system_disk: int = 0


REGIONS: dict[str, str] = {"hz": "杭州", "cq": "重庆", "sx": "绍兴", "sz": "苏州"}

GPUS: tuple[GpuSpec, ...] = (
    GpuSpec("nt8cyt3s", "RTX 4090", 1.89, 24 * GIB, 14.0, 60 * GIB),
    GpuSpec("8sxe63f5", "H800", 12.99, 80 * GIB, 24.0, 240 * GIB),
    GpuSpec("ldo3kj09", "L40S", 2.99, 48 * GIB, 16.0, 120 * GIB),
    GpuSpec("jfu3hf09", "A100", 1.79, 40 * GIB, 16.0, 120 * GIB),
    GpuSpec("vupgiaxl", "RTX 4070", 0.99, 12 * GIB, 8.0, 30 * GIB),
    GpuSpec("xegcm0st", "A800", 6.99, 80 * GIB, 24.0, 240 * GIB),
)

# childrenName of each level of the container tree, as the console labels them.
LEVEL_NAMES: tuple[str, ...] = ("版本", "Python 版本", "Cuda 版本")

IMAGES: tuple[Image, ...] = (
    Image("image_exc6f72b", "CONTAINER", ("Tensorflow", "2.15.0", "3.11(ubuntu20.04)", "12.2")),
    Image("image_tf214c11", "CONTAINER", ("Tensorflow", "2.14.0", "3.10(ubuntu20.04)", "11.8")),
    Image("image_pt241c12", "CONTAINER", ("PyTorch", "2.4.1", "3.11(ubuntu22.04)", "12.4")),
    Image("image_pt210c11", "CONTAINER", ("PyTorch", "2.1.0", "3.10(ubuntu22.04)", "12.1")),
    Image("image_ubvm2204", "VM", ("Ubuntu", "22.04", "3.10", "12.2"), min_system_disk=50),
    Image("image_gzo9zvxs", "CONTAINER", ("ComfyUI 定制版",), private=True),
    Image("image_mytrain1", "CONTAINER", ("my-trainer",), private=True),
)


@dataclass
class CatalogData:
    """What one emulated CFGPU offers; tests may swap in their own."""

    regions: dict[str, str] = field(default_factory=lambda: dict(REGIONS))
    gpus: tuple[GpuSpec, ...] = GPUS
    images: tuple[Image, ...] = IMAGES
    default_stock: int = 16  # free GPUs of each type in each region

    def gpu(self, code: str) -> GpuSpec | None:
        return next((gpu for gpu in self.gpus if gpu.code == code), None)

    def image(self, code: str) -> Image | None:
        return next((image for image in self.images if image.code == code), None)

    def image_name(self, image: Image) -> str:
        """imageName as instance/page shows it: "Tensorflow 版本:2.15.0 Python 版本:3.11..."."""
        if image.private:
            return image.path[0]
        head, *rest = image.path
        labelled = (f"{label}:{name}" for label, name in zip(LEVEL_NAMES, rest, strict=False))
        return " ".join([head, *labelled])

    def system_tree(self, adapt_type: str) -> list[dict[str, Any]]:
        """The nested systemList answer for one adapt type."""
        root: list[dict[str, Any]] = []
        for image in self.images:
            if image.private or image.adapt_type != adapt_type:
                continue
            level = root
            for depth, name in enumerate(image.path[:-1]):
                node = next((n for n in level if n["name"] == name), None)
                if node is None:
                    node = {"name": name, "childrenName": LEVEL_NAMES[depth], "children": []}
                    level.append(node)
                level = node["children"]
            level.append(
                {
                    "name": image.path[-1],
                    "code": image.code,
                    "sysDiskLimitMinSize": image.min_system_disk,
                }
            )
        return root

    def private_list(self, adapt_type: str) -> list[dict[str, Any]]:
        return [
            {"code": i.code, "name": i.path[0], "sysDiskLimitMinSize": i.min_system_disk}
            for i in self.images
            if i.private and i.adapt_type == adapt_type
        ]
