"""The Crusades reference loop as miners write it: inputs batch[:, :-1], labels batch[:, 1:], bf16
autocast on CUDA, the optimizer stepped through a small helper and a scheduler-free loop."""
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


def _autocast(device):
    kind = "cuda" if str(device).startswith("cuda") else "cpu"
    enabled = kind == "cuda"
    return torch.autocast(device_type=kind, dtype=torch.bfloat16, enabled=enabled)


def _train_step(model, optimizer, batch, device):
    batch = batch.to(device, non_blocking=True)
    input_ids = batch[:, :-1]
    labels = batch[:, 1:]
    with _autocast(device):
        logits = model(input_ids)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), labels.reshape(-1), ignore_index=-100)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return logits, loss, labels.numel()


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    model.train()
    total_tokens = 0
    logits = loss = None
    for step in range(num_steps):
        batch = next(data_iterator)
        logits, loss, n = _train_step(model, optimizer, batch, device)
        total_tokens += n + batch.size(0)
    return InnerStepsResult(final_logits=logits.detach().float(), total_tokens=total_tokens, final_loss=loss.item())
