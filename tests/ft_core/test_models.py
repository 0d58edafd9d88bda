"""ft_core.models' one device/precision resolver, as training, generation and BERTScore use it (CPU machine)."""

from __future__ import annotations

import pytest
import torch

from ft_core.errors import ConfigError
from ft_core.models import resolve_device, resolve_placement


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU rules")
def test_cpu_rules():
    auto = resolve_placement()
    assert (auto.device, auto.precision, auto.dtype, auto.mixed_precision) == (
        "cpu",
        "fp32",
        torch.float32,
        "no",
    )
    # an explicit precision is kept as asked: bf16 autocast works on CPU; fp16 loads, but fp16 training needs a GPU
    assert resolve_placement("bf16").mixed_precision == "bf16"
    assert resolve_placement("bf16", "cpu").dtype == torch.bfloat16
    assert resolve_placement("fp16", "cpu").dtype == torch.float16
    with pytest.raises(ConfigError, match="precision=fp16 needs a GPU"):
        resolve_placement("fp16").mixed_precision  # noqa: B018
    with pytest.raises(ConfigError, match="no CUDA GPU is visible"):
        resolve_device("cuda:1")
    with pytest.raises(ConfigError, match="precision must be one of"):
        resolve_placement("fp8")


def test_training_generation_and_bertscore_share_the_resolver():
    # No second resolver left: the modules that used to resolve devices themselves import this one.
    import ft_core.generate
    import ft_core.metrics.bertscore
    import ft_core.train

    assert ft_core.generate.resolve_device is resolve_device
    for module in (ft_core.generate, ft_core.train, ft_core.metrics.bertscore):
        source = open(module.__file__).read()
        assert "is_bf16_supported" not in source and "cuda.is_available() else" not in source
