# Devnet miner 1 (honest, fast): the plain training loop of the contract, nothing else.
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
        input_ids = next(data_iterator).to(device)
        logits = model(input_ids)
        vocab = logits.shape[-1]
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, vocab), input_ids[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        total_tokens += input_ids.numel()
    return InnerStepsResult(final_logits=logits.detach(), total_tokens=total_tokens, final_loss=loss.item())
