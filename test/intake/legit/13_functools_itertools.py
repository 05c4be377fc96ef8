from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float

import functools
import itertools


def _step(model, optimizer, batch, loss_fn):
    logits = model(batch[:, :-1])
    loss = loss_fn(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return logits, loss


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    loss_fn = functools.partial(F.cross_entropy, ignore_index=-100)
    total = 0
    logits = loss = None
    for batch in itertools.islice(data_iterator, num_steps):
        batch = batch.to(device)
        logits, loss = _step(model, optimizer, batch, loss_fn)
        total += batch.numel()
    return InnerStepsResult(final_logits=logits.detach(), total_tokens=total, final_loss=loss.item())
