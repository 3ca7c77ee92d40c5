"""Train a GAN on a folder of real faces, resumably (papers 000, 001 and 004, and small data).

One iteration, as in the papers: D learns on a real batch and a generated batch (two forward
passes, so BatchNorm sees each alone), then G learns through the updated D. Any registered
architecture trains here (fakescope.models.gan_registry); the small-data techniques are config
keys, all off in the paper presets: differentiable augmentation of everything D sees, hinge loss,
a lazy R1 penalty, spectral normalisation (in the architecture), and an exponential moving
average of G that every sample, metric and checkpointed generator comes from.

Everything an uninterrupted run would hold at a given iteration is in its checkpoints: weights,
optimizer moments, epoch/step/batch counters, the epoch's running sums and every RNG state. The
batch order depends only on (seed, epoch), so on CPU a run stopped (SIGINT/SIGTERM, or a crash
after a checkpoint) and resumed ends with the same weights as one that never stopped.

Under torchrun the N processes split every global batch (see fakescope.distributed): each draws
the whole batch's latents and keeps its share, G's and D's gradients are averaged and their
BatchNorm statistics shared, so they train as one process would. Rank 0 alone writes the run
folder and does the epoch-end work (samples, metrics, plots, checkpoints).

The run's set-up (seeds, run folder, `train.log`, speed settings), its loop (stop requests, the
time budget, epoch ends) are the training skeleton's (fakescope.training); `GanTrainer` supplies
the state, the iteration and the epoch's end. `metrics.csv` has a row per iteration, `epochs.csv`
one per epoch.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from fakescope.checkpoints import (
    GanPayload,
    gan_arch,
    gan_speed,
    gan_training_generator,
    read_gan,
    save_gan,
)
from fakescope.config import ConfigError, to_dict
from fakescope.data.pipeline import BatchLoader, PreparedData, prepare_data
from fakescope.data.tensors import real_uint8_batches
from fakescope.data.transforms import InputSpec, resolve_input_spec
from fakescope.distributed import DistContext, data_parallel, local_batchnorm
from fakescope.errors import DataError
from fakescope.gan.collapse import CollapseWatch
from fakescope.gan.config import GanJobConfig, validate
from fakescope.gan.diffaug import diff_augment
from fakescope.gan.ema import GeneratorAverage
from fakescope.gan.history import IterationLog
from fakescope.gan.losses import (
    add_instance_noise,
    discriminator_loss,
    generator_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
    instance_noise_std,
    r1_penalty,
)
from fakescope.gan.metrics import FeatureExtractor, QualityMeter, build_feature_extractor
from fakescope.gan.plots import plot_loss_phase, plot_losses, plot_quality, quality_floors
from fakescope.gan.sample import sample_grid
from fakescope.gan.speed import choose_gan_speed_settings
from fakescope.models.gan_registry import ImageGenerator, build_discriminator, build_generator
from fakescope.reproducibility import isolated_rng, rng_state, set_rng_state
from fakescope.runs import (
    FLOOR_COMPARISON_FILE,
    SPEED_FILE,
    MetricsLog,
    RunDir,
    prune_step_checkpoints,
    restart_logs,
    write_json,
)
from fakescope.speed import CompiledForward, SpeedSettings, ThreadWatch, append_recheck
from fakescope.training.budget import END_WORK_SHARE, SIDE_WORK_SHARE, TimeBudget, clock_seconds
from fakescope.training.loop import Counters, epoch_bar, run_epochs
from fakescope.training.session import resolve_speed, training_session

log = logging.getLogger("fakescope.gan")

ExtractorFactory = Callable[[str], FeatureExtractor]
EPOCH_SUMS = ("loss_d", "loss_g", "d_real", "d_fake")
# Offsets of the seeds of the fixed evaluation samples and of the augmentation stream, kept apart
# from the training stream.
REAL_SAMPLE_SEED, QUALITY_SEED, COLLAPSE_SEED, CALIBRATION_SEED, AUGMENT_SEED = 1, 2, 3, 4, 5
CALIBRATION_BATCHES, CALIBRATION_BATCH_SIZE = 4, 128  # latents G's BatchNorm statistics average
# Under a time budget the end-of-run quality metrics may take END_WORK_SHARE of it; when one
# batch's pace says they would take longer, they are skipped (with a warning), not overrun it.
END_MARGIN = 1.3  # the metrics' measured pace may slow on a busy machine
END_OUTPUT_SECONDS = 5.0  # samples, checkpoint and plots at the end


@dataclass
class TrainResult:
    run: RunDir
    step: int
    epochs_done: int
    interrupted: str | None  # the signal that stopped training; None when it ran to the end
    checkpoint: Path | None
    summary: dict[str, Any] = field(default_factory=dict)  # the last epoch's row of epochs.csv
    warnings: list[str] = field(default_factory=list)


@dataclass
class TrainState(Counters):
    """The counters a checkpoint must restore, beyond weights and RNG states."""

    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(EPOCH_SUMS, 0.0))
    started: float = field(default_factory=time.perf_counter)  # this epoch's (re)start
    started_cpu: float = field(default_factory=time.process_time)
    images: int = 0  # images seen since `started`

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "epoch": self.epoch, "batch": self.batch,
                "sums": dict(self.sums)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainState:
        return cls(step=int(data["step"]), epoch=int(data["epoch"]), batch=int(data["batch"]),
                   sums={k: float(v) for k, v in data["sums"].items()})


def gan_input_spec(config: GanJobConfig) -> InputSpec:
    return resolve_input_spec(InputSpec(size=config.model.resolution), config.data)


def is_quality_column(name: str) -> bool:
    """FD/FID, KID (not its std) and diversity columns of epochs.csv."""
    if name == "diversity":
        return True
    return name.startswith(("fd_", "fid", "kid")) and not name.endswith("_std")


def count_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def newest_gan_checkpoint(run: RunDir) -> tuple[Path, GanPayload] | None:
    """The run's newest checkpoint and its path; None when it has none (a fresh start)."""
    path = run.latest_checkpoint()
    if path is None:
        return None
    # On the CPU: RNG states must stay there; weights and moments move on loading.
    return path, read_gan(path, map_location="cpu")


class GanTrainer:
    """Holds the networks, optimizers, logs and evaluation helpers of one run."""

    def __init__(
        self,
        config: GanJobConfig,
        prepared: PreparedData,
        run: RunDir,
        device: torch.device,
        extractor_factory: ExtractorFactory | None = None,
        progress: bool = False,
        on_step: Callable[[int], None] | None = None,
        dist: DistContext | None = None,
        speed: SpeedSettings | None = None,
    ) -> None:
        self.config, self.prepared, self.run, self.device = config, prepared, run, device
        self.progress, self.on_step = progress, on_step
        self.dist = dist or DistContext()
        self.local_batch_size = self.dist.local_batch_size(config.train.batch_size)
        self.extractor_factory = extractor_factory or (
            lambda kind: build_feature_extractor(kind, device, config.metrics.inception_weights)
        )
        m, t = config.model, config.train
        # Time budget (train.max_minutes): started by `start_budget` from the invocation's start;
        # the speed probe below may take its share of it.
        self.budget = TimeBudget(t.max_minutes, t.budget_clock)
        self.G = build_generator(m.arch, **m.generator_kwargs()).to(device)
        self.D = build_discriminator(m.arch, **m.discriminator_kwargs()).to(device)
        # A fresh run times the candidates (rank 0, on one process's batch; every rank takes its
        # choice); a resumed run brings its checkpoint's, so it keeps the same arithmetic.
        self.speed = speed = resolve_speed(speed, self.probe_speed, self.dist, run, log)
        # Re-checks the thread count while training; its settings are the ones to checkpoint.
        self.watch = ThreadWatch(speed, t.threads, device, self._record_recheck)
        layout = self.memory_format = speed.memory_format
        self.G.to(memory_format=layout)
        self.D.to(memory_format=layout)
        # The training passes go through these (gradient averaging under torchrun); self.G and
        # self.D, which share their weights, serve checkpoints and one-rank work. G's step uses
        # D_solo: no gradient of D is averaged there.
        self.G_train: torch.nn.Module | CompiledForward = data_parallel(self.G, self.dist, device)
        self.D_train: torch.nn.Module | CompiledForward = data_parallel(self.D, self.dist, device)
        self.D_solo: torch.nn.Module | CompiledForward = self.D
        if t.compile:
            self.G_train = CompiledForward(self.G_train, "G", logger=log)
            self.D_solo = CompiledForward(self.D, "D", logger=log)
            self.D_train = (self.D_solo if self.D_train is self.D
                            else CompiledForward(self.D_train, "D (data parallel)", logger=log))
        # One fused kernel per parameter update instead of a chain of elementwise ops.
        fused = device.type in ("cpu", "cuda")
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=t.lr_g, betas=t.betas_g, fused=fused)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=t.lr_d, betas=t.betas_d, fused=fused)
        # The average follows G from its first step; without it, samples come from G itself.
        self.G_average = (GeneratorAverage(self.G, t.ema_kimg * 1000, t.ema_rampup)
                          if t.ema_kimg > 0 else None)
        # Augmentation draws come from their own stream (one per rank), checkpointed with the run.
        self.augment_rng = torch.Generator(device=device)
        self.augment_rng.manual_seed(config.run.seed + AUGMENT_SEED + 1000 * self.dist.shard[0])
        self.state = TrainState()
        self.iterations = IterationLog(run.metrics)
        self.epochs_log = MetricsLog(run.path / "epochs.csv")
        self.batches_per_epoch = len(self._loader(epoch=0, start_batch=0))
        if self.batches_per_epoch == 0:
            raise DataError(
                f"{config.data.path}: no training batches (fewer images per process than "
                f"train.batch_size={t.batch_size} / {self.dist.world} with drop_last)"
            )
        anneal_epochs = t.instance_noise_anneal_epochs or t.epochs
        self.anneal_steps = anneal_epochs * self.batches_per_epoch
        self.warnings: list[str] = []
        self._extractors: dict[str, FeatureExtractor] = {}
        self._quality: QualityMeter | None = None
        self._collapse: CollapseWatch | None = None
        self._last_checkpoint: Path | None = None
        self._last_row: dict[str, Any] = {}
        self._collapse_flag = ""
        self._calibrated_step = -1
        self._skip_quality = False  # the budget cannot hold the quality metrics
        # On the budget's clock: what the last periodic epoch outputs took (before any, the
        # planned estimate), and when they ended (None: at the budget's start).
        self._outputs_seconds = 0.0
        self._outputs_ended: float | None = None
        self._started_at = 0.0
        self._steps_at_start = 0
        self._bar = epoch_bar(0, 0, 0, 0, enabled=False)

    def probe_speed(self) -> tuple[SpeedSettings, dict[str, float]]:
        t = self.config.train
        return choose_gan_speed_settings(
            self.G, self.D, self.local_batch_size, self.device, t.amp, t.channels_last, t.threads,
            max_seconds=self.budget.probe_seconds(),
        )

    def _record_recheck(self, record: dict[str, Any]) -> None:
        if self.dist.is_main:
            append_recheck(self.run.path / SPEED_FILE, {"epoch": self.state.epoch + 1, **record})

    # -- checkpoints --------------------------------------------------------------------------

    @property
    def sampler(self) -> ImageGenerator:
        """The generator every sample, metric and `generate` uses: the moving average when on."""
        return self.G_average.model if self.G_average is not None else self.G

    def checkpoint_payload(self) -> GanPayload:
        m = self.config.model
        payload: GanPayload = {
            "arch": m.arch,
            "config": to_dict(self.config),
            "generator_kwargs": m.generator_kwargs(),
            "discriminator_kwargs": m.discriminator_kwargs(),
            # readers of "generator" (generate, sample, metrics) get the averaged weights
            "generator": self.sampler.state_dict(),
            "discriminator": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "state": self.state.to_dict(),
            "rng": rng_state(),
            "augment_rng": self.augment_rng.get_state(),
            "speed": self.watch.settings.to_dict(),
        }
        if self.G_average is not None:
            payload["generator_train"] = self.G.state_dict()
        return payload

    def calibrate_generator(self) -> None:
        """Precise BatchNorm statistics for eval-mode sampling; they depend on the current weights
        alone (a fixed latent stream), so an interrupted run still ends in the same state."""
        if self._calibrated_step == self.state.step:
            return
        rng = torch.Generator().manual_seed(self.config.run.seed + CALIBRATION_SEED)
        with local_batchnorm(self.sampler):  # every rank computes the same statistics alone
            self.sampler.calibrate_batchnorm(CALIBRATION_BATCHES, CALIBRATION_BATCH_SIZE, rng)
        self._calibrated_step = self.state.step

    def save(self) -> Path:
        self.calibrate_generator()
        self.iterations.flush()
        path = self.run.step_checkpoint(self.state.step)
        save_gan(path, self.checkpoint_payload())
        prune_step_checkpoints(self.run, self.config.train.keep_checkpoints)
        self._last_checkpoint = path
        log.info("checkpoint %s (epoch %d, batch %d)", path.name, self.state.epoch,
                 self.state.batch)
        return path

    def resume(self, path: Path, payload: GanPayload) -> None:
        """Continue from `payload`, the checkpoint at `path` (see `newest_gan_checkpoint`)."""
        saved = payload["config"]
        m = self.config.model
        same_networks = (gan_arch(payload) == m.arch
                         and payload["generator_kwargs"] == m.generator_kwargs()
                         and payload["discriminator_kwargs"] == m.discriminator_kwargs())
        if not same_networks:
            raise ConfigError(
                f"--resume: the model settings differ from those of {path} "
                "(a run keeps its architecture; start a new run with another --name)"
            )
        state = TrainState.from_dict(payload["state"])
        if state.batch and saved["train"]["batch_size"] != self.config.train.batch_size:
            raise ConfigError(
                "--resume: train.batch_size differs from the checkpoint's, which stopped "
                "mid-epoch; resume with the same batch size"
            )
        if (self.G_average is None) != ("generator_train" not in payload):
            raise ConfigError("--resume: train.ema_kimg must stay on (or off) as in the checkpoint")
        self.G.load_state_dict(gan_training_generator(payload))
        if self.G_average is not None:
            self.G_average.model.load_state_dict(payload["generator"])
        self.D.load_state_dict(payload["discriminator"])
        if "augment_rng" in payload:
            self.augment_rng.set_state(payload["augment_rng"])
        self.opt_g.load_state_dict(payload["opt_g"])
        self.opt_d.load_state_dict(payload["opt_d"])
        set_rng_state(payload["rng"])
        self.state = state
        if self.dist.is_main:
            self.iterations.truncate_after(state.step)
            if self.epochs_log.path.is_file():
                self.epochs_log.truncate_after("step", state.step)
        self._last_checkpoint = path
        log.info("resumed from %s: epoch %d, batch %d, step %d", path.name, state.epoch,
                 state.batch, state.step)

    # -- one iteration ------------------------------------------------------------------------

    def _loader(self, epoch: int, start_batch: int) -> BatchLoader:
        t = self.config.train
        return self.prepared.loader(
            "train", self.local_batch_size, shuffle=True, augment=True,
            seed=self.config.run.seed, epoch=epoch, start_batch=start_batch,
            drop_last=t.drop_last, shard=self.dist.shard, pin_memory=self.device.type == "cuda",
        )

    def _latents(self, n: int) -> torch.Tensor:
        """This rank's n latents: its share of one draw for the whole global batch, which every
        rank makes alike, so the processes together use the latents one process would."""
        rank, world = self.dist.shard
        return self.G.sample_latent(n * world)[rank * n : (rank + 1) * n]

    def _noisy(self, images: torch.Tensor, std: float) -> torch.Tensor:
        """Instance noise on D's input; under torchrun, this rank's share of a global draw."""
        rank, world = self.dist.shard
        if world == 1 or std <= 0:
            return add_instance_noise(images, std)
        n = images.shape[0]
        noise = torch.randn((n * world, *images.shape[1:]), device=images.device)
        return images + std * noise[rank * n : (rank + 1) * n]

    def _d_input(self, images: torch.Tensor, noise: float) -> torch.Tensor:
        """What D sees of a batch: the augmented images (DiffAugment), with instance noise."""
        return self._noisy(diff_augment(images, self.config.train.diffaug, self.augment_rng), noise)

    def train_step(self, real: torch.Tensor) -> dict[str, float]:
        t = self.config.train
        G, D = self.G_train, self.D_train
        noise = instance_noise_std(t.instance_noise, self.state.step, self.anneal_steps)
        autocast = self.speed.autocast  # forward passes only; losses and statistics in fp32
        with autocast(self.device):
            fake = G(self._latents(real.shape[0]))

        # D learns: real -> 1 - smoothing, fake -> 0; the fakes are detached so G is left alone.
        # Every r1_every-th step the real pass also carries the R1 penalty's gradient.
        self.opt_d.zero_grad(set_to_none=True)
        with_r1 = t.r1_gamma > 0 and self.state.step % t.r1_every == 0
        if with_r1:
            real = real.detach().requires_grad_(True)
        with autocast(self.device):
            real_logits = D(self._d_input(real, noise))
            fake_logits = D(self._d_input(fake.detach(), noise))
        real_logits, fake_logits = real_logits.float(), fake_logits.float()
        if t.loss == "hinge":
            loss_d = hinge_discriminator_loss(real_logits, fake_logits)
        else:
            loss_d = discriminator_loss(real_logits, fake_logits, t.label_smoothing)
        penalty = r1_penalty(real_logits, real) if with_r1 else None
        total = loss_d if penalty is None else loss_d + penalty * (t.r1_gamma / 2 * t.r1_every)
        total.backward()
        self.opt_d.step()

        # G learns through the updated D. D's weights need no gradient here (its next step
        # clears them anyway), so freezing them skips that work without changing the result;
        # the unwrapped D is used because no gradient of it is averaged across processes.
        self.opt_g.zero_grad(set_to_none=True)
        self.D.requires_grad_(False)
        try:
            with autocast(self.device):
                after_logits = self.D_solo(self._d_input(fake, noise))
            after_logits = after_logits.float()
            if t.loss == "hinge":
                loss_g = hinge_generator_loss(after_logits)
            else:
                loss_g = generator_loss(after_logits, t.g_loss)
            loss_g.backward()
        finally:
            self.D.requires_grad_(True)
        self.opt_g.step()
        if self.G_average is not None:
            batch = real.shape[0] * self.dist.world
            self.G_average.update(self.G, (self.state.step + 1) * batch, batch)

        values = self.dist.mean(torch.stack([
            loss_d.detach(), loss_g.detach(), torch.sigmoid(real_logits.detach()).mean(),
            torch.sigmoid(fake_logits.detach()).mean(), torch.sigmoid(after_logits.detach()).mean(),
        ])).tolist()  # one device sync (and one all-reduce under torchrun) per iteration
        names = ("loss_d", "loss_g", "d_real", "d_fake", "d_fake_after")
        row = {**dict(zip(names, values, strict=True)), "noise_std": noise}
        if penalty is not None:
            row["r1"] = float(penalty.detach())
        return row

    # -- epoch end ------------------------------------------------------------------------------

    def _extractor(self, kind: str) -> FeatureExtractor:
        if kind not in self._extractors:
            self._extractors[kind] = self.extractor_factory(kind)
        return self._extractors[kind]

    def _real_batches(self, n: int) -> Iterator[torch.Tensor]:
        seed = self.config.run.seed + REAL_SAMPLE_SEED
        return real_uint8_batches(self.prepared, n, self.config.metrics.batch_size, seed)

    def quality_meter(self) -> QualityMeter:
        if self._quality is None:
            mc = self.config.metrics
            extractor = self._extractor(mc.feature_extractor)
            log.info("quality metrics: features of %d real images first", mc.num_samples)
            self._quality = QualityMeter(
                extractor, self._real_batches(mc.num_samples), mc.kid_subsets,
                mc.kid_subset_size, mc.batch_size, self.config.run.seed + QUALITY_SEED,
            )
            log.info("quality metrics %s/%s on %d real images", self._quality.fd_name,
                     self._quality.kid_name, self._quality.num_samples)
        return self._quality

    def collapse_watch(self) -> CollapseWatch:
        if self._collapse is None:
            cc = self.config.collapse
            self._collapse = CollapseWatch(
                self._extractor(cc.features), self._real_batches(cc.num_samples), cc.num_samples,
                cc.threshold, self.config.run.seed + COLLAPSE_SEED,
            )
        return self._collapse

    def end_epoch(self, last: bool = False) -> None:
        """Log the epoch and do its outputs. `last`: the run ends here (its time budget is
        spent); mid-epoch, the row covers the batches done and the state stays mid-epoch, so
        --resume finishes that epoch."""
        s = self.state
        seconds = time.perf_counter() - s.started
        cpu_seconds = time.process_time() - s.started_cpu
        partial = 0 < s.batch < self.batches_per_epoch
        n = max(1, s.batch if partial else self.batches_per_epoch)
        row: dict[str, Any] = {"epoch": s.epoch + 1, "step": s.step}
        row.update({k: s.sums[k] / n for k in EPOCH_SUMS})
        row["seconds"] = round(seconds, 3)
        images = s.images * self.dist.world  # every process saw as many
        row["images_per_s"] = round(images / seconds, 2) if seconds > 0 and images else ""
        row["cpu_s"] = round(cpu_seconds, 3)  # steadier than wall time on a shared machine
        if partial:
            row["batches"] = s.batch  # of batches_per_epoch: the budget ended it early
        else:
            s.epoch += 1
            s.batch = 0
            s.sums = dict.fromkeys(EPOCH_SUMS, 0.0)
        started = self.budget.now()
        final = last or s.epoch >= self.config.train.epochs
        periodic = self.dist.broadcast(self.outputs_due(final))  # every rank calibrates alike
        if periodic:
            self.calibrate_generator()
        if self.dist.is_main:
            self.epoch_outputs(row, last, periodic)
        self.dist.barrier()
        if periodic:
            self._outputs_ended = self.budget.now()
            self._outputs_seconds = self._outputs_ended - started
        self._last_row = row
        s.started, s.started_cpu, s.images = time.perf_counter(), time.process_time(), 0
        if last:
            self._log_budget_stop()

    def start_budget(self, started: float) -> None:
        """Start the time budget (train.max_minutes) from `started`, a time of its clock."""
        self.budget.start(started)
        self._started_at, self._steps_at_start = self.budget.now(), self.state.step

    def planned_steps(self) -> int:
        """Iterations this run is expected to reach: all its epochs, or with a time budget, as
        many as the pace so far fits into what is left of it."""
        s = self.state
        planned = self.config.train.epochs * self.batches_per_epoch
        if self.budget.deadline is not None and s.step > self._steps_at_start:
            elapsed = self.budget.now() - self._started_at
            pace = elapsed / (s.step - self._steps_at_start)
            planned = min(planned, s.step + int(self.budget.left() / pace))
        return planned

    def steps_left(self) -> int:
        return self.config.train.epochs * self.batches_per_epoch - self.state.step

    def outputs_due(self, last: bool) -> bool:
        """Whether this epoch's end does its outputs (BatchNorm calibration, samples, collapse
        check, metrics, checkpoint, plots): always without a time budget and at the run's end;
        under one, once training since the last outputs has paid for them (`SIDE_WORK_SHARE`),
        unless the run's end, which does them all, comes before they would be due again."""
        if last or self.budget.deadline is None:
            return True
        ended = self._started_at if self._outputs_ended is None else self._outputs_ended
        since = self.budget.now() - ended
        interval = (1 - SIDE_WORK_SHARE) / SIDE_WORK_SHARE * self._outputs_seconds
        return since >= interval and self.budget.training_left() >= interval

    def end_reserve_seconds(self, step_seconds: float) -> float:
        """The end of the run on rank 0: quality metrics and collapse check at the pace of one
        batch of real images through the feature network, then samples, checkpoint and plots.
        Quality metrics that would take over `END_WORK_SHARE` of the budget are skipped."""
        t, mc, cc = self.config.train, self.config.metrics, self.config.collapse
        if not self.dist.is_main or not (t.metrics_every or cc.enabled):
            return END_OUTPUT_SECONDS
        wall, cpu = time.perf_counter(), time.process_time()
        per_image = self._feature_seconds_per_image()
        # loading and timing the feature network is not training: the epoch's clocks skip it
        self.state.started += time.perf_counter() - wall
        self.state.started_cpu += time.process_time() - cpu
        quality = END_MARGIN * 2 * mc.num_samples * per_image if t.metrics_every else 0.0
        budget_s = (t.max_minutes or 0.0) * 60
        if quality > END_WORK_SHARE * budget_s:
            self._skip_quality = True
            self.warn(f"quality metrics skipped: on {mc.num_samples} real and as many generated "
                      f"images they would take about {quality:.0f} s of the {t.max_minutes:g}-"
                      "minute budget; measure them afterwards with `fakescope gan metrics "
                      f"--checkpoint {self.run.path}`")
            quality = 0.0
        collapse = END_MARGIN * 2 * cc.num_samples * per_image if cc.enabled else 0.0
        self._outputs_seconds = max(self._outputs_seconds, collapse)  # before any is measured
        return quality + collapse + END_OUTPUT_SECONDS

    def _feature_seconds_per_image(self) -> float:
        """On the budget's clock (CPU time with budget_clock=cpu, so a busy machine's waits do
        not inflate the estimate)."""
        mc = self.config.metrics
        started = self.budget.now()
        extractor = self._extractor(mc.feature_extractor)  # built once, used again at the end
        loaded = self.budget.now()
        with isolated_rng(), torch.inference_mode():
            batch = next(self._real_batches(min(8, mc.batch_size)))
            extractor(batch)
        seconds = self.budget.now() - loaded
        log.info("feature network: %.1f s to load, %.2f s per %d images", loaded - started,
                 seconds, len(batch))
        return seconds / max(1, len(batch))

    def warn(self, message: str) -> None:
        log.warning(message)
        self.warnings.append(message)

    def collapse_warmup(self) -> int:
        """Iterations before the collapse watch may warn: a share of the planned run, so a short
        run is watched too, and never more than collapse.warmup_steps."""
        cc = self.config.collapse
        return min(cc.warmup_steps, math.ceil(cc.warmup_fraction * self.planned_steps()))

    def epoch_outputs(self, row: dict[str, Any], last: bool = False, periodic: bool = True) -> None:
        """Rank 0's epoch-end work: samples, collapse check, quality metrics, logs, checkpoint.
        `last`: the run ends here (its time budget ran out), so everything is done now.
        `periodic`: False when, under a time budget, samples, collapse checks, checkpoints and
        plots wait (to the run's end at the latest) until training has paid for them."""
        t, s = self.config.train, self.state
        epoch = int(row["epoch"])
        self.iterations.flush()
        last = last or epoch == t.epochs
        if periodic and t.sample_every and (epoch % t.sample_every == 0 or last):
            sample_grid(self.sampler, self.run.samples / f"epoch_{epoch:04d}.png",
                        t.sample_count, nrow=min(8, t.sample_count), seed=self.config.run.seed)
        cc = self.config.collapse
        if periodic and cc.enabled and (epoch % cc.every == 0 or last):
            with isolated_rng():  # its feature network must not draw training randomness
                check = self.collapse_watch().check(self.sampler)
            row["diversity"] = round(check.ratio, 4)
            warn = check.collapsed and s.step > self.collapse_warmup()
            self._collapse_flag = f"{check.ratio:.2f}" if warn else ""
            if warn:
                message = f"epoch {epoch}: {check.message()}"
                self.warnings.append(message)
                log.warning(message)
        if (periodic and t.metrics_every and (epoch % t.metrics_every == 0 or last)
                and not self._skip_quality):
            started = time.perf_counter()
            with isolated_rng():
                meter = self.quality_meter()
                log.info("quality metrics: %d generated images", meter.num_samples)
                quality = meter.measure(self.sampler)
            row.update({k: round(v, 6) for k, v in quality.items()})
            log.info("quality metrics took %.0f s", time.perf_counter() - started)
        self.epochs_log.append(row)
        log.info("epoch %d/%d: %s", epoch, t.epochs,
                 ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in row.items() if k not in ("epoch",)))
        checkpoint = periodic and (epoch % t.checkpoint_every == 0 or last)
        if checkpoint:
            self.save()
        if periodic and (checkpoint or (t.plot_every and epoch % t.plot_every == 0)):
            self.draw_plots()

    def draw_plots(self) -> None:
        report = self.run.report
        plot_losses(self.run.metrics, report / "losses.png")
        plot_loss_phase(self.run.metrics, report / "loss_phase.png")
        rows = self.epochs_log.read()
        columns = [c for c in (rows[0] if rows else {}) if is_quality_column(c)]
        floors = quality_floors(self.run.path / FLOOR_COMPARISON_FILE)
        plot_quality(self.epochs_log.path, report / "quality.png", columns, floors)

    # -- the loop -------------------------------------------------------------------------------

    def interrupt(self, signal: str) -> None:
        log.warning("stopped by %s at epoch %d, batch %d: resume with --resume", signal,
                    self.state.epoch, self.state.batch)
        self.calibrate_generator()
        if self.dist.is_main:
            self.save()
            self.draw_plots()
        self.dist.barrier()

    def result(self, interrupted: str | None) -> TrainResult:
        checkpoint = self._last_checkpoint if self.dist.is_main or not interrupted else None
        return TrainResult(self.run, self.state.step, self.state.epoch, interrupted, checkpoint,
                           dict(self._last_row), list(self.warnings))

    # -- the loop (fakescope.training.loop.run_epochs) -------------------------------------------

    def more_epochs(self) -> bool:
        return self.state.epoch < self.config.train.epochs

    def mid_epoch(self) -> bool:
        return self.state.batch < self.batches_per_epoch

    def epoch_batches(self) -> Generator[torch.Tensor, None, None]:
        s, epochs = self.state, self.config.train.epochs
        loader = self._loader(epoch=s.epoch, start_batch=s.batch)
        # Counts the run's iterations, so its ETA is the run's (within a time budget, the
        # iterations the pace so far fits into it).
        with tqdm(total=self.planned_steps(), initial=s.step, leave=False,
                  desc=f"GAN epoch {s.epoch + 1}/{epochs}", unit="it",
                  disable=not self.progress) as bar:
            self._bar = bar
            for real, _ in loader:
                yield real.to(self.device, memory_format=self.memory_format, non_blocking=True)

    def step(self, real: torch.Tensor) -> None:
        s = self.state
        with self.watch.step():
            row = self.train_step(real)
        s.step += 1
        s.batch += 1
        s.images += real.shape[0]
        for k in EPOCH_SUMS:
            s.sums[k] += row[k]
        if self.dist.is_main:
            self.iterations.add({"step": s.step, "epoch": s.epoch + 1, **row})
        postfix = {
            "loss_D": f"{row['loss_d']:.3f}", "loss_G": f"{row['loss_g']:.3f}",
            "D(x)": f"{row['d_real']:.2f}", "D(G(z))": f"{row['d_fake']:.2f}",
        }
        if self._collapse_flag:
            postfix["COLLAPSE?"] = self._collapse_flag
        self._bar.set_postfix(postfix, refresh=False)
        self._bar.total = self.planned_steps()
        self._bar.update()
        if self.on_step is not None:
            self.on_step(s.step)

    def train(self) -> TrainResult:
        s = self.state
        s.started, s.started_cpu = time.perf_counter(), time.process_time()
        end = run_epochs(self, self.dist, self.budget, self.speed)
        return self.result(interrupted=end.interrupted)

    def _log_budget_stop(self) -> None:
        s = self.state
        message = (f"time budget of {self.config.train.max_minutes:g} min spent at epoch "
                   f"{s.epoch}, batch {s.batch} (step {s.step}); --resume continues")
        log.info(message)


def train_gan(
    config: GanJobConfig,
    resume: bool = False,
    progress: bool = False,
    on_step: Callable[[int], None] | None = None,
    extractor_factory: ExtractorFactory | None = None,
    started: float | None = None,
) -> TrainResult:
    """Train (or with `resume`, continue) the GAN that `config` describes.

    The time budget counts from `started`, a time of its clock (default: now; the CLI passes
    its process's start, `fakescope.training.budget.process_start`).

    `on_step(step)` runs after every iteration (for tests and tools); `extractor_factory(kind)`
    replaces the feature networks of the quality metrics and the collapse watch.
    """
    validate(config)
    # The budget covers data preparation and the speed probe too.
    if started is None:
        started = clock_seconds(config.train.budget_clock)
    with training_session(config, config.train.batch_size, resume, log) as session:
        dist = session.dist
        with dist.main_first():  # rank 0 makes the data cache, the others reuse it
            prepared = prepare_data(config.data, gan_input_spec(config), seed=config.run.seed,
                                    labelled=False, progress=progress and dist.is_main)
        return _train(config, prepared, session.run, session.device, dist, resume,
                      progress and dist.is_main, on_step, extractor_factory, started)


def _train(
    config: GanJobConfig,
    prepared: PreparedData,
    run: RunDir,
    device: torch.device,
    dist: DistContext,
    resume: bool,
    progress: bool,
    on_step: Callable[[int], None] | None,
    extractor_factory: ExtractorFactory | None,
    started: float,
) -> TrainResult:
    if dist.is_main:
        write_json(run.data_report, prepared.report.to_dict())
    if "train" not in prepared.split_names():
        raise DataError(f"{config.data.path}: no real training images found")
    # Read once: it gives the speed settings the trainer is built with (a resumed run keeps its
    # arithmetic, so its results) and then the state it continues from.
    found = newest_gan_checkpoint(run) if resume else None
    if not found and dist.is_main:  # a fresh start: no rows of an attempt that saved nothing
        restart_logs(run, run.metrics.name, "epochs.csv")
    speed = gan_speed(found[1]) if found else None
    trainer = GanTrainer(config, prepared, run, device, extractor_factory, progress, on_step, dist,
                         speed)
    if found:
        trainer.resume(*found)
    else:
        log.info("training %s on %d images (%d batches/epoch) on %s x %d; G %d params, "
                 "D %d params", config.run.name, prepared.size("train"),
                 trainer.batches_per_epoch, device, dist.world, count_parameters(trainer.G),
                 count_parameters(trainer.D))
    trainer.start_budget(started)
    return trainer.train()
