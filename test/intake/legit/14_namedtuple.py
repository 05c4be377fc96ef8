from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float

from typing import NamedTuple


class StepOutput(NamedTuple):
    logits: torch.Tensor
    loss: torch.Tensor
    tokens: int


def train_step(model, optimizer, batch) -> StepOutput:
    logits = model(batch[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return StepOutput(logits, loss, batch.numel())


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    outputs = [train_step(model, optimizer, next(data_iterator).to(device)) for _ in range(num_steps)]
    last = outputs[-1]
    return InnerStepsResult(last.logits.detach(), sum(o.tokens for o in outputs), last.loss.item())
