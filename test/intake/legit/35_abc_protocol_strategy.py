"""Strategy objects behind an abstract base class, a registry dict of strategies by name, a
typing.Protocol, super() chains and __repr__."""
import abc
from dataclasses import dataclass
from typing import Dict, Protocol

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


class LossLike(Protocol):
    def __call__(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor: ...


class Strategy(abc.ABC):
    name = "base"

    def __init__(self, model, optimizer):
        self.model = model
        self.optimizer = optimizer

    @abc.abstractmethod
    def loss(self, logits, labels):
        raise NotImplementedError

    def step(self, batch):
        logits = self.model(batch[:, :-1])
        loss = self.loss(logits, batch[:, 1:])
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()
        return logits, loss

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, self.name)


class PlainCE(Strategy):
    name = "ce"

    def loss(self, logits, labels):
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1))


class FloatCE(PlainCE):
    name = "ce32"

    def loss(self, logits, labels):
        return super().loss(logits.float(), labels)


_REGISTRY: Dict[str, type] = {cls.name: cls for cls in (PlainCE, FloatCE)}


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    strategy = _REGISTRY["ce32"](model, optimizer)
    _ = repr(strategy)
    logits = loss = None
    tokens = 0
    for _ in range(num_steps):
        batch = next(data_iterator).to(device)
        logits, loss = strategy.step(batch)
        tokens += batch.numel()
    return InnerStepsResult(final_logits=logits.detach(), total_tokens=tokens, final_loss=loss.item())
