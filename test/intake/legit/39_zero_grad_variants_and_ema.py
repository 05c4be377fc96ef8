"""EMA of the weights kept in a helper (torch.no_grad, lerp_), parameter groups built by the miner's
own code for logging only (never touching the optimizer), and an inner function with default args."""
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


class EMA:
    def __init__(self, model, decay=0.99):
        self.decay = decay
        self._shadow = {n: p.detach().clone() for n, p in model.named_parameters()}

    @torch.no_grad()
    def update(self, model):
        for n, p in model.named_parameters():
            self._shadow[n].lerp_(p.detach(), 1.0 - self.decay)


def _groups(model):
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if p.ndim < 2 else decay).append(n)
    return {"decay": decay, "no_decay": no_decay}


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    ema = EMA(model)
    groups = _groups(model)
    assert sum(len(v) for v in groups.values()) > 0

    def one(batch, clip=1.0, smoothing=0.0):
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1), label_smoothing=smoothing)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return logits, loss

    logits = loss = None
    tokens = 0
    for _ in range(num_steps):
        batch = next(data_iterator).to(device)
        logits, loss = one(batch)
        ema.update(model)
        tokens += batch.numel()
    return InnerStepsResult(final_logits=logits.detach(), total_tokens=tokens, final_loss=loss.item())
