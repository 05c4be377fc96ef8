# expect: entrypoint
# An inner_steps defined only under the main guard never exists when the evaluator imports the file.
import torch
import torch.nn.functional as F

if __name__ == "__main__":
    def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
        batch = next(data_iterator).to(device)
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return logits.detach(), batch.numel(), loss.item()
