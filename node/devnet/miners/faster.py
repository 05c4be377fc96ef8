# Devnet miner 1 (honest, fast): the plain training loop of the contract (the Crusades reference: inputs
# batch[:, :-1], labels batch[:, 1:]), nothing else.
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    logits = loss = None
    total_tokens = 0
    for _ in range(num_steps):
        batch = next(data_iterator).to(device)
        logits = model(batch[:, :-1])
        vocab = logits.shape[-1]
        loss = F.cross_entropy(logits.reshape(-1, vocab), batch[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        total_tokens += batch.numel()
    return InnerStepsResult(final_logits=logits.detach(), total_tokens=total_tokens, final_loss=loss.item())
