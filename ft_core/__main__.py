"""`python -m ft_core {train,generate,score,judge,dpo,sweep} ...`: each prints progress and exits non-zero
with a one-line reason on bad input."""

from __future__ import annotations

import importlib
import sys

from ft_core.errors import FtCoreError

COMMANDS = {
    "train": ("ft_core.train", "fine-tune a base model with LoRA into a run folder"),
    "generate": ("ft_core.generate", "generate base and fine-tuned outputs on an evaluation split"),
    "score": ("ft_core.scoring", "score outputs and compare systems with paired-bootstrap intervals"),
    "judge": (
        "ft_core.judge",
        "judge base vs fine-tuned outputs in both orders with an LLM (local or endpoint)",
    ),
    "dpo": (
        "ft_core.dpo",
        "preference-tune a fine-tuned run on a preferences export (DPO with TRL)",
    ),
    "sweep": (
        "ft_core.sweep",
        "train over an lr x LoRA-rank grid, or generate and score a grid of decoding settings",
    ),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        lines = [f"  {name:<9} {help_}" for name, (_, help_) in COMMANDS.items()]
        print("usage: python -m ft_core COMMAND [options]\n\ncommands:\n" + "\n".join(lines), file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    try:
        return int(module.main(argv[1:]) or 0)
    except FtCoreError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except UnicodeDecodeError as e:  # a file read without a check of its own: still one line, not a traceback
        print(
            f"error: an input file is not UTF-8 text ({e.reason} at byte {e.start:,}); save it as UTF-8",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
