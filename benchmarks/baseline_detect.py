"""The plain training pipeline of paper 003, as the yardstick for `fakescope train`.

What the paper's scripts do: torchvision `ImageFolder`, PIL decode and `Resize((S, S))` of every
image in every epoch, `ToTensor` + ImageNet `Normalize`, a `DataLoader`, a torchvision network,
Adam, fp32. Nothing is cached and nothing is tuned for the processor.

    python benchmarks/baseline_detect.py --data DIR --model efficientnet_b0 --size 64 --seconds 45

`DIR` holds `Train/` and `Validation/`, each with `real/` and `fake/`. The network comes from the
fakescope registry so that both pipelines train the very same torchvision model (same head, same
initial weights for the same seed); only the pipeline around it differs.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from fakescope.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from fakescope.models.registry import build_detector, detector_loss, fake_probability


@dataclass
class BaselineResult:
    model: str
    size: int
    images: int
    train_seconds: float
    images_per_second: float
    val_accuracy: float


def image_folder(root: Path, size: int) -> datasets.ImageFolder:
    transform = transforms.Compose([
        transforms.Resize((size, size)),
        transforms.ToTensor(),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])
    folder = datasets.ImageFolder(str(root), transform=transform)
    # ImageFolder numbers classes alphabetically (fake=0, real=1); fakescope's labels are
    # real=0, fake=1, so the targets are mapped to keep both runs' accuracy comparable.
    fake = folder.class_to_idx["fake"]
    folder.target_transform = lambda target: int(target == fake)
    return folder


def evaluate(model: torch.nn.Module, loader: DataLoader) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in loader:
            predicted = (fake_probability(model(images)) >= 0.5).long()
            correct += int((predicted == labels).sum())
            total += len(labels)
    model.train()
    return correct / total


def train_baseline(
    data: Path, model_name: str, size: int, seconds: float | None, epochs: int | None,
    batch_size: int = 32, lr: float = 1e-3, seed: int = 0,
) -> BaselineResult:
    """Train for `seconds` of wall-clock time or `epochs` full epochs, then validate."""
    torch.manual_seed(seed)
    model = build_detector(model_name, pretrained="none")
    train_loader = DataLoader(image_folder(data / "Train", size), batch_size=batch_size,
                              shuffle=True, drop_last=True)
    val_loader = DataLoader(image_folder(data / "Validation", size), batch_size=2 * batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    images_seen, started, epoch = 0, time.perf_counter(), 0
    out_of_time = False
    while not out_of_time and (epochs is None or epoch < epochs):
        for images, labels in train_loader:
            loss = detector_loss(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            images_seen += len(labels)
            if seconds is not None and time.perf_counter() - started > seconds:
                out_of_time = True
                break
        epoch += 1
    train_seconds = time.perf_counter() - started
    return BaselineResult(
        model=model_name, size=size, images=images_seen, train_seconds=train_seconds,
        images_per_second=images_seen / train_seconds, val_accuracy=evaluate(model, val_loader),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", default="selfcnn")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=None, help="training time budget")
    parser.add_argument("--epochs", type=int, default=None, help="or: full epochs to train")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()
    if args.seconds is None and args.epochs is None:
        parser.error("give --seconds or --epochs")
    result = train_baseline(args.data, args.model, args.size, args.seconds, args.epochs,
                            args.batch_size, args.lr)
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    main()
