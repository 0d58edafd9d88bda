"""bench/mfu.py: the LoRA training FLOPs per token on hand-computed cases, the attention term against a direct
count over the sequences, and the peak table against the device names torch reports."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from mfu import lora_flops_per_token, mfu, peak_for  # noqa: E402


def test_flops_per_token_by_hand():
    # 1,000 frozen matmul weights, 10 LoRA weights, 2 layers of width 8, sequences of 2 and 4 tokens:
    # E[T] = 3, E[T^2] = (4 + 16) / 2 = 10, so each token attends 10/3 positions on average (token-weighted).
    # matmuls 4 * 1000 + 6 * 10 = 4060; attention 12 * 2 * 8 * 10/3 = 640, half of it causal = 320.
    assert lora_flops_per_token(1000, 10, 2, 8, 3.0, 10.0, causal=False) == pytest.approx(4700.0)
    assert lora_flops_per_token(1000, 10, 2, 8, 3.0, 10.0) == pytest.approx(4380.0)


def test_the_attention_term_equals_a_count_over_the_sequences():
    # Direct count: a sequence of T tokens does QK^T and AV for T x T pairs in every layer, 4d FLOPs per pair
    # forward, 12d with the backward; per token over the data set that is 12 L d sum(T^2) / sum(T).
    lengths, layers, hidden = [3, 17, 40, 41, 128], 4, 64
    direct = sum(12 * layers * hidden * t * t for t in lengths) / sum(lengths)
    mean, mean_square = sum(lengths) / len(lengths), sum(t * t for t in lengths) / len(lengths)
    assert lora_flops_per_token(0, 0, layers, hidden, mean, mean_square, causal=False) == pytest.approx(
        direct
    )
    # the mean length alone would undercount variable lengths
    assert lora_flops_per_token(0, 0, layers, hidden, mean, mean * mean, causal=False) < 0.8 * direct


@pytest.mark.parametrize(
    "name, tflops",
    [
        ("NVIDIA H100 80GB HBM3", 989.0),
        ("NVIDIA H100 PCIe", 756.0),
        ("NVIDIA H100 NVL", 835.0),
        ("NVIDIA H200", 989.0),
        ("NVIDIA H200 NVL", 835.0),
        ("NVIDIA GH200 480GB", 989.0),
        ("NVIDIA A100-SXM4-80GB", 312.0),
        ("NVIDIA A100 80GB PCIe", 312.0),
        ("NVIDIA L40S", 362.0),
        ("NVIDIA L4", 121.0),
    ],
)
def test_peaks_follow_the_names_torch_reports(name, tflops):
    assert peak_for(name, "bf16").tflops == tflops


def test_mfu_is_na_with_a_reason_where_no_peak_applies():
    for name, precision, reason in (
        (None, "fp32", "no GPU"),
        ("NVIDIA H100 80GB HBM3", "fp32", "fp32 run"),
        ("NVIDIA GeForce GTX 1080", "bf16", "no peak known for 'NVIDIA GeForce GTX 1080'"),
    ):
        peak = peak_for(name, precision)
        assert peak.tflops is None and reason in peak.reason
        assert mfu(1e6, 1e9, peak) is None
    # 100,000 tokens/s at 1 GFLOP each on a 989 TFLOPS GPU: 10.1%
    assert mfu(1e5, 1e9, peak_for("NVIDIA H100 80GB HBM3", "bf16")) == pytest.approx(1e14 / 989e12)
