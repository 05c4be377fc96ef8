from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    device_type = "cuda" if str(device).startswith("cuda") else "cpu"
    amp_dtype = torch.bfloat16
    total_tokens = 0
    logits = None
    loss_value = 0.0
    for _ in range(num_steps):
        tokens = next(data_iterator).to(device)
        with torch.autocast(device_type=device_type, dtype=amp_dtype):
            logits = model(tokens[:, :-1])
            loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), tokens[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        total_tokens += tokens.numel()
        loss_value = loss.item()
    return InnerStepsResult(final_logits=logits.float().detach(), total_tokens=total_tokens, final_loss=loss_value)
