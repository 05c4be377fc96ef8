"""Generators that prefetch batches, parameters handled by name (manual gradient reset, a local
dictionary of parameter groups for clipping), comprehension filters, and the optimizer passed through a
tuple to a step helper that only steps it."""
from dataclasses import dataclass, field
from typing import Dict, Iterator, List

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


@dataclass
class Config:
    clip: float = 1.0
    groups: Dict[str, List[str]] = field(default_factory=dict)


def prefetch(data_iterator, device, depth=2) -> Iterator[torch.Tensor]:
    queue = []
    for batch in data_iterator:
        queue.append(batch.to(device, non_blocking=True))
        if len(queue) >= depth:
            yield queue.pop(0)
    while queue:
        yield queue.pop(0)


def grouped_parameters(model):
    groups = {"decay": [], "no_decay": []}
    for name, p in model.named_parameters():
        key = "no_decay" if name.endswith("bias") or "norm" in name else "decay"
        groups[key].append(p)
    return groups


def reset_grads(model):
    for _, p in model.named_parameters():
        p.grad = None


def step_all(pair):
    model, optimizer = pair
    optimizer.step()
    reset_grads(model)


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    cfg = Config(clip=1.0)
    groups = grouped_parameters(model)
    names = [k for k in groups if k != "no_decay"]
    batches = prefetch(data_iterator, device)
    total = 0
    logits = loss = None
    for _ in range(num_steps):
        batch = next(batches)
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))
        loss.backward()
        for n in names:
            torch.nn.utils.clip_grad_norm_(groups[n], cfg.clip)
        step_all((model, optimizer))
        total += batch.numel()
    return InnerStepsResult(final_logits=logits.detach(), total_tokens=total, final_loss=loss.item())
