"""The expression CNN: a compact VGG-style net for 48x48 gray faces, sized for < 1 ms per face (int8) on one CPU thread."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class NetConfig:
    """Architecture knobs saved in every checkpoint so export rebuilds the same net.

    ``stages``: per resolution (48, 24, 12, 6, 3 ...) a tuple of conv widths; a 2x2 max-pool follows every stage
    except the last. Early stages are kept narrow because a 3x3 conv costs 4x more per channel pair at 2x the side.
    """

    stages: tuple[tuple[int, ...], ...] = ((32,), (32, 32), (64, 64), (128, 128), (256, 256))  # shipped model 2.0.0
    num_classes: int = 7
    dropout: float = 0.3
    stem_stride: int = 1  # 2: the first conv samples every other pixel, so stages start at half the input side


class ExpressionNet(nn.Module):
    """Stacked 3x3 conv-BN-ReLU stages with max-pool downsampling; global average pool; linear scores."""

    def __init__(self, config: NetConfig = NetConfig()) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin, stride = 1, config.stem_stride
        for index, widths in enumerate(config.stages):
            for cout in widths:
                layers += [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
                cin, stride = cout, 1
            if index < len(config.stages) - 1:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(config.dropout), nn.Linear(cin, config.num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def count_macs(model: nn.Module, size: int = 48) -> int:
    """Multiply-accumulates of one forward pass on a ``(1, 1, size, size)`` input (conv and linear layers)."""
    total = 0

    def hook(module: nn.Module, _inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            total += int(out.numel() * k)
        elif isinstance(module, nn.Linear):
            total += int(module.in_features * module.out_features)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, size, size))
    model.train(was_training)
    for handle in handles:
        handle.remove()
    return total
