"""GPU power and compute specifications (DOMAIN.md §1).

Dense peak FLOP/s and board power (TDP) per GPU. ``idle_w`` is ~10% of TDP
(idle H100 ≈ 70 W) and ``train_frac`` the share of TDP drawn while training
(compute-heavy training ran at ~76% of rating). These are defaults, looked up
by name; an unknown name is an input error, never a silent zero.
"""

from __future__ import annotations

from dataclasses import dataclass


PRECISIONS: tuple[str, ...] = ("bf16", "fp8", "fp16", "tf32")


@dataclass(frozen=True)
class GPUSpec:
    name: str
    peak_bf16_tflops: float
    peak_fp8_tflops: float | None
    tdp_w: float
    peak_tf32_tflops: float | None = None  # dense TF32 tensor-core peak (half of BF16 on these parts)
    idle_frac: float = 0.10
    train_frac: float = 0.76

    @property
    def idle_w(self) -> float:
        return self.idle_frac * self.tdp_w

    @property
    def train_w(self) -> float:
        return self.train_frac * self.tdp_w

    def peak_flops(self, precision: str = "bf16") -> float:
        """Dense peak FLOP/s at a precision: bf16 and fp16 share the 16-bit peak; fp8 its own (the 16-bit peak
        on parts without FP8, e.g. A100, where FP8 jobs run at 16-bit rate); tf32 its own."""
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
        if precision == "fp8" and self.peak_fp8_tflops is not None:
            return self.peak_fp8_tflops * 1e12
        if precision == "tf32":
            return (self.peak_tf32_tflops if self.peak_tf32_tflops is not None else self.peak_bf16_tflops / 2) * 1e12
        return self.peak_bf16_tflops * 1e12


GPU_SPECS: dict[str, GPUSpec] = {
    s.name: s
    for s in (
        GPUSpec("A100", 312.0, None, 400.0, peak_tf32_tflops=156.0),
        GPUSpec("H100", 989.0, 1979.0, 700.0, peak_tf32_tflops=494.5),
        GPUSpec("H200", 989.0, 1979.0, 700.0, peak_tf32_tflops=494.5),
        GPUSpec("B200", 2250.0, 4500.0, 1000.0, peak_tf32_tflops=1125.0),
        GPUSpec("GB200", 2500.0, 5000.0, 1200.0, peak_tf32_tflops=1250.0),
    )
}
GPU_TYPES: tuple[str, ...] = tuple(GPU_SPECS)


def gpu_spec(name: str) -> GPUSpec:
    try:
        return GPU_SPECS[name]
    except KeyError:
        raise KeyError(f"unknown GPU type {name!r}; known types: {', '.join(GPU_TYPES)}") from None


def gpu_hours(flop_budget: float, gpu_type: str, mfu: float, precision: str = "bf16") -> float:
    """GPU-hours = C / (peak FLOP/s at ``precision`` × MFU × 3600)."""
    if not 0.0 < mfu <= 1.0:
        raise ValueError(f"MFU must be in (0, 1], got {mfu}")
    return flop_budget / (gpu_spec(gpu_type).peak_flops(precision) * mfu * 3600.0)
