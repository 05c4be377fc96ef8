from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    use_cuda = torch.cuda.is_available() and str(device).startswith("cuda")
    scaler = torch.cuda.amp.GradScaler(enabled=use_cuda)
    n_tokens = 0
    final_logits = None
    final_loss = None
    for _ in range(num_steps):
        batch = next(data_iterator).to(device)
        with torch.autocast(device_type="cuda" if use_cuda else "cpu", dtype=torch.float16 if use_cuda else torch.bfloat16):
            logits = model(batch[:, :-1])
            loss = F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        n_tokens += batch.numel()
        final_logits, final_loss = logits, loss
    return InnerStepsResult(final_logits.detach().float(), n_tokens, float(final_loss))
