# torch.compile chosen by settings: a backend name held in a variable, tuning options, the model's own
# .compile() with a mode, torch.compile kept as a value and applied as a decorator.
from dataclasses import dataclass

import torch
import torch.nn.functional as F

BACKEND = "inductor"
USE_COMPILE = True


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


@torch.compile(dynamic=False)
def _flat(logits, labels):
    return logits.reshape(-1, logits.size(-1)).float(), labels.reshape(-1)


def _compiler():
    return torch.compile if USE_COMPILE else (lambda f, **kw: f)


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    if num_gpus > 1:
        model.compile(mode="reduce-overhead")
        step_model = model
    else:
        step_model = _compiler()(model, backend=BACKEND, options={"triton.cudagraphs": False, "max_autotune": True})
    tokens = 0
    logits = loss = None
    for _ in range(num_steps):
        batch = next(data_iterator).to(device, non_blocking=True)
        logits = step_model(batch[:, :-1])
        flat_logits, flat_labels = _flat(logits, batch[:, 1:])
        loss = F.cross_entropy(flat_logits, flat_labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += batch.numel()
    return InnerStepsResult(logits.detach(), tokens, loss.item())
