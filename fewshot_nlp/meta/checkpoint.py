"""Checkpoints that survive interruption: written atomically, verified before anything loads.

Layout: ``<dir>/step-000120/{tensors.safetensors, state.json}`` and ``<dir>/latest`` naming the
newest complete one. A checkpoint folder is written under a temporary name and renamed
into place, and ``latest`` is replaced with ``os.replace``, so a kill at any moment leaves
either the previous checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

FORMAT = "fewshot-nlp-checkpoint/1"
TENSORS, STATE, LATEST = "tensors.safetensors", "state.json", "latest"

logger = logging.getLogger(__name__)


class CheckpointError(ValueError):
    """A checkpoint that is corrupt, incomplete or from another training setup."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(directory, step: int, tensors: dict[str, torch.Tensor], state: dict, keep: int = 2) -> Path:
    """Write one checkpoint atomically and keep the newest ``keep`` of them."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"step-{step:09d}"
    temporary = directory / f".{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, temporary / TENSORS)
    state = {"format": FORMAT, "step": step, "sha256": _sha256(temporary / TENSORS), **state}
    (temporary / STATE).write_text(json.dumps(state, indent=2))
    for name in (TENSORS, STATE):
        with (temporary / name).open("rb") as handle:
            os.fsync(handle.fileno())
    shutil.rmtree(final, ignore_errors=True)  # a leftover of a run that died after this rename
    os.replace(temporary, final)
    pointer = directory / f".{LATEST}.tmp-{os.getpid()}"
    pointer.write_text(final.name)
    os.replace(pointer, directory / LATEST)
    _fsync_dir(directory)
    for old in sorted(directory.glob("step-*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(directory) -> Path | None:
    pointer = Path(directory) / LATEST
    if not pointer.is_file():
        return None
    return Path(directory) / pointer.read_text().strip()


def load_checkpoint(path, fingerprint: dict, defaults: dict | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, state) of a verified checkpoint.

    Refuses, naming the reason, a checkpoint whose files are missing or altered, or that was
    written by a run with other settings (``fingerprint`` must equal the saved one). A setting
    the checkpoint predates matches when it holds its value in ``defaults``: new options default
    to what training did before them, so a run written by an older version resumes after an upgrade.
    """
    path = Path(path)
    if not (path / STATE).is_file() or not (path / TENSORS).is_file():
        raise CheckpointError(f"{path} is not a complete checkpoint (expected {STATE} and {TENSORS}).")
    try:
        state = json.loads((path / STATE).read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path / STATE} is corrupt: {error}") from error
    if state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a fewshot-nlp checkpoint (format {state.get('format')!r}).")
    if state.get("sha256") != _sha256(path / TENSORS):
        raise CheckpointError(f"{path / TENSORS} does not match its checksum: the file is corrupt or was altered.")
    saved = {**{k: v for k, v in (defaults or {}).items() if k in fingerprint}, **state.get("fingerprint", {})}
    if saved != fingerprint:
        differing = sorted(k for k in set(saved) | set(fingerprint) if saved.get(k) != fingerprint.get(k))
        raise CheckpointError(
            f"{path} was written by a run with other settings ({differing}); resume with the same "
            "config, or start a new output_dir."
        )
    return load_file(path / TENSORS), state


def optimizer_tensors(optimizer: torch.optim.Optimizer, names: list[str]) -> dict[str, torch.Tensor]:
    """An optimiser's per-parameter state as flat tensors (``optim.<name>.<slot>``), for safetensors.

    ``names`` are the parameter names in the optimiser's order; the param groups (plain
    numbers) go into the checkpoint's JSON state instead.
    """
    return {
        f"optim.{names[index]}.{slot}": torch.as_tensor(value)
        for index, state in optimizer.state_dict()["state"].items()
        for slot, value in state.items()
    }


def load_optimizer_tensors(optimizer: torch.optim.Optimizer, names: list[str], tensors: dict, param_groups) -> None:
    """Inverse of :func:`optimizer_tensors`."""
    state = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            name, slot = key[len("optim.") :].rsplit(".", 1)
            state.setdefault(names.index(name), {})[slot] = value
    optimizer.load_state_dict({"state": state, "param_groups": param_groups})


class ResumableRun:
    """The checkpoints of a :class:`~fewshot_nlp.meta.MetaTrainer` run (a part of it): the meta-parameters, the
    optimizer, the best weights so far, the history and the random state, so that a resumed run continues to
    the weights an uninterrupted one would have reached."""

    @property
    def checkpoint_dir(self) -> Path:
        return self.output_dir / "checkpoints"

    def _checkpoint_tensors(self) -> dict[str, torch.Tensor]:
        tensors = {f"param.{n}": p.detach() for n, p in self.meta_parameters.items()}
        tensors.update(optimizer_tensors(self.optimizer, list(self.meta_parameters)))
        if self.best is not None:
            tensors.update({f"best.{n}": t for n, t in self.best["weights"].items()})
        # Episodes come from (seed, index); dropout (when on) draws from this generator, so a
        # resumed run continues with the masks an uninterrupted one would have drawn.
        tensors["rng.torch"] = torch.get_rng_state()
        return tensors

    def save_checkpoint(self) -> None:
        if self.rank != 0:
            return
        state = {
            "fingerprint": self.args.fingerprint(),
            "history": self.history,
            "best": None if self.best is None else {k: v for k, v in self.best.items() if k != "weights"},
            "evaluations_without_improvement": self.evaluations_without_improvement,
            "training": {**self.training, "wall_seconds": self.wall_seconds},
            "param_groups": self.optimizer.state_dict()["param_groups"],
        }
        save_checkpoint(self.checkpoint_dir, self.step, self._checkpoint_tensors(), state)

    def resume(self) -> bool:
        """Load the newest checkpoint if there is one; refuses a corrupt or foreign one."""
        path = latest_checkpoint(self.checkpoint_dir)
        if path is None:
            return False
        tensors, state = load_checkpoint(path, self.args.fingerprint(), self.args.defaults())
        expected = {f"param.{n}" for n in self.meta_parameters}
        if not expected <= set(tensors):
            raise ValueError(f"{path} lacks parameters {sorted(expected - set(tensors))[:3]}; it is not from this run.")
        with torch.no_grad():
            for name, parameter in self.meta_parameters.items():
                parameter.copy_(tensors[f"param.{name}"])
        load_optimizer_tensors(self.optimizer, list(self.meta_parameters), tensors, state["param_groups"])
        torch.set_rng_state(tensors["rng.torch"])
        self.step = state["step"]
        self.history = state["history"]
        self.evaluations_without_improvement = state["evaluations_without_improvement"]
        self.training = {**self.training, **state.get("training", {})}
        self._clock = (time.perf_counter(), self.training["wall_seconds"])
        if state["best"] is not None:
            weights = {k[len("best.") :]: v for k, v in tensors.items() if k.startswith("best.")}
            self.best = {**state["best"], "weights": weights}
        logger.info("resumed from %s at step %d", path, self.step)
        return True
