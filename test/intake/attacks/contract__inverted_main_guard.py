# expect: forbidden-import
# Only the exact `if __name__ == "__main__":` test marks code that never runs on import; `!=` runs it.
import torch
import torch.nn.functional as F

if __name__ != "__main__":
    import subprocess
    subprocess.run(["true"])


def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    logits = loss = None
    tokens = 0
    for _ in range(num_steps):
        batch = next(data_iterator).to(device)
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        tokens += batch.numel()
    return logits.detach(), tokens, loss.item()
