"""The plain DCGAN recipe, as a speed and loss baseline for `fakescope gan train`.

Follows pytorch/examples `dcgan/main.py` (and papers 000/001): torchvision ImageFolder, PIL
decode + Resize + CenterCrop + ToTensor + Normalize on every step in DataLoader workers, D with a
Sigmoid and BCELoss, D on a real then a fake batch, then G, Adam(2e-4, betas (0.5, 0.999)).
The networks are paper 000's: Tables IV/V at 64x64, Tables I/II at 128x128 (same parameter
counts as fakescope's). Self-contained on purpose: it imports nothing from fakescope.

    python benchmarks/baseline_dcgan.py --data FOLDER --resolution 64 --epochs 1 --out r.json

FOLDER must hold one class subfolder (ImageFolder), e.g. `faces/real/*.jpg`. Writes a JSON with
images/s, CPU time per image (this process and its DataLoader workers) and loss statistics.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path

import torch
import torchvision.datasets as dset
import torchvision.transforms as transforms
from torch import nn


def widths(resolution: int) -> list[int]:
    """Hidden widths from the image side to 4x4: 512 next to 4x4, halving (paper 000)."""
    n = {64: 4, 128: 5}[resolution]
    return [512 >> (n - 1 - i) for i in range(n)]


class Generator(nn.Module):
    def __init__(self, resolution: int, nz: int = 100) -> None:
        super().__init__()
        w = widths(resolution)[::-1]
        layers: list[nn.Module] = []
        cin = nz
        for i, cout in enumerate(w):
            stride, pad = (1, 0) if i == 0 else (2, 1)
            layers += [nn.ConvTranspose2d(cin, cout, 4, stride, pad, bias=False),
                       nn.BatchNorm2d(cout), nn.ReLU(True)]
            cin = cout
        layers += [nn.ConvTranspose2d(cin, 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class Discriminator(nn.Module):
    def __init__(self, resolution: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for i, cout in enumerate(widths(resolution)):
            layers.append(nn.Conv2d(cin, cout, 4, 2, 1, bias=False))
            if i > 0:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            cin = cout
        layers += [nn.Conv2d(cin, 1, 4, 1, 0, bias=False), nn.Sigmoid()]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1, 1).squeeze(1)


def weights_init(m: nn.Module) -> None:
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class BaselineRecipe:
    """The reference loop's data loader and one training iteration, as separate pieces."""

    def __init__(self, data: str, resolution: int, batch_size: int = 64, workers: int = 2,
                 seed: int = 0) -> None:
        torch.manual_seed(seed)
        dataset = dset.ImageFolder(root=data, transform=transforms.Compose([
            transforms.Resize(resolution), transforms.CenterCrop(resolution),
            transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        ]))
        self.loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True,
                                                  num_workers=workers)
        self.net_g, self.net_d = Generator(resolution), Discriminator(resolution)
        self.net_g.apply(weights_init)
        self.net_d.apply(weights_init)
        self.criterion = nn.BCELoss()
        self.opt_d = torch.optim.Adam(self.net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_g = torch.optim.Adam(self.net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def step(self, real: torch.Tensor) -> dict[str, float]:
        net_d, net_g, criterion = self.net_d, self.net_g, self.criterion
        b = real.size(0)
        net_d.zero_grad()
        label = torch.full((b,), 1.0)
        output = net_d(real)
        err_d_real = criterion(output, label)
        err_d_real.backward()
        d_x = output.mean().item()
        fake = net_g(torch.randn(b, 100, 1, 1))
        label.fill_(0.0)
        output = net_d(fake.detach())
        err_d_fake = criterion(output, label)
        err_d_fake.backward()
        d_g_z1 = output.mean().item()
        err_d = err_d_real + err_d_fake
        self.opt_d.step()
        net_g.zero_grad()
        label.fill_(1.0)
        output = net_d(fake)
        err_g = criterion(output, label)
        err_g.backward()
        self.opt_g.step()
        return {"loss_d": err_d.item(), "loss_g": err_g.item(), "d_real": d_x, "d_fake": d_g_z1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--resolution", type=int, default=64, choices=[64, 128])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers (example: 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="JSON file for the results")
    args = parser.parse_args()

    recipe = BaselineRecipe(args.data, args.resolution, args.batch_size, args.workers, args.seed)
    history: dict[str, list[float]] = {"loss_d": [], "loss_g": [], "d_real": [], "d_fake": []}
    images, wall, cpu = 0, 0.0, 0.0
    for _ in range(args.epochs):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        start_children = children_cpu()
        for real, _ in recipe.loader:
            for key, value in recipe.step(real).items():
                history[key].append(value)
            images += real.size(0)
        # The epoch's workers have exited and been joined: their CPU time is now counted.
        wall += time.perf_counter() - start_wall
        cpu += time.process_time() - start_cpu + children_cpu() - start_children
    net_g, net_d, size = recipe.net_g, recipe.net_d, args.resolution

    result = {
        "recipe": "baseline (ImageFolder + PIL per step)",
        "resolution": size, "batch_size": args.batch_size, "workers": args.workers,
        "images": images, "seconds": round(wall, 3), "images_per_s": round(images / wall, 2),
        "cpu_ms_per_image": round(1000 * cpu / images, 2),
        "parameters": {"G": sum(p.numel() for p in net_g.parameters()),
                       "D": sum(p.numel() for p in net_d.parameters())},
        "losses": {k: {"mean": round(statistics.fmean(v), 4), "std": round(statistics.pstdev(v), 4)}
                   for k, v in history.items()},
    }
    text = json.dumps(result, indent=2)
    if args.out:
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
