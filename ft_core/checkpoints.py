"""Checkpoints of a training run: saving everything a resume needs (`save_checkpoint`), resuming from it
(`resume_state`), each process's random state, and keeping the best adapter (`save_best_adapter`). Every write
goes to a staging folder swapped in whole (`ft_core.runfolder`), so a crash never leaves half a checkpoint.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Protocol

from ft_core import runfolder
from ft_core.runfolder import TrainState


class Training(Protocol):
    """What a checkpoint reads of a training run (`ft_core.train.Run` is one)."""

    cfg: Any
    run_dir: Path
    accelerator: Any
    model: Any
    optimizer: Any
    scheduler: Any

    @property
    def rank(self) -> int: ...

    @property
    def main(self) -> bool: ...

    def log(self, *args: Any, **kwargs: Any) -> None: ...


def resume_state(run: Training) -> TrainState:
    """A fresh TrainState, or, with `resume`, the checkpoint's: its state, adapter weights, optimizer and
    schedule."""
    if not run.cfg.resume:
        return TrainState()
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    checkpoint = runfolder.checkpoint_dir(run.run_dir)
    state = runfolder.read_trainer_state(run.run_dir)
    device = run.accelerator.device  # this process's own device: without it every rank would load onto cuda:0
    set_peft_model_state_dict(
        run.accelerator.unwrap_model(run.model),
        load_file(checkpoint / runfolder.ADAPTER / runfolder.ADAPTER_WEIGHTS, device=str(device)),
    )
    run.optimizer.load_state_dict(
        torch.load(checkpoint / runfolder.OPTIMIZER, map_location=device, weights_only=True)
    )
    # the rest holds no model tensors: whatever a GPU process saved, it is read onto the CPU (random states
    # are CPU tensors, CUDA's included)
    run.scheduler.load_state_dict(
        torch.load(checkpoint / runfolder.SCHEDULER, map_location="cpu", weights_only=True)
    )
    if run.accelerator.scaler is not None and (checkpoint / runfolder.SCALER).is_file():
        run.accelerator.scaler.load_state_dict(
            torch.load(checkpoint / runfolder.SCALER, map_location="cpu", weights_only=True)
        )
    rng = runfolder.rng_state_path(checkpoint, run.rank)
    if rng.is_file():
        # our own file; numpy's state is not a tensor
        set_rng_state(torch.load(rng, map_location="cpu", weights_only=False))
    else:
        run.log(
            f"{rng.name} not in the checkpoint (another number of processes?): dropout draws differ",
            flush=True,
        )
    run.log(
        f"resuming from step {state.step} (epoch {state.epoch}, batch {state.batch_in_epoch})",
        flush=True,
    )
    return state


def save_checkpoint(run: Training, state: TrainState) -> None:
    """Everything a resume needs, written to a staging folder and swapped in, so a crash never leaves half:
    adapter, optimizer, schedule, fp16's loss scale, the TrainState, and each process's random state (so a
    resumed run draws the dropout masks an uninterrupted one would). Every process calls it."""
    import torch

    accelerator = run.accelerator
    final = runfolder.checkpoint_dir(run.run_dir)
    staging = runfolder.staging_path(final)
    if run.main:
        runfolder.staging_dir(final).mkdir(parents=True)
        accelerator.unwrap_model(run.model).save_pretrained(staging / runfolder.ADAPTER)
        torch.save(run.optimizer.state_dict(), staging / runfolder.OPTIMIZER)
        torch.save(run.scheduler.state_dict(), staging / runfolder.SCHEDULER)
        if accelerator.scaler is not None:
            torch.save(accelerator.scaler.state_dict(), staging / runfolder.SCALER)
        runfolder.write_trainer_state(staging, state)
    accelerator.wait_for_everyone()  # the staging folder exists
    torch.save(rng_state(), runfolder.rng_state_path(staging, run.rank))
    accelerator.wait_for_everyone()  # every process's random state is in it
    if run.main:
        runfolder.swap_in(staging, final)


def rng_state() -> dict[str, Any]:
    """This process's random-number state: python, numpy, torch (CPU) and its CUDA device's."""
    import numpy as np
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` saved (the CUDA state only where there is a GPU)."""
    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def save_best_adapter(run: Training) -> None:
    """The current adapter becomes adapter/ (the one generation loads), swapped in whole."""
    if not run.main:
        return
    final = runfolder.adapter_dir(run.run_dir)
    staging = runfolder.staging_dir(final)
    run.accelerator.unwrap_model(run.model).save_pretrained(staging)
    runfolder.swap_in(staging, final)
