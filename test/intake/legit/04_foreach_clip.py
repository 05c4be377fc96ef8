from dataclasses import dataclass
import math

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


def clip_gradients(parameters, max_norm):
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    norms = torch._foreach_norm(grads)
    total = torch.linalg.vector_norm(torch.stack(norms))
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    torch._foreach_mul_(grads, scale)
    return total


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    params = [p for p in model.parameters() if p.requires_grad]
    seen = 0
    out = None
    for i in range(num_steps):
        x = next(data_iterator).to(device)
        out = model(x[:, :-1])
        loss = F.cross_entropy(out.view(-1, out.size(-1)), x[:, 1:].reshape(-1))
        loss.backward()
        clip_gradients(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        seen += x.numel()
    assert math.isfinite(loss.item())
    return InnerStepsResult(out.detach(), seen, loss.item())
