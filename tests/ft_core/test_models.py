"""ft_core.models' one device/precision resolver, as training, generation and BERTScore use it (CPU
machine)."""

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
    # an explicit precision is kept as asked: bf16 autocast works on CPU; fp16 loads, but fp16 training needs
    # a GPU
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


# --- precision=auto on a GPU that only emulates bf16 (fault injection: the device's capability is patched)
# ------


def _fake_gpu(monkeypatch, major: int, emulated_bf16_works: bool) -> None:
    """Make torch believe a CUDA GPU of compute capability `major`.x is visible. On a V100 (7.0) or T4
    (7.5) torch can still create a bf16 tensor (emulation), which is what `is_bf16_supported()` checks by
    default."""
    from types import SimpleNamespace

    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device=None: SimpleNamespace(major=major))
    monkeypatch.setattr(torch.cuda, "_check_bf16_tensor_supported", lambda device: emulated_bf16_works)


@pytest.mark.parametrize("gpu, major", [("V100", 7), ("T4", 7)])
def test_auto_precision_is_fp16_where_bf16_is_only_emulated(monkeypatch, gpu, major):
    _fake_gpu(monkeypatch, major, emulated_bf16_works=True)
    assert torch.cuda.is_bf16_supported()  # torch's default answer counts emulation: the trap
    placement = resolve_placement("auto", "cuda")
    assert (placement.precision, placement.mixed_precision) == ("fp16", "fp16"), gpu


@pytest.mark.parametrize("major", [8, 9])
def test_auto_precision_is_bf16_on_ampere_and_later(monkeypatch, major):
    _fake_gpu(monkeypatch, major, emulated_bf16_works=True)
    placement = resolve_placement("auto", "cuda")
    assert (placement.precision, placement.dtype) == ("bf16", torch.bfloat16)


# --- the base model loads in the run's precision, whatever the checkpoint holds
# --------------------------------


@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory, tiny_causal_dir):
    """The tiny model saved once in fp32 and once in bf16 (config.json's dtype says which)."""
    from transformers import AutoModelForCausalLM

    folders = {"fp32": tiny_causal_dir}
    bf16 = tmp_path_factory.mktemp("tiny-bf16")
    AutoModelForCausalLM.from_pretrained(tiny_causal_dir, dtype=torch.bfloat16).save_pretrained(bf16)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"):
        if (tiny_causal_dir / name).is_file():
            (bf16 / name).write_bytes((tiny_causal_dir / name).read_bytes())
    folders["bf16"] = bf16
    return folders


@pytest.mark.parametrize("checkpoint", ["fp32", "bf16"])
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_training_loads_the_base_in_the_runs_precision(tiny_checkpoints, tmp_path, checkpoint, precision):
    from transformers import AutoConfig

    from ft_core.config import TrainConfig
    from ft_core.train import build_model

    path = str(tiny_checkpoints[checkpoint])
    assert str(AutoConfig.from_pretrained(path).dtype).endswith(
        {"fp32": "float32", "bf16": "bfloat16"}[checkpoint]
    )
    cfg = TrainConfig(base_model=path, run_dir=str(tmp_path / "run"), precision=precision, lora_r=4)
    model = build_model(cfg, path, resolve_placement(precision, "cpu").dtype)
    base = {p.dtype for n, p in model.named_parameters() if "lora_" not in n}
    lora = {p.dtype for n, p in model.named_parameters() if "lora_" in n}
    expected = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    assert base == {expected}
    assert lora == {torch.float32}  # trainable adapter weights stay fp32 (peft's autocast_adapter_dtype)
    assert {p.dtype for p in model.parameters() if p.requires_grad} == {torch.float32}


@pytest.mark.parametrize("checkpoint, precision", [("fp32", "bf16"), ("bf16", "fp32"), ("fp32", "auto")])
def test_a_prepared_run_trains_on_base_weights_in_its_precision(
    tiny_checkpoints, tiny_jsonl, tmp_path, checkpoint, precision
):
    # the whole path `train` takes: config -> placement -> build_model -> accelerate.prepare
    from ft_core.config import TrainConfig
    from ft_core.train import prepare_run

    cfg = TrainConfig(
        base_model=str(tiny_checkpoints[checkpoint]),
        train_file=str(tiny_jsonl / "train.jsonl"),
        validation_file=None,
        run_dir=str(tmp_path / "run"),
        precision=precision,
        max_steps=1,
        max_source_length=48,
        max_target_length=16,
    )
    run = prepare_run(cfg, progress=False)
    expected = resolve_placement(precision).dtype  # auto on this CPU machine: fp32
    base = {p.dtype for n, p in run.model.named_parameters() if "lora_" not in n}
    assert base == {expected}
    assert run.mixed_precision == resolve_placement(precision).mixed_precision
