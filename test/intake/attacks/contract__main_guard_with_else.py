# expect: forbidden-import
# A "main guard" with an else branch runs its else when imported: it is reviewed like any other code.
import torch
import torch.nn.functional as F


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


if __name__ == "__main__":
    print("local")
else:
    import os
    os.environ["OMP_NUM_THREADS"] = "64"
