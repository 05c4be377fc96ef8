"""Config dataclass with defaults and a frozen copy, GradScaler on CUDA only, autocast picked by device
type, gradient clipping via torch.nn.utils, a running mean in a deque."""
import collections
import contextlib
import dataclasses
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch.nn.utils import clip_grad_norm_


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


@dataclass(frozen=True)
class TrainConfig:
    max_norm: float = 1.0
    use_amp: bool = True
    amp_dtype: torch.dtype = torch.bfloat16
    window: int = 4
    tags: tuple = field(default_factory=tuple)


def _amp(cfg: TrainConfig, device):
    kind = torch.device(device).type
    if cfg.use_amp and kind == "cuda":
        return torch.autocast(device_type=kind, dtype=cfg.amp_dtype)
    return contextlib.nullcontext()


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    cfg = dataclasses.replace(TrainConfig(), window=3)
    scaler = torch.cuda.amp.GradScaler(enabled=False)
    recent = collections.deque(maxlen=cfg.window)
    logits = loss = None
    tokens = 0
    for _ in range(num_steps):
        batch = next(data_iterator).to(device, non_blocking=True)
        with _amp(cfg, device):
            logits = model(batch[:, :-1])
            loss = F.cross_entropy(logits.flatten(0, 1).float(), batch[:, 1:].flatten())
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        clip_grad_norm_(model.parameters(), cfg.max_norm)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        recent.append(loss.detach())
        tokens += batch[:, :-1].numel() + batch.shape[0]
    mean_recent = torch.stack(list(recent)).mean().item()
    return InnerStepsResult(final_logits=logits.detach().float(), total_tokens=tokens, final_loss=loss.item() if mean_recent else 0.0)
