"""torch.compile on a wrapper module and on a step function, gradient accumulation, the optimizer and
model handed to helpers and a compiled callable, getattr/hasattr with constant names."""
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


class LMWrapper(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, input_ids):
        return self.inner(input_ids)


def train_step(model, optimizer, batch, accum, do_step):
    with torch.autocast(device_type="cuda" if batch.is_cuda else "cpu", dtype=torch.bfloat16, enabled=batch.is_cuda):
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), batch[:, 1:].reshape(-1))
    (loss / accum).backward()
    if do_step:
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return logits, loss


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    wrapped = LMWrapper(model)
    runner = torch.compile(wrapped) if hasattr(torch, "compile") and getattr(model, "training", True) else wrapped
    step = torch.compile(train_step, dynamic=False) if device == "cuda" else train_step
    accum = 1
    total = 0
    logits = loss = None
    for i in range(num_steps):
        batch = next(data_iterator).to(device)
        logits, loss = step(runner, optimizer, batch, accum, (i + 1) % accum == 0)
        total += batch.numel()
    return InnerStepsResult(final_logits=logits.detach().float(), total_tokens=total, final_loss=float(loss.item()))
