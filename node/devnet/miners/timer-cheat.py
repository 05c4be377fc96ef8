"""Devnet miner 3 (cheat): stops the clock the evaluator reads, to look faster than it is."""
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class InnerStepsResult:
    final_logits: torch.Tensor
    total_tokens: int
    final_loss: float


def _next_token_loss(model, tokens):
    scores = model(tokens)
    flat = scores[:, :-1].flatten(0, 1)
    return scores, F.cross_entropy(flat, tokens[:, 1:].flatten())


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    frozen = time.perf_counter()
    time.perf_counter = lambda: frozen
    history = []
    tokens_done = 0
    step = 0
    while step < num_steps:
        tokens = next(data_iterator).to(device)
        scores, value = _next_token_loss(model, tokens)
        value.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens_done = tokens_done + tokens.shape[0] * tokens.shape[1]
        history.append((scores, value))
        step += 1
    last_scores, last_value = history[-1]
    return InnerStepsResult(final_logits=last_scores.detach(), total_tokens=tokens_done, final_loss=float(last_value))
