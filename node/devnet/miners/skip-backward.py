"""Devnet miner 4 (cheat): never runs the backward pass, so every step is a cheap forward."""
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


class ForwardOnly:
    """Looks like training; the gradients never exist."""

    def __init__(self, network, updater):
        self.network = network
        self.updater = updater

    def __call__(self, chunk: torch.Tensor):
        predicted = self.network(chunk[:, :-1])
        target = chunk[:, 1:].contiguous().view(-1)
        penalty = F.cross_entropy(predicted.contiguous().view(-1, predicted.size(-1)), target)
        self.updater.step()
        self.updater.zero_grad()
        return predicted, penalty


def inner_steps(model, data_iterator: Iterator[torch.Tensor], optimizer, num_steps, device, num_gpus=1):
    runner = ForwardOnly(model, optimizer)
    results = [runner(next(data_iterator).to(device)) for _ in range(num_steps)]
    predicted, penalty = results[-1]
    total = sum(int(p.size(0)) * int(p.size(1)) for p, _ in results)
    return InnerStepsResult(final_logits=predicted.detach(), total_tokens=total, final_loss=penalty.item())
