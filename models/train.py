"""Train the expression CNN on FER2013 (CPU by default): seeded, per-epoch progress and checkpoints, resumable.

Run: ``.venv/bin/python -m models.train --epochs 30 --out runs/expression`` (``--resume`` continues ``last.pt``).
Augmentation runs as tensor ops on whole batches (random affine via one ``grid_sample``, flip, random erasing),
so the two CPU cores spend their time in the convolutions, not in per-image Python.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import math
import pickle
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from models.data import PUBLIC_TEST_FILE, TRAIN_FILE, FerSplit, default_split_path, load_split
from models.errors import ModelError
from models.net import ExpressionNet, NetConfig, count_macs

logger = logging.getLogger(__name__)


class CheckpointError(ModelError):
    """A checkpoint to resume from or export is missing or unreadable."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run; stored in each checkpoint so a resume continues the same run."""

    epochs: int = 30
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    max_rotate_deg: float = 10.0
    max_shift: float = 0.08          # fraction of the side
    scale_range: tuple[float, float] = (0.9, 1.1)
    erase_prob: float = 0.5
    seed: int = 13
    bf16: bool = True
    threads: int = 2
    max_batches: int = 0             # > 0: stop each epoch after this many batches (smoke runs, tests)
    distill_weight: float = 0.7      # share of the teachers' probabilities in the target (when teachers are given)


def cpu_has_native_bf16() -> bool:
    """bfloat16 autocast halves step time on CPUs with AVX512-BF16/AMX but is emulated (and ~5x slower) on AVX2."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def augment(x: torch.Tensor, cfg: TrainConfig, gen: torch.Generator) -> torch.Tensor:
    """Random rotation/scale/shift + horizontal flip (one affine grid per image) and random erasing, ``x (N,1,S,S)``."""
    n = x.shape[0]
    angle = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(cfg.max_rotate_deg)
    lo, hi = cfg.scale_range
    scale = lo + torch.rand(n, generator=gen) * (hi - lo)
    flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * cfg.max_shift * 2  # grid units span 2 per side
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, shift[:, 0]], 1), torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if cfg.erase_prob > 0:
        side = x.shape[-1]
        erase = torch.rand(n, generator=gen) < cfg.erase_prob
        h = (torch.rand(n, generator=gen) * 0.3 + 0.1) * side
        w = (torch.rand(n, generator=gen) * 0.3 + 0.1) * side
        cy = torch.rand(n, generator=gen) * side
        cx = torch.rand(n, generator=gen) * side
        ys = torch.arange(side).view(1, side, 1)
        xs = torch.arange(side).view(1, 1, side)
        box = ((ys - cy.view(-1, 1, 1)).abs() < h.view(-1, 1, 1) / 2) & ((xs - cx.view(-1, 1, 1)).abs() < w.view(-1, 1, 1) / 2)
        box &= erase.view(-1, 1, 1)
        noise = torch.randn(out.shape, generator=gen)
        out = torch.where(box.unsqueeze(1), noise, out)
    return out


def normalise(x_uint8: np.ndarray, mean: float, std: float) -> torch.Tensor:
    """``(N,S,S) uint8`` -> ``(N,1,S,S) float32`` as the model contract says: (pixel/255 - mean)/std."""
    return ((torch.from_numpy(x_uint8).float() / 255.0 - mean) / std).unsqueeze(1)


@torch.no_grad()
def predict(model: torch.nn.Module, x: torch.Tensor, batch: int = 512, flip_tta: bool = False) -> torch.Tensor:
    """Softmax probabilities ``(N, C)``; with ``flip_tta`` averaged with the mirrored faces."""
    model.eval()
    outs = []
    for start in range(0, x.shape[0], batch):
        chunk = x[start:start + batch]
        p = model(chunk).float().softmax(1)
        if flip_tta:
            p = (p + model(chunk.flip(-1)).float().softmax(1)) / 2
        outs.append(p)
    return torch.cat(outs)


def teacher_probs(teachers: list[Path], x_uint8: np.ndarray) -> torch.Tensor:
    """Flip-averaged softmax of each teacher on the clean faces, averaged over teachers ``(N, C)``.

    Computed once per run (offline distillation): the ensemble costs nothing per step, and its soft labels carry the
    ambiguity of FER2013's noisy labels (fear/sad/neutral) that one-hot labels do not.
    """
    total = None
    for path in teachers:
        state = load_checkpoint(path)
        probs = predict(build_model(state), normalise(x_uint8, state["mean"], state["std"]), flip_tta=True)
        total = probs if total is None else total + probs
    return total / len(teachers)


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against a probability target ``(N, C)``."""
    return -(target * logits.log_softmax(1)).sum(1).mean()


def _save(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path) -> dict:
    """Read a checkpoint written by this module; one-line `CheckpointError` if it is missing or broken."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path}: unreadable ({exc})") from exc
    if not isinstance(state, dict) or "model" not in state or "net" not in state:
        raise CheckpointError(f"checkpoint {path}: not an expression-model checkpoint (missing 'model'/'net')")
    return state


def net_config_of(state: dict) -> NetConfig:
    """The architecture a checkpoint was trained with."""
    net = state["net"]
    return NetConfig(stages=tuple(tuple(s) for s in net["stages"]), num_classes=net["num_classes"], dropout=net["dropout"],
                     stem_stride=net.get("stem_stride", 1))


def build_model(state: dict) -> ExpressionNet:
    """Rebuild the net of a checkpoint with its weights."""
    model = ExpressionNet(net_config_of(state))
    model.load_state_dict(state["model"])
    return model


def train(cfg: TrainConfig, train_split: FerSplit, val_split: FerSplit, out_dir: Path, resume: bool = False,
          net_config: NetConfig = NetConfig(), stop_after: int | None = None, init_from: Path | None = None,
          teachers: list[Path] | None = None) -> dict:
    """Run (or continue) training; writes ``last.pt`` every epoch and ``best.pt`` on a new best val accuracy.

    ``stop_after``: end this process after that many epochs (the schedule still spans ``cfg.epochs``), so a long
    run can be done in chunks with ``resume``; the result is the same as one uninterrupted run.
    ``init_from``: start from that checkpoint's weights (and its net and normalisation) with a fresh optimizer and
    schedule -- a warm restart, which is how a trained model gets more epochs when one long run does not fit.
    ``teachers``: checkpoints whose flip-averaged ensemble is distilled into this net: the target is
    ``distill_weight`` x their probabilities + the rest x the label-smoothed label.
    """
    torch.set_num_threads(cfg.threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    last_path, best_path = out_dir / "last.pt", out_dir / "best.pt"
    if train_split.classes != val_split.classes:
        raise ModelError(f"class names differ: {train_split.path} {list(train_split.classes)} vs {val_split.path} {list(val_split.classes)}")

    state = load_checkpoint(last_path) if resume else None
    if state is not None:
        cfg = TrainConfig(**{**dataclasses.asdict(TrainConfig()), **state["train"], "max_batches": cfg.max_batches,
                             "threads": cfg.threads, "scale_range": tuple(state["train"]["scale_range"])})
        net_config = net_config_of(state)
        teachers = [Path(t) for t in state.get("teachers") or []]
    init = load_checkpoint(init_from) if init_from is not None and state is None else None
    if init is not None:
        net_config = net_config_of(init)
    _seed_everything(cfg.seed)
    net_config = dataclasses.replace(net_config, num_classes=len(train_split.classes))
    model = ExpressionNet(net_config).to(memory_format=torch.channels_last)
    stored = state or init
    mean = float(train_split.x.mean() / 255.0) if stored is None else stored["mean"]
    std = float(train_split.x.std() / 255.0) if stored is None else stored["std"]
    x_train = normalise(train_split.x, mean, std)
    y_train = torch.from_numpy(train_split.y)
    x_val = normalise(val_split.x, mean, std).contiguous(memory_format=torch.channels_last)
    y_val = torch.from_numpy(val_split.y)
    soft_train = None
    if teachers and not 0.0 <= cfg.distill_weight <= 1.0:
        raise ModelError(f"--distill-weight {cfg.distill_weight}: must be between 0 and 1")
    if teachers:
        t0 = time.monotonic()
        cache = out_dir / "teacher_probs.pt"
        # A teacher retrained in place (same path, new file) must not reuse the old probabilities.
        key = {"teachers": [(str(t), t.stat().st_size, t.stat().st_mtime_ns) if t.is_file() else str(t) for t in teachers],
               "faces": len(train_split)}
        try:
            cached = torch.load(cache, weights_only=False) if cache.is_file() else None
        except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError):
            cached = None  # a cache cut short by a crash is recomputed, not an error
        if isinstance(cached, dict) and cached.get("key") == key:
            soft_train = cached["probs"]
        else:
            soft_train = teacher_probs(teachers, train_split.x)
            torch.save({"key": key, "probs": soft_train}, cache)
        agree = float((soft_train.argmax(1) == y_train).float().mean())
        logger.info("distilling %d teacher(s) (weight %.2f): their flip-averaged ensemble agrees with %.1f %% of the "
                    "training labels (%.0f s)", len(teachers), cfg.distill_weight, agree * 100, time.monotonic() - t0)

    steps_per_epoch = math.ceil(len(train_split) / cfg.batch_size)
    if cfg.max_batches:
        steps_per_epoch = min(steps_per_epoch, cfg.max_batches)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, epochs=cfg.epochs, steps_per_epoch=steps_per_epoch,
                                                    pct_start=0.15, div_factor=20, final_div_factor=200)
    gen = torch.Generator().manual_seed(cfg.seed)
    start_epoch, best_acc, history, elapsed = 0, 0.0, [], 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        start_epoch, best_acc, history, elapsed = state["epoch"], state["best_acc"], state["history"], state["elapsed_s"]
        logger.info("resuming %s at epoch %d/%d (best val %.4f)", last_path, start_epoch + 1, cfg.epochs, best_acc)
    else:
        if init is not None:
            model.load_state_dict(init["model"])
            logger.info("warm restart from %s (epoch %d, val acc %.4f)", init_from, init["epoch"], init["val_acc"])
        logger.info("model: %d params, %.1f M MACs per face; train %d faces, val %d; mean %.4f std %.4f",
                    sum(p.numel() for p in model.parameters()), count_macs(model) / 1e6, len(train_split), len(val_split), mean, std)
    criterion = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    run_t0 = time.monotonic()
    use_bf16 = cfg.bf16 and cpu_has_native_bf16()
    if cfg.bf16 and not use_bf16:
        logger.info("this CPU (%s) has no native bfloat16; training in float32 (emulated bf16 is ~5x slower)",
                    torch.backends.cpu.get_cpu_capability())
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if use_bf16 else contextlib.nullcontext

    end_epoch = cfg.epochs if stop_after is None else min(cfg.epochs, start_epoch + stop_after)
    for epoch in range(start_epoch, end_epoch):
        t0 = time.monotonic()
        model.train()
        order = torch.randperm(len(train_split), generator=gen)
        total_loss, seen = 0.0, 0
        for step in range(steps_per_epoch):
            idx = order[step * cfg.batch_size:(step + 1) * cfg.batch_size]
            xb = augment(x_train[idx], cfg, gen).contiguous(memory_format=torch.channels_last)
            yb = y_train[idx]
            with autocast():
                logits = model(xb).float()
                loss = criterion(logits, yb)
                if soft_train is not None:
                    loss = (1 - cfg.distill_weight) * loss + cfg.distill_weight * soft_cross_entropy(logits, soft_train[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += loss.item() * len(idx)
            seen += len(idx)
        with autocast():
            probs = predict(model, x_val)
            probs_tta = predict(model, x_val, flip_tta=True)
        acc = float((probs.argmax(1) == y_val).float().mean())
        acc_tta = float((probs_tta.argmax(1) == y_val).float().mean())
        epoch_s = time.monotonic() - t0
        elapsed += epoch_s
        done = epoch + 1
        run_s = time.monotonic() - run_t0
        eta_s = run_s / (done - start_epoch) * (cfg.epochs - done)
        history.append({"epoch": done, "loss": total_loss / seen, "val_acc": acc, "val_acc_flip": acc_tta, "epoch_s": epoch_s})
        improved = acc > best_acc
        best_acc = max(best_acc, acc)
        logger.info("epoch %d/%d loss %.4f val acc %.4f (flip-avg %.4f) best %.4f | %.0f s/epoch, ETA %.1f min%s",
                    done, cfg.epochs, total_loss / seen, acc, acc_tta, best_acc, epoch_s, eta_s / 60, " *" if improved else "")
        ckpt = {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "generator": gen.get_state(), "torch_rng": torch.get_rng_state(), "epoch": done, "best_acc": best_acc,
            "val_acc": acc, "history": history, "elapsed_s": elapsed, "mean": mean, "std": std,
            "classes": list(train_split.classes), "train": dataclasses.asdict(cfg), "net": dataclasses.asdict(net_config),
            "trained_on": f"{train_split.path.name} ({len(train_split)} faces)", "val_on": val_split.path.name,
            "init_from": (state or {}).get("init_from") or (str(init_from) if init is not None else None),
            "init_epochs": (state or {}).get("init_epochs") or (init["epoch"] if init is not None else 0),
            "teachers": [str(t) for t in teachers or []],
        }
        _save(last_path, ckpt)
        if improved:
            _save(best_path, ckpt)
    (out_dir / "history.json").write_text(json.dumps(history, indent=1))
    return {"best_acc": best_acc, "epochs_done": len(history), "epochs": cfg.epochs, "elapsed_s": elapsed}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m models.train", description=__doc__.splitlines()[0])
    p.add_argument("--train", type=Path, default=None, help=f"training split (default $MOODKIOSK_FER_DIR or ../shared/data/{TRAIN_FILE})")
    p.add_argument("--val", type=Path, default=None, help=f"validation split (default ../shared/data/{PUBLIC_TEST_FILE})")
    p.add_argument("--out", type=Path, default=Path("runs/expression"), help="folder for last.pt, best.pt, history.json")
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    p.add_argument("--lr", type=float, default=TrainConfig.lr)
    p.add_argument("--seed", type=int, default=TrainConfig.seed)
    p.add_argument("--threads", type=int, default=TrainConfig.threads, help="torch CPU threads")
    p.add_argument("--no-bf16", action="store_true", help="train in float32 even where the CPU has native bfloat16 (bf16 is used only there)")
    p.add_argument("--max-batches", type=int, default=0, help="cap batches per epoch (smoke runs)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt with its stored settings")
    p.add_argument("--init-from", type=Path, default=None, help="warm restart: start from this checkpoint's weights with a new schedule")
    p.add_argument("--distill-from", type=Path, nargs="+", default=None, metavar="CKPT",
                   help="teacher checkpoints: distil their flip-averaged ensemble into the new net")
    p.add_argument("--distill-weight", type=float, default=TrainConfig.distill_weight,
                   help="share of the teachers' probabilities in the training target")
    p.add_argument("--stem-stride", type=int, choices=(1, 2), default=NetConfig.stem_stride,
                   help="2: the first conv strides, so the net starts at half the input side (cheaper)")
    p.add_argument("--stop-after", type=int, default=None, help="stop this process after N epochs (resume later)")
    p.add_argument("--stages", type=parse_stages, default=NetConfig.stages,
                   help="conv widths per resolution, stages split by '/', convs by ',' (default '32/32,32/64,64/128,128/256,256', the shipped net)")
    return p.parse_args(argv)


def parse_stages(text: str) -> tuple[tuple[int, ...], ...]:
    """``"32/32,32/64,64"`` -> ``((32,), (32, 32), (64, 64))``; argparse turns a ValueError into a usage error."""
    stages = tuple(tuple(int(w) for w in stage.split(",")) for stage in text.split("/"))
    if not stages or any(not stage or min(stage) < 1 for stage in stages):
        raise ValueError(f"bad --stages {text!r}")
    return stages


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed, threads=args.threads,
                      bf16=not args.no_bf16, max_batches=args.max_batches, distill_weight=args.distill_weight)
    try:
        train_split = load_split(args.train or default_split_path(TRAIN_FILE))
        val_split = load_split(args.val or default_split_path(PUBLIC_TEST_FILE))
        result = train(cfg, train_split, val_split, args.out, resume=args.resume, stop_after=args.stop_after,
                       init_from=args.init_from, net_config=NetConfig(stages=args.stages, stem_stride=args.stem_stride),
                       teachers=args.distill_from)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    logger.info("done: best val acc %.4f in %.1f min", result["best_acc"], result["elapsed_s"] / 60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
