"""The policy's small decoder-only transformer and the validator's reference loop. Random init from a
seed, no downloads.

The same code scales from the CI size (~100k parameters) to ~0.5-1B parameters on a GPU by changing the
policy's model section; nothing here depends on the size. The model records what each call of its
forward saw (input shape, autocast dtype, parameter dtype): the task's convention is whatever the
reference loop's calls recorded, and a submission's calls are compared with those.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import refs

MAX_RECORDED_CALLS = 256


class Block(nn.Module):
    def __init__(self, d_model, n_heads, d_ff):
        super().__init__()
        self.n_heads = n_heads
        self.ln1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)

    def forward(self, x):
        b, s, d = x.shape
        h = self.n_heads
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q = q.view(b, s, h, d // h).transpose(1, 2)
        k = k.view(b, s, h, d // h).transpose(1, 2)
        v = v.view(b, s, h, d // h).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(d // h)
        mask = torch.ones(s, s, dtype=torch.bool, device=x.device).triu(1)
        att = att.masked_fill(mask, float('-inf')).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, s, d)
        x = x + self.proj(y)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class CallLog:
    """What the model's forward saw: distinct (shape, input dtype, autocast, parameter dtype) and a count."""
    __slots__ = ('calls', 'seen', 'check')

    def __init__(self):
        self.calls = 0
        self.seen = []
        self.check = None  # the worker's backend check, run at every forward

    def record(self, entry):
        if self.check is not None:
            self.check('forward')
        self.calls += 1
        if entry not in self.seen and len(self.seen) < MAX_RECORDED_CALLS:
            self.seen.append(entry)


class TinyGPT(nn.Module):
    def __init__(self, vocab, d_model, n_heads, n_layers, d_ff, seq_len):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(torch.randn(seq_len, d_model) * 0.02)
        self.blocks = nn.ModuleList([Block(d_model, n_heads, d_ff) for _ in range(n_layers)])
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab, bias=False)
        self.call_log = CallLog()

    def forward(self, input_ids):
        self.call_log.record({
            'shape': list(input_ids.shape), 'dtype': str(input_ids.dtype).replace('torch.', ''),
            'autocast': refs.autocast_state(input_ids.device.type),
            'paramDtype': str(self.head.weight.dtype).replace('torch.', ''),
        })
        s = input_ids.shape[1]
        x = self.embed(input_ids) + self.pos[:s]
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln_f(x))


def build_model(cfg):
    """The model's modules, built once in the fork server (on the CPU: CUDA must not exist before a fork)."""
    return TinyGPT(cfg['vocab'], cfg['dModel'], cfg['nHeads'], cfg['nLayers'], cfg['dFF'], cfg['seqLen'])


def init_model(model, seed):
    """Every parameter initialised from `seed` (the run's init seed), in module order, on the CPU. The fork
    server does this once per run; every worker (reference and miner alike) starts from these weights."""
    model.train()
    torch.manual_seed(seed)
    with torch.no_grad():
        model.pos.copy_(torch.randn(model.pos.shape) * 0.02)
        for m in model.modules():
            if m is not model and hasattr(m, 'reset_parameters'):
                m.reset_parameters()
    for p in model.parameters():
        p.grad = None
    return model


def worker_model(model, device):
    """A worker's model: the fork server's initialised modules, on the device, with a fresh call log."""
    if device.type != 'cpu':  # the fork server's modules live on the CPU (no CUDA before a fork)
        model = model.to(device)
    model.call_log = CallLog()
    return model


class InnerStepsResult:
    __slots__ = ('final_logits', 'total_tokens', 'final_loss')

    def __init__(self, final_logits, total_tokens, final_loss):
        self.final_logits = final_logits
        self.total_tokens = total_tokens
        self.final_loss = final_loss


def reference_inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1, autocast_dtype=None):
    """The validator's own loop, the Crusades reference: a causal LM step on inputs batch[:, :-1] with
    labels batch[:, 1:], forward and loss under autocast when the hardware class asks for it (bf16 on
    GPU classes; the CPU class stays fp32)."""
    total_tokens = 0
    final_logits = final_loss = None
    dtype = getattr(torch, autocast_dtype) if autocast_dtype else None
    for _ in range(num_steps):
        batch = next(data_iterator).to(device, dtype=refs.long)
        inputs, labels = batch[:, :-1], batch[:, 1:]
        with refs.autocast(device_type=device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            logits = model(inputs)
            loss = refs.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        total_tokens += batch.numel()
        final_logits = logits.detach().float()
        final_loss = loss.item()
    return InnerStepsResult(final_logits, total_tokens, final_loss)


def warm_up(model, cfg, data, optimizer, device):
    """Runs one step of the reference loop on throwaway data (seed 0, nothing of any run) in the fork server,
    so what the CPU libraries set up at first use is set up once and inherited by every worker instead of
    being paid again inside each timed window. CPU only: CUDA must not be initialised before a fork. The
    weights it moves are initialised afterwards (init_model)."""
    if device.type != 'cpu':
        return
    model.call_log = CallLog()
    opt = torch.optim.AdamW(model.parameters(), lr=optimizer['lr'], betas=tuple(optimizer['betas']), eps=optimizer['eps'],
                            weight_decay=optimizer['weightDecay'])
    g = torch.Generator().manual_seed(0)
    batches = iter([torch.randint(0, cfg['vocab'], (data['batchSize'], cfg['seqLen']), generator=g)])
    reference_inner_steps(model, batches, opt, 1, device)
