from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


def _forward(model, inputs):
    return model(inputs)


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    total = 0
    logits, loss = None, None
    for _ in range(num_steps):
        ids = next(data_iterator).to(device)
        logits = checkpoint(_forward, model, ids[:, :-1], use_reentrant=False)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), ids[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        total += ids.numel()
    return InnerStepsResult(final_logits=logits.detach(), total_tokens=total, final_loss=loss.item())
