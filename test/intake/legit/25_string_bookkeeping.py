"""Ordinary string handling: metric names built with join/format/f-strings, config keys lowered through
str.lower, a table of labels, split/strip of a spec string, and bytes decoded for a tag."""
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


SPEC = " lr=3e-4 ; warmup=0 ; clip=1.0 "
KEYS = ["Loss", "Tokens", "Grad_Norm"]


def _parse(spec):
    out = {}
    for part in spec.split(";"):
        key, _, value = part.strip().partition("=")
        out[str.lower(key)] = value
    return out


def _names(prefix):
    lower = str.lower
    return ["/".join([prefix, lower(k)]) for k in KEYS] + ["{}_{}".format(prefix, i) for i in range(3)]


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    cfg = _parse(SPEC)
    names = _names("train")
    tag = b"run-" + b"a1"
    label = tag.decode("ascii") + ":" + ",".join(sorted(cfg))
    metrics = {n: 0.0 for n in names}
    total = 0
    logits = loss = None
    for i in range(num_steps):
        batch = next(data_iterator).to(device)
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        total += batch.numel()
        metrics[names[0]] = loss.item()
        key = f"{label}/step{i:03d}"
        metrics[key] = float(total)
    return InnerStepsResult(final_logits=logits.detach(), total_tokens=total, final_loss=metrics[names[0]])
