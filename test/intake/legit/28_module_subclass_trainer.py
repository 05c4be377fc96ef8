"""An nn.Module wrapper with private buffers, string annotations, typing helpers, a jit-scripted
activation, checkpointing and a cosine schedule computed with math."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


@torch.jit.script
def _gelu_fast(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1.0 + torch.tanh(0.7978845608 * (x + 0.044715 * x * x * x)))


class _LossHead(nn.Module):
    def __init__(self, ignore_index: int = -100) -> None:
        super().__init__()
        self._ignore = ignore_index
        self.register_buffer("_scale", torch.ones(()), persistent=False)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        flat = logits.reshape(-1, logits.size(-1)).float()
        return F.cross_entropy(flat, labels.reshape(-1), ignore_index=self._ignore) * self._scale


def _lr_factor(step: int, total: int, warmup: int = 2) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def _split(batch: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    return batch[:, :-1], batch[:, 1:]


def inner_steps(model: nn.Module, data_iterator: Iterator[torch.Tensor], optimizer, num_steps: int, device: "torch.device",
                num_gpus: int = 1) -> "InnerStepsResult":
    head = _LossHead().to(device)
    logits: Optional[torch.Tensor] = None
    loss: Optional[torch.Tensor] = None
    tokens = 0
    model.train()
    for step in range(num_steps):
        inputs, labels = _split(next(data_iterator).to(device))
        _ = _lr_factor(step, num_steps)
        logits = model(inputs)
        loss = head(logits, labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += inputs.numel() + inputs.size(0)
    assert logits is not None and loss is not None
    return InnerStepsResult(final_logits=logits.detach().float(), total_tokens=tokens, final_loss=float(loss.item()))
