"""Gradient accumulation over micro-batches from a generator, a closure-based loss with nonlocal
counters, functools.partial for the loss and itertools.count."""
import functools
import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


def _micro(batch, parts):
    size = max(1, batch.size(0) // parts)
    for start in range(0, batch.size(0), size):
        yield batch[start:start + size]


def _make_loss():
    calls = 0

    def loss_fn(logits, labels, label_smoothing=0.0):
        nonlocal calls
        calls += 1
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1), label_smoothing=label_smoothing)

    def count():
        return calls
    return loss_fn, count


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    loss_fn, count = _make_loss()
    ce = functools.partial(loss_fn, label_smoothing=0.0)
    logits = None
    last = 0.0
    tokens = 0
    for step in itertools.islice(itertools.count(), num_steps):
        batch = next(data_iterator).to(device)
        parts = list(_micro(batch, 2))
        for mb in parts:
            logits = model(mb[:, :-1])
            loss = ce(logits, mb[:, 1:]) / len(parts)
            loss.backward()
            last = loss.item() * len(parts)
            tokens += mb[:, :-1].numel() + mb.size(0)
        optimizer.step()
        optimizer.zero_grad()
    assert count() >= num_steps
    return InnerStepsResult(final_logits=model(batch[:, :-1]).detach() if logits is None else logits.detach(), total_tokens=tokens, final_loss=last)
