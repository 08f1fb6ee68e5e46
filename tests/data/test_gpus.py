"""Dense peaks per precision and FLOP budget -> GPU-hours (DOMAIN.md §1)."""

import pytest

from forecast.data.gpus import GPU_SPECS, gpu_hours, gpu_spec


def test_dense_peaks_per_precision():
    h100, a100 = gpu_spec("H100"), gpu_spec("A100")
    assert h100.peak_flops("bf16") == 989e12 == h100.peak_flops("fp16")
    assert h100.peak_flops("fp8") == 1979e12
    assert h100.peak_flops("tf32") == 494.5e12
    assert a100.peak_flops("fp8") == 312e12  # no FP8 on A100: 16-bit rate
    assert a100.peak_flops("tf32") == 156e12
    for s in GPU_SPECS.values():  # TF32 is half the 16-bit peak on every listed part
        assert s.peak_flops("tf32") == pytest.approx(s.peak_flops("bf16") / 2)
    with pytest.raises(ValueError, match="unknown precision 'int4'"):
        h100.peak_flops("int4")


def test_gpu_hours_use_the_precision_peak():
    # 6·N·D for a 70B model on 1T tokens, on H100 at 40% MFU
    c = 6 * 70e9 * 1e12
    bf16 = gpu_hours(c, "H100", 0.4, "bf16")
    assert bf16 == pytest.approx(c / (989e12 * 0.4 * 3600))
    assert gpu_hours(c, "H100", 0.4, "fp8") == pytest.approx(bf16 * 989 / 1979)
    assert gpu_hours(c, "H100", 0.4, "tf32") == pytest.approx(bf16 * 2)
    with pytest.raises(ValueError, match="MFU must be in"):
        gpu_hours(c, "H100", 0.0)
