"""The PyTorch DCGAN example's training loop (pytorch/examples `dcgan/main.py`), the GAN baseline.

What papers 000 and 001 run: D with a final Sigmoid and `BCELoss`, D learning on a real batch
then on a fake one, then G, Adam(2e-4, betas (0.5, 0.999)), fp32, contiguous layout, no fused
optimizer. The networks are paper 000's (Tables IV/V at 64x64, I/II at 128x128), built from the
same widths as `fakescope.models.dcgan`, so both sides train equal parameter counts. The images
come from `baselines.imagefolder_loader` (PIL decode and resize on every step).
"""

from __future__ import annotations

import torch
from torch import nn

from fakescope.models.dcgan import hidden_widths

Z_DIM = 100


class Generator(nn.Module):
    def __init__(self, resolution: int, base_width: int | None = None) -> None:
        super().__init__()
        widths = hidden_widths(resolution, base_width)[::-1]  # 4x4 side first
        layers: list[nn.Module] = []
        cin = Z_DIM
        for i, cout in enumerate(widths):
            stride, pad = (1, 0) if i == 0 else (2, 1)  # z (1x1) -> 4x4, then doubling
            layers += [nn.ConvTranspose2d(cin, cout, 4, stride, pad, bias=False),
                       nn.BatchNorm2d(cout), nn.ReLU(True)]
            cin = cout
        layers += [nn.ConvTranspose2d(cin, 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class Discriminator(nn.Module):
    def __init__(self, resolution: int, base_width: int | None = None) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for i, cout in enumerate(hidden_widths(resolution, base_width)):  # image side first
            layers.append(nn.Conv2d(cin, cout, 4, 2, 1, bias=False))
            if i > 0:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            cin = cout
        layers += [nn.Conv2d(cin, 1, 4, 1, 0, bias=False), nn.Sigmoid()]  # 4x4 -> 1x1
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1, 1).squeeze(1)


def weights_init(m: nn.Module) -> None:
    """The example's initialisation: convolutions N(0, 0.02), BatchNorm weights N(1, 0.02)."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.constant_(m.bias, 0)


class DcganExample:
    """The example's networks, loss and optimizers, and one training iteration."""

    def __init__(
        self, resolution: int, base_width: int | None = None, device: str | torch.device = "cpu",
        seed: int = 0,
    ) -> None:  # fmt: skip
        torch.manual_seed(seed)
        self.device = torch.device(device)
        self.net_g = Generator(resolution, base_width).to(self.device)
        self.net_d = Discriminator(resolution, base_width).to(self.device)
        self.net_g.apply(weights_init)
        self.net_d.apply(weights_init)
        self.criterion = nn.BCELoss()
        self.opt_d = torch.optim.Adam(self.net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_g = torch.optim.Adam(self.net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def step(self, real: torch.Tensor) -> dict[str, float]:
        """One iteration on a batch of real images scaled to [-1, 1]."""
        net_d, net_g, criterion = self.net_d, self.net_g, self.criterion
        real = real.to(self.device)
        b = real.size(0)
        net_d.zero_grad()
        label = torch.full((b,), 1.0, device=self.device)
        output = net_d(real)
        err_d_real = criterion(output, label)
        err_d_real.backward()
        d_x = output.mean().item()
        fake = net_g(torch.randn(b, Z_DIM, 1, 1, device=self.device))
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
