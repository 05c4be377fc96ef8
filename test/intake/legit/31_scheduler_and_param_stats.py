"""Per-parameter statistics over named_parameters, a warmup factor from a dict.get lookup, a string
report built with join and % formatting, and numpy for a percentile."""
import math

import numpy as np
import torch
import torch.nn.functional as F

from dataclasses import dataclass


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


_WARMUP = {"linear": 2, "none": 0}


def _grad_norms(model):
    out = {}
    for name, p in model.named_parameters():
        if p.grad is not None:
            out[name] = p.grad.detach().norm().item()
    return out


def _report(norms):
    keys = sorted(norms)[:3]
    parts = ["%s=%.3f" % (k, norms[k]) for k in keys]
    return ", ".join(parts) + " | max=%s" % max(norms.values(), default=0.0)


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    warm = _WARMUP.get("linear", 0)
    losses = []
    logits = loss = None
    tokens = 0
    for step in range(num_steps):
        batch = next(data_iterator).to(device)
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), batch[:, 1:].contiguous().view(-1))
        loss.backward()
        if step < warm:
            _ = _report(_grad_norms(model))
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
        tokens += int(batch.numel())
    p90 = float(np.percentile(np.asarray(losses), 90)) if losses else math.nan
    assert not math.isnan(p90)
    return InnerStepsResult(final_logits=logits.detach(), total_tokens=tokens, final_loss=losses[-1])
