"""ft_core: LoRA fine-tuning, batched generation and automatic metrics. Never imports streamlit or duckdb."""

__all__ = ["errors"]
