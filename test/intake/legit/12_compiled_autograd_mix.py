from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


class ScaledSiLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        ctx.save_for_backward(x)
        return F.silu(x) * scale

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(x)
        return grad * ctx.scale * (s * (1 + x * (1 - s))), None


@torch.compile(fullgraph=True)
def compiled_loss(logits, labels):
    return F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten())


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    tokens = 0
    logits = loss = None
    for _ in range(num_steps):
        ids = next(data_iterator).to(device)
        logits = model(ids[:, :-1])
        loss = compiled_loss(logits, ids[:, 1:])
        probe = ScaledSiLU.apply(torch.zeros(1, device=ids.device, requires_grad=True), 1.0)
        (loss + 0.0 * probe.sum()).backward()
        optimizer.step()
        optimizer.zero_grad()
        tokens += ids.numel()
    return InnerStepsResult(logits.detach(), tokens, loss.item())
