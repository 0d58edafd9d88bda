"""Model FLOPs utilization (MFU) of LoRA fine-tuning: the FLOPs the model needs per useful token, times tokens
per second, over the GPU's dense 16-bit tensor-core peak. For bench/train_throughput.py.

FLOPs per token, with N the weights of the model's matmuls (every linear layer, the LM head included; the
input embedding is a lookup, not a matmul), L layers, d the hidden size, T the length of the token's sequence:

    forward                 2·N       one multiply and one add per weight
    backward, activations   2·N       dX = dY·Wᵀ, needed down to the lowest adapted layer
    backward, weights       2·N only for trainable weights: the frozen base skips its weight gradient, so
                            LoRA training is 4·N_frozen + 6·N_lora, not the 6·N of full fine-tuning
    attention               QKᵀ and A·V are 2·d·T each per token and layer (every head together), 4·L·d·T
    forward;
                            they hold no weights, so the backward needs both input gradients (2x the forward)
                            whether the base is frozen or not: 12·L·d·T for forward + backward, half of it
                            with causal masking (a token attends to the positions before it; SDPA and
                            FlashAttention skip the masked half)

Sources: PaLM (Chowdhery et al. 2022, appendix B: 6N + 12·L·H·Q·T per token, H·Q = d, without the causal
halving, so our figure is the more conservative one for causal models); Kaplan et al. 2020 §2.1 (the 2N
forward, 4N backward split); Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer
Models" §4 (the attention matmuls). For sequences of different lengths each token of a sequence of length T
attends to T positions, so the attention term takes the token-weighted mean length E[T²]/E[T], not E[T]. Only
real tokens count (no padding), and no recomputation (gradient checkpointing adds hardware FLOPs, not model
FLOPs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Dense (no sparsity) bf16/fp16 tensor-core peaks in TFLOPS, from NVIDIA's datasheets. A key matches a device
# when all its words are words of the name torch reports (torch.cuda.get_device_name(), e.g. "NVIDIA H100 80GB
# HBM3" for the SXM part, "NVIDIA H100 PCIe", "NVIDIA H100 NVL", "NVIDIA H200", "NVIDIA A100-SXM4-80GB"); the
# key with the most words wins.
PEAK_TFLOPS: dict[tuple[str, ...], float] = {
    ("H100",): 989.0,  # SXM5 ("H100 80GB HBM3")
    ("H100", "PCIe"): 756.0,
    ("H100", "NVL"): 835.0,
    ("H800",): 989.0,
    ("H200",): 989.0,  # SXM
    ("H200", "NVL"): 835.0,
    ("GH200",): 989.0,
    ("B200",): 2250.0,
    ("A100",): 312.0,  # SXM4 and PCIe alike
    ("A800",): 312.0,
    ("L40S",): 362.0,
    ("L40",): 181.0,
    ("L4",): 121.0,
    ("A10",): 125.0,
    ("V100",): 125.0,  # fp16 only (bf16 is emulated there)
    ("V100", "PCIe"): 112.0,
    ("T4",): 65.0,  # fp16 only
}


def lora_flops_per_token(
    frozen_params: int,
    trainable_params: int,
    layers: int,
    hidden: int,
    mean_length: float,
    mean_square_length: float,
    causal: bool = True,
) -> float:
    """Model FLOPs of one token's forward and backward in LoRA training (see the module's docstring)."""
    effective_length = mean_square_length / mean_length  # E[T²]/E[T]
    attention = 12 * layers * hidden * effective_length * (0.5 if causal else 1.0)
    return 4 * frozen_params + 6 * trainable_params + attention


@dataclass(frozen=True)
class Peak:
    """A device's peak, or why there is none to divide by."""

    tflops: float | None
    reason: str  # which entry matched, or why MFU is n/a


def peak_for(device_name: str | None, precision: str) -> Peak:
    """The dense 16-bit peak of a device as torch names it; None (with the reason) on a CPU, for an fp32 run,
    or for a device the table does not know."""
    if not device_name:
        return Peak(None, "no GPU: a CPU run")
    if precision not in ("bf16", "fp16"):
        return Peak(None, f"a {precision} run (the table holds 16-bit tensor-core peaks)")
    words = {w.lower() for w in re.split(r"[\s\-_]+", device_name) if w}
    matches = [key for key in PEAK_TFLOPS if all(k.lower() in words for k in key)]
    if not matches:
        return Peak(None, f"no peak known for {device_name!r} (add it to PEAK_TFLOPS in bench/mfu.py)")
    key = max(matches, key=len)
    return Peak(PEAK_TFLOPS[key], f"{PEAK_TFLOPS[key]:.0f} TFLOPS {precision} dense peak of {device_name!r}")


def mfu(tokens_per_s: float, flops_per_token: float, peak: Peak) -> float | None:
    """Achieved model FLOPs over the peak, or None when the peak is unknown."""
    if peak.tflops is None:
        return None
    return tokens_per_s * flops_per_token / (peak.tflops * 1e12)
