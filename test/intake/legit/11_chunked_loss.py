from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


def chunked_cross_entropy(logits, labels, chunk_size=4096):
    flat_logits = logits.reshape(-1, logits.size(-1))
    flat_labels = labels.reshape(-1)
    total = flat_logits.new_zeros((), dtype=torch.float32)
    for start in range(0, flat_labels.numel(), chunk_size):
        end = start + chunk_size
        total = total + F.cross_entropy(flat_logits[start:end].float(), flat_labels[start:end], reduction="sum")
    return total / flat_labels.numel()


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    count = 0
    logits = loss = None
    for _ in range(num_steps):
        ids = next(data_iterator).to(device)
        logits = model(ids[:, :-1])
        loss = chunked_cross_entropy(logits, ids[:, 1:])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        count += ids.numel()
    return InnerStepsResult(final_logits=logits.detach(), total_tokens=count, final_loss=loss.item())
