"""
A minibatch training loop: steps, batches and epochs
====================================================

Real training rarely computes the gradient on the whole data set. It shuffles the
samples, cuts them into *batches*, and takes one optimizer *step* per batch: the gradient
of one batch is a noisy, cheap estimate of the full one. One pass over all the samples is
an *epoch*. This script trains a small network on scikit-learn's bundled handwritten digits
(no download) with ``DataLoader`` and ``torch.optim.SGD``, and
follows the loss on the training samples and on held-out samples the network never trains
on.

Requires: ``pip install torch matplotlib scikit-learn``
"""

# %%
# The data: 1797 digits of 8 x 8 pixels
# -------------------------------------
# The pixels (0 to 16) are scaled to [0, 1]. A fixed random permutation puts 20 % of the
# samples aside as the held-out set.

import matplotlib.pyplot as plt
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")
torch.manual_seed(0)

digits = load_digits()
images = torch.tensor(digits.data, dtype=torch.float32) / 16
labels = torch.tensor(digits.target)
order = torch.randperm(len(labels))
held_out, train = order[:360], order[360:]
positions = torch.arange(len(train))  # which sample each row is
train_set = TensorDataset(images[train], labels[train], positions)
print(
    f"{len(labels)} images of {images.shape[1]} pixels, 10 classes: "
    f"{len(train)} to train on, {len(held_out)} held out"
)

# %%
# Batches, steps and epochs
# -------------------------
# ``DataLoader(..., batch_size=32, shuffle=True)`` draws a new random order at the start of
# every epoch and yields the samples in batches of 32. The last batch holds what is left.
# Its ``generator`` makes the shuffling repeat from run to run.

BATCH, EPOCHS = 32, 8
loader = DataLoader(
    train_set,
    batch_size=BATCH,
    shuffle=True,
    generator=torch.Generator().manual_seed(0),
)
steps_per_epoch = len(loader)
last = len(train_set) - (steps_per_epoch - 1) * BATCH
print(
    f"batch size {BATCH}: {steps_per_epoch} steps per epoch "
    f"({steps_per_epoch - 1} batches of {BATCH} and a last one of {last})"
)
print(
    f"{EPOCHS} epochs = {EPOCHS * steps_per_epoch} steps; "
    f"each sample is used once per epoch, {EPOCHS} times in all"
)

# %%
# The loop
# --------
# One step per batch: forget the old gradient, compute the batch's loss, backpropagate,
# update. At the end of each epoch the loss of the whole training set and of the
# held-out set are measured without gradients.

model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)).to(
    device
)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
loss_fn = nn.CrossEntropyLoss()


def evaluate(rows):
    """Mean loss and accuracy of the model on the given rows of the data."""
    with torch.no_grad():
        logits = model(images[rows].to(device))
        target = labels[rows].to(device)
        return (
            loss_fn(logits, target).item(),
            (logits.argmax(dim=1) == target).float().mean().item(),
        )


batch_losses, train_curve, held_out_curve = [], [], []
each_once = True  # every epoch uses every training sample exactly once
print("epoch   step   train loss   held-out loss   held-out accuracy")
for epoch in range(1, EPOCHS + 1):
    seen = []
    for batch_images, batch_labels, batch_positions in loader:
        seen.append(batch_positions)  # one step per batch:
        optimizer.zero_grad()
        outputs = model(batch_images.to(device))
        loss = loss_fn(outputs, batch_labels.to(device))
        loss.backward()
        optimizer.step()
        batch_losses.append(loss.item())
    each_once &= torch.equal(torch.cat(seen).sort().values, positions)
    train_loss, _ = evaluate(train)
    held_out_loss, accuracy = evaluate(held_out)
    train_curve.append(train_loss)
    held_out_curve.append(held_out_loss)
    print(
        f"{epoch:5d} {epoch * steps_per_epoch:6d} {train_loss:12.3f} "
        f"{held_out_loss:15.3f} {accuracy:19.1%}"
    )
print(f"each epoch used every training sample exactly once: {each_once}")

# %%
# The loss of each batch is noisy; the epoch losses much less
# -----------------------------------------------------------
# The grey line is the loss of each batch at the moment it was used: it jumps from batch
# to batch because each batch is a different small sample. The dots are the losses of the
# whole training set and of the held-out set after each epoch. They are far steadier, but
# not smooth: the parameters at the end of an epoch come from its last few noisy steps, and
# the training-set loss goes up after some epochs (printed below the figure).

steps = torch.arange(1, len(batch_losses) + 1) / steps_per_epoch
epochs = range(1, EPOCHS + 1)
fig, ax = plt.subplots(figsize=(6.4, 4), layout="constrained")
ax.plot(
    steps, batch_losses, color="0.7", lw=0.8, label="loss of each batch"
)
ax.plot(epochs, train_curve, "o-", label="training set, end of epoch")
ax.plot(epochs, held_out_curve, "s-", label="held-out set, end of epoch")
ax.set(
    xlabel="epoch",
    ylabel="cross-entropy loss",
    yscale="log",
    title=f"SGD on the digits: batch {BATCH}, "
    f"{steps_per_epoch} steps an epoch",
)
ax.legend()
plt.show()

# %%
# The spread of the batch losses within the last epoch, against the epochs after which the
# training-set loss went up and by how much at most.

last_epoch = torch.tensor(batch_losses[-steps_per_epoch:])
print(
    f"batch losses in epoch {EPOCHS}: from {last_epoch.min():.3f} "
    f"to {last_epoch.max():.3f}"
)
changes = zip(epochs[1:], train_curve, train_curve[1:])
rises = {epoch: after - before for epoch, before, after in changes}
rises = {epoch: rise for epoch, rise in rises.items() if rise > 0}
print(
    f"training-set loss went up after epochs {list(rises)}, "
    f"by at most {max(rises.values()):.3f}"
)
