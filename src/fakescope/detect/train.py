"""Train a registered detector on real-vs-fake images, with exact resume.

    result = train_detector(load_config(DetectJobConfig, "paper003_resnet50"))

One loop serves every detector: the loss follows the model's head (BCE for one logit,
cross-entropy for two), and the backbone/head split comes from the `Detector` contract. Each
epoch appends train and validation metrics to the run's CSV and writes `last.pt` (weights plus
everything needed to resume); `best.pt` holds the epoch with the lowest validation loss, whose
weights the returned model carries. A resumed run continues from the newest of `last.pt` and the
mid-epoch step checkpoints and ends with the same weights an uninterrupted run would have.

Under torchrun (see fakescope.distributed) every process trains on its share of each global
batch with gradients averaged and BatchNorm statistics shared, validates its share of the
validation split, and all processes gather the scores, so they take the same decisions; rank 0
alone writes the run folder.

The run's set-up (seeds, run folder, `train.log`, speed settings), its loop (stop requests, the
time budget, epoch ends) are the training skeleton's (fakescope.training); `DetectorTrainer`
supplies the state, the step and the epoch's end (validation, early stopping, checkpoints).
`metrics.csv` has a row per epoch.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Generator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.utils.class_weight import compute_class_weight
from tqdm import tqdm

from fakescope.checkpoints import DetectorPayload, read_detector, resumable_detector
from fakescope.config import ConfigError, to_dict
from fakescope.data.pipeline import PreparedData, prepare_data
from fakescope.data.transforms import InputSpec, resolve_input_spec
from fakescope.detect.config import DetectJobConfig, TrainConfig, check_detect_config
from fakescope.detect.recon_negatives import add_recon_negatives
from fakescope.detect.speed import choose_speed_settings
from fakescope.distributed import DistContext, data_parallel
from fakescope.errors import DataError, FakescopeError, StoppedBySignal
from fakescope.formatting import format_value
from fakescope.metrics import classification_metrics
from fakescope.models.pretrained import NO_WEIGHTS, Pretrained
from fakescope.models.registry import (
    Detector,
    build_detector,
    detector_loss,
    fake_probability,
    save_detector,
)
from fakescope.models.weights import param_groups, set_backbone_trainable
from fakescope.reproducibility import rng_state, set_rng_state
from fakescope.runs import (
    BEST_CHECKPOINT,
    LAST_CHECKPOINT,
    SPEED_FILE,
    MetricsLog,
    RunDir,
    prune_step_checkpoints,
    restart_logs,
    write_json,
)
from fakescope.speed import CompiledForward, SpeedSettings, ThreadWatch, append_recheck
from fakescope.training.budget import SIDE_WORK_SHARE, TimeBudget, clock_seconds
from fakescope.training.loop import Counters, epoch_bar, run_epochs
from fakescope.training.session import resolve_speed, training_session

log = logging.getLogger("fakescope.detect")
VALIDATION_MARGIN = 1.25  # the final validation may run slower than the last one measured
CHECKPOINT_SECONDS = 2.0  # writing last.pt and best.pt after it

# Called after every epoch with its 1-based number and logged row; may raise to stop training
# (a search pruning a trial), after that epoch's checkpoints are safely written.
EpochCallback = Callable[[int, dict[str, float]], None]
# Work the caller does after training inside the same time budget (the CLI's threshold
# calibration): given the prepared data and a forward pass's seconds per image, the seconds it
# will take, which training stops early enough to leave.
EndWork = Callable[[PreparedData, float], float]


class TrainingInterrupted(StoppedBySignal, RuntimeError):
    """SIGINT/SIGTERM stopped training after a checkpoint was written; `--resume` continues."""


class TrainingDiverged(FakescopeError, RuntimeError):
    """The validation loss became NaN or infinite; the run's checkpoints are kept."""


@dataclass
class TrainResult:
    run: RunDir
    model: Detector  # carrying the best epoch's weights
    best_epoch: int  # 1-based
    best_val_loss: float
    metrics: dict[str, float]  # the best epoch's logged row
    best_checkpoint: Path
    last_checkpoint: Path
    epochs_run: int
    stop_reason: str  # epochs | early_stopping | time_limit
    speed: SpeedSettings
    # With train.compile: seconds the first (compiling) step took, or why compiling failed.
    compile_report: str = ""
    warnings: list[str] = field(default_factory=list)  # e.g. a budget too short to learn
    seconds_left: float = math.inf  # of the time budget, for the caller's end work


@dataclass
class TrainState(Counters):
    """Where training stands; saved in every resumable checkpoint."""

    best_val_loss: float = float("inf")
    best_epoch: int = 0
    bad_epochs: int = 0  # epochs since val loss last improved
    stop_reason: str = ""
    best_metrics: dict[str, float] = field(default_factory=dict)


class RunningScores:
    """Loss and predictions gathered over one epoch, for its metrics row."""

    def __init__(self) -> None:
        self.loss_sum = 0.0
        self.count = 0
        self.probs: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []

    def add(self, loss: float, probs: torch.Tensor, labels: torch.Tensor) -> None:
        self.loss_sum += loss * len(labels)
        self.count += len(labels)
        self.probs.append(probs.cpu())
        self.labels.append(labels.cpu())

    def merge(self, parts: list[tuple[float, torch.Tensor, torch.Tensor]]) -> None:
        """Add (mean loss, probabilities, labels) batches of several processes."""
        for loss, probs, labels in parts:
            self.add(loss, probs, labels)

    def summary(self, threshold: float) -> dict[str, Any]:  # None: undefined (fakescope.metrics)
        probs = torch.cat(self.probs).numpy()
        labels = torch.cat(self.labels).numpy()
        scores = classification_metrics(labels, probs, threshold)
        return {"loss": self.loss_sum / self.count, **scores}

    def state_dict(self) -> dict[str, Any]:
        empty = torch.empty(0)
        return {
            "loss_sum": self.loss_sum,
            "count": self.count,
            "probs": torch.cat(self.probs) if self.probs else empty,
            "labels": torch.cat(self.labels) if self.labels else empty.long(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RunningScores:
        scores = cls()
        scores.loss_sum, scores.count = float(state["loss_sum"]), int(state["count"])
        if state["count"]:
            scores.probs, scores.labels = [state["probs"]], [state["labels"]]
        return scores


def build_model(config: DetectJobConfig, pretrained: Pretrained | None = None) -> Detector:
    m = config.model
    return build_detector(m.name, m.pretrained if pretrained is None else pretrained, **m.kwargs)


def build_optimizer(model: Detector, t: TrainConfig) -> torch.optim.Optimizer:
    lr_backbone = t.lr if t.lr_backbone is None else t.lr_backbone
    groups = param_groups(model, lr_backbone, t.lr, t.weight_decay)
    if t.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=t.lr, betas=t.betas)
    return torch.optim.Adam(groups, lr=t.lr, betas=t.betas)


def build_scheduler(
    optimizer: torch.optim.Optimizer, t: TrainConfig
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """Stepped once per epoch."""
    if t.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=t.step_size, gamma=t.gamma)
    if t.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=t.epochs, eta_min=t.min_lr
        )
    return None


def class_weights(prepared: PreparedData, mode: str) -> torch.Tensor | None:
    """Per-class loss weights inversely proportional to class frequency in the training split."""
    if mode == "none":
        return None
    labels = np.array([s.label for s in prepared.samples("train")])
    weights = compute_class_weight("balanced", classes=np.array([0, 1]), y=labels)
    return torch.tensor(weights, dtype=torch.float32)


def check_splits(prepared: PreparedData) -> None:
    for split in ("train", "val"):
        labels = {s.label for s in prepared.samples(split)}
        if labels != {0, 1}:
            raise DataError(
                f"the '{split}' split needs both real and fake images (has "
                f"{prepared.size(split)} images, labels {sorted(labels)}); add images or change "
                "data.split_fractions"
            )


def newest_resume_payload(run: RunDir) -> DetectorPayload | None:
    """The resumable checkpoint furthest along: a mid-epoch step checkpoint or `last.pt`."""
    paths = {p for p in (run.latest_checkpoint(), run.checkpoints / LAST_CHECKPOINT) if p}
    return resumable_detector(sorted(paths))


class DetectorTrainer:
    """The pieces of one training run and the steps that move it forward."""

    def __init__(
        self,
        config: DetectJobConfig,
        model: Detector,
        prepared: PreparedData,
        run: RunDir,
        device: torch.device,
        speed: SpeedSettings | None = None,
        dist: DistContext | None = None,
        progress: bool = False,
        epoch_callback: EpochCallback | None = None,
        budget: TimeBudget | None = None,
        end_work: EndWork | None = None,
    ) -> None:
        """`budget`: the run's time budget, already started (by default one from the config,
        started here); `end_work`: what the caller does after training within it."""
        self.config, self.t = config, config.train
        if budget is None:
            budget = TimeBudget(config.train.max_minutes, config.train.budget_clock)
            budget.start()
        self.budget = budget
        self.warnings: list[str] = []
        self._validation_seconds: float | None = None  # the last validation's, once measured
        self._batch_seconds: float | None = None  # a validation batch's, measured or estimated
        self._image_seconds = 0.0  # a forward pass's per image, measured or estimated
        self.end_work = end_work
        self.prepared, self.run, self.device = prepared, run, device
        self.dist = dist or DistContext()
        self.local_batch_size = self.dist.local_batch_size(self.t.batch_size)
        # A fresh run times the candidates (rank 0, on one process's batch; every rank takes its
        # choice); a resumed run brings its checkpoint's, so it keeps the same arithmetic.
        self.model = model
        self.speed = speed = resolve_speed(speed, self.probe_speed, self.dist, run, log)
        # Re-checks the thread count while training; its settings are the ones to checkpoint.
        self.watch = ThreadWatch(speed, self.t.threads, device, self._record_recheck)
        self.model = model.to(device).to(memory_format=speed.memory_format)
        # Training passes go through `net` (gradient averaging under torchrun); `model` shares
        # its weights and serves checkpoints and evaluation. Frozen backbone epochs leave
        # parameters without gradients, which DDP must be told to expect.
        self.net: torch.nn.Module | CompiledForward = data_parallel(
            self.model, self.dist, device, find_unused=self.t.freeze_backbone_epochs > 0
        )
        if self.t.compile:  # the training forward only; evaluation stays eager
            self.net = CompiledForward(self.net, config.model.name)
        self.optimizer = build_optimizer(self.model, self.t)
        self.scheduler = build_scheduler(self.optimizer, self.t)
        self.scaler = torch.amp.GradScaler(device.type) if speed.needs_grad_scaler(device) else None
        weights = class_weights(prepared, self.t.class_weighting)
        self.class_weights = weights.to(device) if weights is not None else None
        self.state = TrainState()
        self.log = MetricsLog(run.metrics)
        self.progress, self.epoch_callback = progress, epoch_callback
        self.running = RunningScores()  # the current epoch's so far
        self._epoch_total = 0  # batches in the current epoch
        self._epoch_started = 0.0
        self._epoch_started_cpu = 0.0
        self._bar = epoch_bar(0, 0, 0, 0, enabled=False)

    def probe_speed(self) -> tuple[SpeedSettings, dict[str, float]]:
        t = self.t
        return choose_speed_settings(self.model, self.spec.size, self.local_batch_size,
                                     self.device, t.amp, t.channels_last, t.threads,
                                     max_seconds=self.budget.probe_seconds())

    @property
    def spec(self) -> InputSpec:
        return self.prepared.spec

    def _record_recheck(self, record: dict[str, Any]) -> None:
        if self.dist.is_main:
            append_recheck(self.run.path / SPEED_FILE, {"epoch": self.state.epoch + 1, **record})

    # --- checkpoints -------------------------------------------------------------------------

    def save(self, path: Path, metrics: dict[str, float], running: RunningScores | None) -> None:
        resume_state = {
            **asdict(self.state),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else {},
            "scaler": self.scaler.state_dict() if self.scaler else {},
            "rng": rng_state(),
            "speed": self.watch.settings.to_dict(),
            "running": running.state_dict() if running else {},
        }
        self._save_detector(path, metrics, {"train_state": resume_state})

    def _save_detector(self, path: Path, metrics: dict[str, float], extra: DetectorPayload) -> None:
        m = self.config.model
        save_detector(
            path, self.model, m.name, m.kwargs, self.spec, self.t.threshold, metrics,
            extra={"config": to_dict(self.config), **extra},
        )

    def restore(self, payload: DetectorPayload) -> None:
        saved = payload["train_state"]
        self.model.load_state_dict(payload["state_dict"])
        self.optimizer.load_state_dict(saved["optimizer"])
        if self.scheduler:
            self.scheduler.load_state_dict(saved["scheduler"])
        if self.scaler and saved["scaler"]:
            self.scaler.load_state_dict(saved["scaler"])
        fields = {k: saved[k] for k in asdict(TrainState())}
        self.state = TrainState(**fields)
        set_rng_state(saved["rng"])
        if self.dist.is_main:
            self.log.truncate_after("epoch", self.state.epoch)
        if saved["running"]:
            self.running = RunningScores.from_state(saved["running"])
        log.info("resumed at epoch %d, batch %d, step %d", self.state.epoch + 1, self.state.batch,
                 self.state.step)

    # --- one step, one pass ------------------------------------------------------------------

    def _inputs(
        self, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        images = images.to(self.device, non_blocking=True)
        labels = labels.to(self.device, non_blocking=True)
        return images.contiguous(memory_format=self.speed.memory_format), labels

    def train_step(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, torch.Tensor]:
        images, labels = self._inputs(images, labels)
        with self.speed.autocast(self.device):
            logits = self.net(images)
        logits = logits.float()
        loss = detector_loss(logits, labels, self.class_weights)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)  # clip the true gradients, not scaled ones
            self._clip()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self._clip()
            self.optimizer.step()
        return float(loss.detach()), fake_probability(logits.detach())

    def _clip(self) -> None:
        if self.t.grad_clip is not None:
            trainable = [p for p in self.model.parameters() if p.requires_grad]
            torch.nn.utils.clip_grad_norm_(trainable, self.t.grad_clip)

    @torch.inference_mode()
    def evaluate(self, split: str) -> dict[str, float]:
        """Metrics on `split`; under torchrun each process scores every N-th image once."""
        started = self.budget.now()
        self.model.eval()
        parts = []
        batch_size = self.t.eval_batch_size or 2 * self.t.batch_size
        loader = self.prepared.loader(split, batch_size, shard=self.dist.shard, pad=False,
                                      pin_memory=self.device.type == "cuda")
        chosen = self._validation_batches(len(loader)) if split == "val" else None
        bar = tqdm(loader, desc=split, unit="batch", leave=False, disable=not self.progress)
        for index, (images, labels) in enumerate(bar):
            if chosen is not None and index not in chosen:
                continue
            images, labels = self._inputs(images, labels)
            with self.speed.autocast(self.device):
                logits = self.model(images).float()
            loss = detector_loss(logits, labels, self.class_weights)
            parts.append((float(loss), fake_probability(logits).cpu(), labels.cpu()))
        self.model.train()
        scores = RunningScores()
        for rank_parts in self.dist.gather_objects(parts):
            scores.merge(rank_parts)
        if split == "val":
            self._validation_seconds = self.budget.now() - started
            scored = len(chosen) if chosen is not None else len(loader)
            self._batch_seconds = self._validation_seconds / max(1, scored)
            images = sum(len(labels) for _, _, labels in parts)
            self._image_seconds = self._validation_seconds / max(1, images)
            if chosen is not None:
                log.info("validation on %d of %d batches: its share of the time budget",
                         scored, len(loader))
        if split == "val" and self.budget.deadline is not None:  # the final one takes as long
            self.budget.reserve_s = self._end_seconds(self.budget.now() - started)
        return scores.summary(self.t.threshold)

    def _validation_batches(self, total: int) -> set[int] | None:
        """Under a time budget, the batches validation can score within `SIDE_WORK_SHARE` of
        it, spread over the split (its rows are grouped by class), at least two; None: all."""
        if self.budget.minutes is None or self._batch_seconds is None:
            return None
        fit = int(SIDE_WORK_SHARE * self.budget.minutes * 60 / self._batch_seconds)
        if fit >= total:
            return None
        count = max(2, fit)
        return {round(i * total / count) for i in range(count)}

    def _end_seconds(self, validation_seconds: float) -> float:
        """The final validation (with a margin for a busier machine), the checkpoints written
        after it, and the caller's end work."""
        end_work = (self.end_work(self.prepared, self._image_seconds)
                    if self.end_work is not None else 0.0)
        return VALIDATION_MARGIN * validation_seconds + CHECKPOINT_SECONDS + end_work

    # --- the loop (fakescope.training.loop.run_epochs) ----------------------------------------

    def more_epochs(self) -> bool:
        return self.state.epoch < self.t.epochs and not self.state.stop_reason

    def mid_epoch(self) -> bool:
        return self.state.batch < self._epoch_total

    def epoch_batches(self) -> Generator[tuple[torch.Tensor, torch.Tensor], None, None]:
        """The current epoch's batches from the current one on."""
        self._epoch_started = time.monotonic()
        self._epoch_started_cpu = time.process_time()
        epoch, seed = self.state.epoch, self.config.run.seed
        if self.t.freeze_backbone_epochs:
            set_backbone_trainable(self.model, epoch >= self.t.freeze_backbone_epochs)
        self.model.train()
        loader = self.prepared.loader(
            "train", self.local_batch_size, shuffle=True, augment=self.t.augment, seed=seed,
            epoch=epoch, start_batch=self.state.batch,
            # A last batch of one would break BatchNorm; dropping the remainder avoids it.
            drop_last=self.prepared.size("train") > self.t.batch_size, shard=self.dist.shard,
            pin_memory=self.device.type == "cuda",
        )
        self._epoch_total = self.state.batch + len(loader)
        with epoch_bar(self._epoch_total, self.state.batch, epoch, self.t.epochs,
                       self.progress) as self._bar:
            yield from loader

    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        """One step; every `train.checkpoint_every_steps` mid-epoch, a step checkpoint."""
        images, labels = batch
        running = self.running
        with self.watch.step():
            loss, probs = self.train_step(images, labels)
        running.merge(self.dist.gather_objects((loss, probs.cpu(), labels)))
        self.state.batch += 1
        self.state.step += 1
        self._bar.set_postfix(loss=f"{running.loss_sum / running.count:.4f}", refresh=False)
        self._bar.update()
        every = self.t.checkpoint_every_steps
        if every and self.state.step % every == 0 and self.mid_epoch() and self.dist.is_main:
            self.save_step()

    def save_step(self) -> None:
        """A mid-epoch checkpoint holding the batches done; it replaces the previous one."""
        self.save(self.run.step_checkpoint(self.state.step), {}, self.running)
        prune_step_checkpoints(self.run, keep=1)

    def end_epoch(self, last: bool) -> None:
        """Validate and log the epoch (cut short when `last`: the time budget is spent)."""
        if last:
            self.state.stop_reason = "time_limit"
            log.info("time budget of %g min spent at epoch %d, batch %d (step %d)",
                     self.t.max_minutes, self.state.epoch + 1, self.state.batch, self.state.step)
        row = self.finish_epoch(self.running, time.monotonic() - self._epoch_started,
                                time.process_time() - self._epoch_started_cpu)
        self.running = RunningScores()
        log.info("epoch %d/%d: %s", self.state.epoch, self.t.epochs,
                 ", ".join(f"{k}={format_value(v)}" for k, v in row.items() if k != "epoch"))
        if self.epoch_callback:
            self.epoch_callback(self.state.epoch, row)

    def steps_left(self) -> int:
        per_epoch = self._epoch_total or 1
        return (self.t.epochs - self.state.epoch) * per_epoch - self.state.batch

    def end_reserve_seconds(self, step_seconds: float) -> float:
        """The final validation's time: as measured, or before any, from the step pace (a
        forward pass costs about a third of a training step)."""
        if self._validation_seconds is not None:
            return self._end_seconds(self._validation_seconds)
        per_image = step_seconds / self.local_batch_size / 3
        eval_batch = self.t.eval_batch_size or 2 * self.t.batch_size
        self._batch_seconds = per_image * eval_batch
        self._image_seconds = per_image
        full = per_image * self.prepared.size("val") / self.dist.world
        share = SIDE_WORK_SHARE * (self.t.max_minutes or 0.0) * 60
        return self._end_seconds(min(full, max(share, 2 * self._batch_seconds)))

    def warn(self, message: str) -> None:
        log.warning(message)
        self.warnings.append(message)

    def interrupt(self, signal: str) -> None:
        """Mid-epoch, a step checkpoint holds the batches done; at an epoch's end, last.pt."""
        if self.mid_epoch() and self.dist.is_main:
            self.save_step()
        log.info("stopped by %s at epoch %d, batch %d (step %d): resume with --resume",
                 signal, self.state.epoch + 1, self.state.batch, self.state.step)

    def finish_epoch(
        self, running: RunningScores, seconds: float, cpu_seconds: float
    ) -> dict[str, float]:
        """Validate, step the schedule, update early stopping, log the row, write checkpoints."""
        lr = self.optimizer.param_groups[-1]["lr"]
        train = running.summary(self.t.threshold)
        val = self.evaluate("val")
        if self.scheduler:
            self.scheduler.step()
        state = self.state
        state.epoch += 1
        row: dict[str, float] = {
            "epoch": state.epoch, "lr": lr, "batches": state.batch,
            **{f"train_{k}": v for k, v in train.items()},
            **{f"val_{k}": v for k, v in val.items()},
            "seconds": seconds, "images_per_second": running.count / max(seconds, 1e-9),
            "cpu_s": cpu_seconds,  # of training, steadier than wall time on a shared machine
        }
        state.batch = 0
        if not math.isfinite(val["loss"]):
            if self.dist.is_main:
                self.log.append(row)
            raise TrainingDiverged(
                f"training diverged: validation loss is {val['loss']} after epoch {state.epoch} "
                "(lower train.lr, or set train.grad_clip)"
            )
        if val["loss"] < state.best_val_loss - self.t.min_delta:
            state.best_val_loss, state.best_epoch, state.bad_epochs = val["loss"], state.epoch, 0
            state.best_metrics = row
            if self.dist.is_main:
                self._save_detector(self.run.checkpoints / BEST_CHECKPOINT, row,
                                    {"epoch": state.epoch})
        else:
            state.bad_epochs += 1
            patience = self.t.early_stopping_patience
            if patience is not None and state.bad_epochs >= patience:
                state.stop_reason = "early_stopping"
        if state.epoch >= self.t.epochs and not state.stop_reason:
            state.stop_reason = "epochs"
        if self.dist.is_main:
            self.log.append(row)  # before last.pt: a resume truncates rows the checkpoint lacks
            self.save(self.run.checkpoints / LAST_CHECKPOINT, row, None)
            for stale in self.run.checkpoints.glob("ckpt-*.pt"):  # last.pt supersedes them
                stale.unlink(missing_ok=True)
        self.dist.barrier()  # the others read best.pt at the end
        return row


def train_detector(
    config: DetectJobConfig,
    resume: bool = False,
    progress: bool = True,
    epoch_callback: EpochCallback | None = None,
    started: float | None = None,
    end_work: EndWork | None = None,
) -> TrainResult:
    """Train `config.model` on `config.data`; with `resume`, continue the run's latest checkpoint.

    The time budget counts from `started`, a time of its clock (default: now; the CLI passes
    its process's start, `fakescope.training.budget.process_start`); training leaves the time
    `end_work` asks for (the caller's work after it), and `TrainResult.seconds_left` says how
    much of the budget is left for it.

    `train.epochs` and `train.max_minutes` bound the work; a resumed run that had stopped for
    either continues up to the new bounds, while an early-stopped run stays stopped.
    """
    check_detect_config(config)
    # The budget covers the whole invocation: data preparation and the speed probe too.
    budget = TimeBudget(config.train.max_minutes, config.train.budget_clock)
    budget.start(clock_seconds(config.train.budget_clock) if started is None else started)
    # Checked before the run folder is made, so a typo leaves no empty run behind.
    if not config.data.path:
        raise ConfigError("no dataset path given (set data.path or pass --data PATH)")
    if not Path(config.data.path).exists():
        raise FileNotFoundError(f"dataset not found: {config.data.path}")
    with training_session(config, config.train.batch_size, resume, log) as session:
        dist, run = session.dist, session.run
        progress = progress and dist.is_main
        with dist.main_first():  # rank 0 makes the data cache, the others reuse it
            payload = newest_resume_payload(run) if resume else None
            # Resumed weights come from the checkpoint, so skip loading pretrained ones first.
            model = build_model(config, pretrained=NO_WEIGHTS if payload else None)
            spec = resolve_input_spec(model.input_spec, config.data)
            prepared = prepare_data(config.data, spec, config.run.seed, labelled=True,
                                    progress=progress)
            prepared = add_recon_negatives(prepared, config.data.recon_negatives,
                                           config.data.cache_dir, config.run.seed)
        return _train(config, session.device, dist, run, payload, model, prepared, progress,
                      epoch_callback, budget, end_work)


def _train(
    config: DetectJobConfig,
    device: torch.device,
    dist: DistContext,
    run: RunDir,
    payload: DetectorPayload | None,
    model: Detector,
    prepared: PreparedData,
    progress: bool,
    epoch_callback: EpochCallback | None,
    budget: TimeBudget,
    end_work: EndWork | None,
) -> TrainResult:
    if dist.is_main:
        write_json(run.data_report, prepared.report.to_dict())
        if not payload:  # a fresh start: no rows of an attempt that saved nothing
            restart_logs(run, run.metrics.name)
    check_splits(prepared)
    # A resumed run keeps its checkpoint's speed settings, so its arithmetic, so its results.
    speed = SpeedSettings.from_dict(payload["train_state"]["speed"]) if payload else None
    trainer = DetectorTrainer(config, model, prepared, run, device, speed, dist, progress,
                              epoch_callback, budget, end_work)
    if payload:
        trainer.restore(payload)
    else:
        log.info("training %s (%s) on %d images (%d validation) on %s x %d", config.run.name,
                 config.model.name, prepared.size("train"), prepared.size("val"), device,
                 dist.world)
    state = trainer.state
    if state.stop_reason != "early_stopping":
        state.stop_reason = ""
    end = run_epochs(trainer, dist, trainer.budget, trainer.speed)
    if end.interrupted:
        raise TrainingInterrupted(
            f"stopped by {end.interrupted} at epoch {state.epoch + 1}, batch {state.batch} "
            f"(step {state.step}), after writing a checkpoint: continue with --resume",
            end.interrupted,
        )
    return _result(trainer)


def _result(trainer: DetectorTrainer) -> TrainResult:
    run, state = trainer.run, trainer.state
    best_path = run.checkpoints / BEST_CHECKPOINT
    best = read_detector(best_path)
    trainer.model.load_state_dict(best["state_dict"])  # early stopping's "restore best weights"
    trainer.model.eval()
    return TrainResult(
        run=run,
        model=trainer.model,
        best_epoch=state.best_epoch,
        best_val_loss=state.best_val_loss,
        metrics=dict(state.best_metrics),
        best_checkpoint=best_path,
        last_checkpoint=run.checkpoints / LAST_CHECKPOINT,
        epochs_run=state.epoch,
        stop_reason=state.stop_reason or "epochs",
        speed=trainer.watch.settings,
        compile_report=_compile_report(trainer.net),
        warnings=list(trainer.warnings),
        seconds_left=trainer.budget.left(),
    )


def _compile_report(net: torch.nn.Module | CompiledForward) -> str:
    if not isinstance(net, CompiledForward):
        return ""
    if net.error:
        return f"failed, trained eagerly ({net.error})"
    seconds = net.compile_seconds
    return f"first step {seconds:.1f} s" if seconds is not None else "no step was run"
