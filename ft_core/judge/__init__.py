"""LLM judges of a run's pairs: `python -m ft_core judge --config FILE.yaml` (docs/judges.md).

- `config`: `JudgeConfig`, the default prompt (after MT-bench's pairwise prompt), template checks;
- `pairs`: the pairs a run's outputs make, and how a pair's two orders make one record and the judge's win
  rate;
- `backend`: the one interface of the judges; `local`: a causal LM from next-token probabilities (batched);
  `endpoint`: an OpenAI-compatible server through the `openai` client (concurrent, retried);
- `run`: the job (resume, estimate, append per pair, summary).

Importing this package loads no torch and no openai.
"""

from ft_core.judge.config import DEFAULT_PROMPT, JudgeConfig
from ft_core.judge.run import main, run_judge

__all__ = ["DEFAULT_PROMPT", "JudgeConfig", "main", "run_judge"]
