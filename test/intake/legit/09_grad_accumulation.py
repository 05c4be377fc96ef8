from dataclasses import dataclass

import torch
import torch.nn.functional as F

MICRO_BATCHES = 2


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    total_tokens = 0
    logits = None
    loss_sum = 0.0
    for step in range(num_steps):
        batch = next(data_iterator).to(device)
        chunks = batch.chunk(MICRO_BATCHES, dim=0)
        loss_sum = 0.0
        for chunk in chunks:
            logits = model(chunk[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), chunk[:, 1:].reshape(-1)) / len(chunks)
            loss.backward()
            loss_sum += loss.item()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        total_tokens += batch.numel()
    return InnerStepsResult(final_logits=logits.detach(), total_tokens=total_tokens, final_loss=loss_sum)
