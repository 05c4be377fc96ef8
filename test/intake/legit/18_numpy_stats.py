from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float

import numpy as np


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    losses = np.zeros(num_steps, dtype=np.float64)
    tokens = 0
    logits = None
    for i in range(num_steps):
        batch = next(data_iterator).to(device)
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses[i] = loss.item()
        tokens += int(batch.shape[0] * batch.shape[1])
    return InnerStepsResult(final_logits=logits.detach(), total_tokens=tokens, final_loss=float(losses[-1]))
