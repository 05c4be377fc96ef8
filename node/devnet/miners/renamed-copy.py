# My very own original training loop (definitely not miner 1's with the names changed).
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    out = err = None
    count = 0
    for _ in range(num_steps):
        ids = next(data_iterator).to(device)
        out = model(ids[:, :-1])
        width = out.shape[-1]
        err = F.cross_entropy(out.reshape(-1, width), ids[:, 1:].reshape(-1))
        err.backward()
        optimizer.step()
        optimizer.zero_grad()
        count += ids.numel()
    return InnerStepsResult(final_logits=out.detach(), total_tokens=count, final_loss=err.item())
