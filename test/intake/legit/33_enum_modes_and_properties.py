"""Enum-driven precision modes, a property-based trainer, classmethod constructors, typing.NamedTuple
records and an f-string log line with nested format specs."""
import contextlib
import enum
from typing import NamedTuple

import torch
import torch.nn.functional as F


class InnerStepsResult(NamedTuple):
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


class Precision(enum.Enum):
    FP32 = "fp32"
    BF16 = "bf16"

    @classmethod
    def for_device(cls, device):
        return cls.BF16 if str(device).startswith("cuda") else cls.FP32

    @property
    def dtype(self):
        return torch.bfloat16 if self is Precision.BF16 else torch.float32


class Trainer:
    @classmethod
    def create(cls, model, optimizer, device):
        return cls(model, optimizer, device, Precision.for_device(device))

    def __init__(self, model, optimizer, device, precision):
        self.model, self.optimizer, self.device, self.precision = model, optimizer, device, precision
        self._steps = 0
        self._tokens = 0

    @property
    def steps(self):
        return self._steps

    @property
    def tokens(self):
        return self._tokens

    def run(self, batch):
        batch = batch.to(self.device)
        kind = "cuda" if str(self.device).startswith("cuda") else "cpu"
        amp = torch.autocast(kind, dtype=self.precision.dtype) if self.precision is Precision.BF16 else contextlib.nullcontext()
        with amp:
            logits = self.model(batch[:, :-1])
            loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()
        self._steps += 1
        self._tokens += batch.numel()
        width = 8
        _line = f"step {self._steps:>{width}d} loss {loss.item():.{4}f}"
        return logits, loss


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    t = Trainer.create(model, optimizer, device)
    logits = loss = None
    while t.steps < num_steps:
        logits, loss = t.run(next(data_iterator))
    return InnerStepsResult(logits.detach().float(), t.tokens, loss.item())
