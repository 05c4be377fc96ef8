"""The policy's small decoder-only transformer. Random init from the seed, no downloads.

The same code scales from the CI size (~100k parameters) to ~1B parameters on a GPU by changing the
policy's model section; nothing here depends on the size.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


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


class TinyGPT(nn.Module):
    def __init__(self, vocab, d_model, n_heads, n_layers, d_ff, seq_len):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(torch.randn(seq_len, d_model) * 0.02)
        self.blocks = nn.ModuleList([Block(d_model, n_heads, d_ff) for _ in range(n_layers)])
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab, bias=False)

    def forward(self, input_ids):
        s = input_ids.shape[1]
        x = self.embed(input_ids) + self.pos[:s]
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln_f(x))


def build_model(cfg, seed, device):
    torch.manual_seed(seed)
    model = TinyGPT(cfg['vocab'], cfg['dModel'], cfg['nHeads'], cfg['nLayers'], cfg['dFF'], cfg['seqLen'])
    return model.to(device)


def make_batches(cfg, data, seed):
    """All batches of one pass, fixed by the seed: (numSteps, batch, seq) token ids."""
    g = torch.Generator().manual_seed(seed ^ 0x5EED)
    return torch.randint(0, cfg['vocab'], (data['numSteps'], data['batchSize'], cfg['seqLen']), generator=g)


def next_token_loss(logits, input_ids):
    v = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, v), input_ids[:, 1:].reshape(-1))
