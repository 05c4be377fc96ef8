"""Bookkeeping strings: a metrics dict keyed by built names, str.format with positional fields and
format specs, a run tag from '-'.join, upper/lower and dict.get with defaults, slicing of names, a phase
named "train" or "eval"."""
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


def _tag(parts):
    return "-".join(p.lower() for p in parts)[:32]


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    metrics = {}
    tag = _tag(["Run", "LM", str(num_steps)])
    phase = "train" if model.training else "eval"
    metrics["phase"] = phase
    logits = loss = None
    tokens = 0
    for step in range(num_steps):
        batch = next(data_iterator).to(device)
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        key = "{}/loss_{:03d}".format(tag, step)
        metrics[key] = loss.item()
        metrics["best"] = min(metrics.get("best", float("inf")), loss.item())
        tokens += batch.numel()
    summary = ";".join("%s=%.2f" % (k.upper()[-8:], v) for k, v in sorted(metrics.items())[:3] if k != "phase")
    summary += " {:.3f} {:>8}".format(metrics["best"], phase)
    assert summary
    return InnerStepsResult(final_logits=logits.detach(), total_tokens=tokens, final_loss=metrics[key])
