"""A wider residual CNN for Fashion-MNIST whose convolutions dominate its run time: the fixture on which
static int8 must be >= 2x faster than float at batch 1, one thread (compute-bound like real edge CNNs).

Run from the repository root with Debian's python: /usr/bin/python3 scripts/make-cnn-wide.py
Writes test/fixtures/models/cnn-wide.onnx. Trains on 30k training images for 3 epochs (about 6 minutes
on 2 cores); deterministic (fixed seeds).
"""
import gzip
import os

import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(0)
np.random.seed(0)
torch.set_num_threads(2)
DATA = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
OUT = "test/fixtures/models/cnn-wide.onnx"


def idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def prep(x):
    return ((x.astype(np.float32) / 255.0 - 0.2860) / 0.3530)[:, None]


def block(c):
    return nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                         nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))


class Res(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.f = block(c)

    def forward(self, x):
        return torch.relu(x + self.f(x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
            Res(64),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1, bias=False), nn.BatchNorm2d(128), nn.ReLU(),
            Res(128),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(128, 10)

    def forward(self, x):
        return self.classifier(self.features(x))


xtr, ytr = prep(idx("train-images-idx3-ubyte.gz")), idx("train-labels-idx1-ubyte.gz").astype(np.int64)
xte, yte = prep(idx("t10k-images-idx3-ubyte.gz")), idx("t10k-labels-idx1-ubyte.gz").astype(np.int64)
n = 30000
xtr, ytr = torch.from_numpy(xtr[:n]), torch.from_numpy(ytr[:n])
model = Net()
opt = torch.optim.Adam(model.parameters(), 1e-3)
for epoch in range(3):
    model.train()
    perm = torch.randperm(n)
    for i in range(0, n, 128):
        b = perm[i : i + 128]
        loss = nn.functional.cross_entropy(model(xtr[b]), ytr[b])
        opt.zero_grad()
        loss.backward()
        opt.step()
model.eval()
with torch.no_grad():
    pred = torch.cat([model(torch.from_numpy(xte[i : i + 500])).argmax(1) for i in range(0, 10000, 500)])
print(f"test accuracy {(pred.numpy() == yte).mean():.4f}")
torch.onnx.export(model, torch.zeros(1, 1, 28, 28), OUT, input_names=["input"], output_names=["logits"],
                  dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13, do_constant_folding=True)
print(f"wrote {OUT}: {os.path.getsize(OUT)} bytes, {sum(p.numel() for p in model.parameters())} params")
