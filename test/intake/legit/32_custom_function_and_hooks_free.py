"""A custom autograd Function with ctx state, a fused cross-entropy chunking helper using torch.split,
torch.no_grad bookkeeping and enumerate/zip over chunks."""
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


class _ScaleGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None


def _chunked_ce(logits, labels, chunks=2):
    total = logits.new_zeros(())
    count = 0
    for i, (lc, yc) in enumerate(zip(torch.split(logits, logits.size(0) // chunks or 1), torch.split(labels, labels.size(0) // chunks or 1))):
        total = total + F.cross_entropy(lc.reshape(-1, lc.size(-1)), yc.reshape(-1), reduction="sum")
        count += yc.numel()
    return total / max(count, 1)


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    logits = loss = None
    tokens = 0
    for _ in range(num_steps):
        batch = next(data_iterator).to(device)
        x, y = batch[:, :-1], batch[:, 1:]
        logits = model(x)
        loss = _chunked_ce(_ScaleGrad.apply(logits, 1.0), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            tokens += x.numel() + x.size(0)
    return InnerStepsResult(final_logits=logits.detach(), total_tokens=tokens, final_loss=loss.item())
