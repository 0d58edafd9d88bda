"""Real architectures' configs with random weights, for speed benchmarks: the GPU machine cannot receive
weights over 64 MiB and nothing may download them, and random weights measure speed honestly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ARCHS: dict[str, dict[str, Any]] = {
    "tiny": dict(
        model_type="llama",
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
    ),
    # HuggingFaceTB/SmolLM2-135M-Instruct
    "smollm2-135m": dict(
        model_type="llama",
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=30,
        num_attention_heads=9,
        num_key_value_heads=3,
        rope_theta=100000.0,
    ),
    # Qwen/Qwen2-0.5B
    "qwen2-0.5b": dict(
        model_type="qwen2",
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        rope_theta=1000000.0,
    ),
}


def build_model_folder(arch: str, folder: Path, tokenizer: Any = None) -> Path:
    """Save a random-weight model of `arch` with SmolLM2's real tokenizer (and chat template) into
    `folder`."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from ft_core.models import embedded_tokenizer

    tokenizer = tokenizer if tokenizer is not None else embedded_tokenizer()
    spec = dict(ARCHS[arch])
    model_type = spec.pop("model_type")
    torch.manual_seed(0)
    config = AutoConfig.for_model(
        model_type,
        vocab_size=len(tokenizer),
        tie_word_embeddings=True,
        max_position_embeddings=8192,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **spec,
    )
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_adapter_folder(model_folder: Path, folder: Path, r: int = 16, target_modules: Any = None) -> Path:
    """Save a LoRA adapter with random (non-zero) A and B on `model_folder` into `folder`: a fine-tuned
    system whose outputs differ from the base, for generation speed (what it computes matters, not what it
    learned)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(model_folder),
        LoraConfig(
            r=r,
            lora_alpha=2 * r,
            target_modules=target_modules or ["q_proj", "k_proj", "v_proj", "o_proj"],
            init_lora_weights=False,  # B random too, so the adapter is not a no-op
        ),
    )
    model.save_pretrained(folder)
    return folder
