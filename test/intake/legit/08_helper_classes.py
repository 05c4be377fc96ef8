"""Helper classes: a token counter and a running loss tracker."""
from dataclasses import dataclass, field
from typing import List, Optional

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


class TokenCounter:
    def __init__(self):
        self._count = 0

    def add(self, batch: torch.Tensor) -> None:
        self._count += batch.numel()

    @property
    def value(self) -> int:
        return self._count


@dataclass
class LossTracker:
    history: List[float] = field(default_factory=list)
    last: Optional[torch.Tensor] = None

    def record(self, loss: torch.Tensor) -> None:
        self.last = loss.detach()
        self.history.append(float(self.last))


class Trainer:
    def __init__(self, model, optimizer, device):
        self.model = model
        self.optimizer = optimizer
        self.device = device

    def step(self, batch):
        batch = batch.to(self.device)
        logits = self.model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()
        return logits, loss


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    counter = TokenCounter()
    tracker = LossTracker()
    trainer = Trainer(model, optimizer, device)
    logits = None
    for _ in range(num_steps):
        batch = next(data_iterator)
        logits, loss = trainer.step(batch)
        counter.add(batch)
        tracker.record(loss)
    return InnerStepsResult(final_logits=logits.detach(), total_tokens=counter.value, final_loss=tracker.history[-1])
