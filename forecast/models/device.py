"""Device and precision, decided in one place: bf16 autocast on CUDA, fp32 on CPU, same code."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Runtime:
    accelerator: str  # "cuda" | "cpu"
    precision: str  # Lightning precision string
    device: torch.device

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return torch.bfloat16 if self.precision.startswith("bf16") else None


def resolve(accelerator: str = "auto", precision: str = "auto") -> Runtime:
    if accelerator == "auto":
        accelerator = "cuda" if torch.cuda.is_available() else "cpu"
    if accelerator in ("gpu", "cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError("trainer.accelerator=cuda but no CUDA device is visible; use trainer.accelerator=cpu")
        accelerator = "cuda"
    elif accelerator != "cpu":
        raise ValueError(f"unknown accelerator {accelerator!r}; use auto, cuda or cpu")
    if precision == "auto":
        precision = "bf16-mixed" if accelerator == "cuda" and torch.cuda.is_bf16_supported() else "32-true"
    return Runtime(accelerator, precision, torch.device("cuda" if accelerator == "cuda" else "cpu"))


def autocast(rt: Runtime):
    """Autocast context for inference outside Lightning (no-op in fp32)."""
    if rt.autocast_dtype is None:
        import contextlib

        return contextlib.nullcontext()
    return torch.autocast(device_type=rt.device.type, dtype=rt.autocast_dtype)
