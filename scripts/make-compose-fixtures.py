#!/usr/bin/env python3
"""Build the two Fashion-MNIST fixtures for the compression benches (composition and search).

Writes into test/fixtures/models/:
  lenet-300-100.onnx  trained MLP of LeNet-300-100 shape: Flatten -> Gemm 784x300 -> Relu ->
                      Gemm 300x100 -> Relu -> Gemm 100x10
  vgg-cnn.onnx        trained small VGG-style CNN: 2 blocks of [Conv3x3-BN-ReLU x2, MaxPool]
                      (32, 64 channels) -> Flatten -> Gemm 3136x256 -> Relu -> Gemm 256x10,
                      BatchNorm folded into the Convs at export

Both have input `input` float32 [batch,1,28,28] (dynamic `batch`) and output `logits`
[batch,10], opset 13, preprocessing (uint8/255 - 0.2860)/0.3530, like the fixtures of
scripts/make-fixtures.py (which this script does not touch).

Run from the repository root with Debian's python (needs torch, numpy, onnx):
  /usr/bin/python3 scripts/make-compose-fixtures.py

Optional environment variables:
  FASHION_MNIST_DIR  where the gzipped IDX files are (default /usr/share/datasets/fashion-mnist)
  ONLY               comma-separated fixture names to build (lenet-300-100, vgg-cnn)
  SKIP_ORT=1         skip the ONNX Runtime (Node) check
  TORCH_THREADS      torch intra-op threads (default 1; the committed files used 1: as in
                     make-fixtures.py, 2 OpenMP threads on a busy 2-core machine train slower,
                     and the weights depend on the thread count)
  MAX_STEPS          cap the training steps per epoch (smoke tests only)

Every model is checked with onnx.checker, then loaded in ONNX Runtime through Node
(node_modules/onnxruntime-node): outputs are compared with PyTorch on random inputs at batch
1 and 5, and the model is scored on the full 10k t10k test set in ONNX Runtime; the script
fails if that accuracy differs from the PyTorch one.

Deterministic: fixed seeds, torch.use_deterministic_algorithms(True), a fixed thread count,
CPU only, no network access.
"""

import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 0
MEAN = 0.2860
STD = 0.3530
BATCH_SIZE = 128

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
OUT_DIR = os.path.join(REPO_ROOT, "test", "fixtures", "models")
ORT_MODULE = os.path.join(REPO_ROOT, "node_modules", "onnxruntime-node")
THREADS = int(os.environ.get("TORCH_THREADS", "1"))
MAX_STEPS = int(os.environ["MAX_STEPS"]) if os.environ.get("MAX_STEPS") else None
ONLY = {s.strip() for s in os.environ.get("ONLY", "").split(",") if s.strip()}


# --------------------------------------------------------------------------- data

def read_idx(path):
    """Read a gzipped IDX file (ubyte data) into a numpy array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = data[0] | data[1], data[2], data[3]
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError(f"{path}: size mismatch")
    return arr.reshape(dims)


def load_split(split):
    images = read_idx(os.path.join(DATA_DIR, f"{split}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(DATA_DIR, f"{split}-labels-idx1-ubyte.gz"))
    return images, labels.astype(np.int64)


def preprocess(images_u8):
    """uint8 [N,28,28] -> float32 [N,1,28,28], scaled to [0,1] then normalized."""
    x = images_u8.astype(np.float32) / np.float32(255.0)
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return x[:, None, :, :].astype(np.float32)


# ------------------------------------------------------------------------ modules

class FastLinear(nn.Linear):
    """nn.Linear that, while training, computes through a 1x1 convolution.

    Debian's torch has no optimized BLAS, so CPU matmuls are ~10x slower than oneDNN
    convolutions. Same math; in eval mode (and so in the export) it is a plain F.linear,
    which the exporter writes as Gemm."""

    def forward(self, x):
        if not self.training:
            return F.linear(x, self.weight, self.bias)
        y = F.conv2d(x.reshape(-1, self.in_features, 1, 1),
                     self.weight[:, :, None, None], self.bias)
        return y.reshape(*x.shape[:-1], self.out_features)


class LeNet300100(nn.Module):
    """LeNet-300-100 (LeCun et al. 1998; the MLP of Deep Compression's Table 1)."""

    def __init__(self, h1=300, h2=100, num_classes=10):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            FastLinear(784, h1), nn.ReLU(inplace=True),
            FastLinear(h1, h2), nn.ReLU(inplace=True),
            FastLinear(h2, num_classes),
        )

    def forward(self, x):
        return self.net(x)


def conv_bn_relu(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True)]


class VGGCNN(nn.Module):
    """VGG-style: [Conv3x3 32 x2, MaxPool] -> [Conv3x3 64 x2, MaxPool] -> FC 3136->fc -> FC fc->10.

    As in VGG, the first FC layer holds most of the weights and the convs most of the MACs."""

    def __init__(self, c1=32, c2=64, fc=256, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            *conv_bn_relu(1, c1), *conv_bn_relu(c1, c1), nn.MaxPool2d(2),    # [c1,14,14]
            *conv_bn_relu(c1, c2), *conv_bn_relu(c2, c2), nn.MaxPool2d(2),   # [c2,7,7]
            nn.Flatten(),
        )
        self.classifier = nn.Sequential(
            FastLinear(c2 * 7 * 7, fc), nn.ReLU(inplace=True),
            nn.Dropout(0.3),
            FastLinear(fc, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


# ----------------------------------------------------------------------- training

def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def set_determinism():
    seed_all(SEED)
    torch.set_num_threads(THREADS)
    torch.set_num_interop_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False


@torch.no_grad()
def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    for i in range(0, len(x), batch):
        correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct


def param_groups(model, weight_decay):
    """Weights decayed; biases and BatchNorm scales/shifts not."""
    decay, no_decay = [], []
    for mod in model.modules():
        is_norm = isinstance(mod, nn.BatchNorm2d)
        for pname, p in mod.named_parameters(recurse=False):
            (no_decay if is_norm or pname == "bias" else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def train(name, model, x_train, y_train, epochs, lr, weight_decay, max_steps=None):
    """Adam with weight decay, one-cycle schedule, batch 128, no augmentation."""
    gen = torch.Generator().manual_seed(SEED)
    opt = torch.optim.Adam(param_groups(model, weight_decay), lr=lr)
    steps_per_epoch = (len(x_train) + BATCH_SIZE - 1) // BATCH_SIZE
    if max_steps is not None:
        steps_per_epoch = min(steps_per_epoch, max_steps)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, epochs=epochs, steps_per_epoch=steps_per_epoch)
    for epoch in range(epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(x_train), generator=gen)
        total_loss, seen = 0.0, 0
        for s in range(steps_per_epoch):
            idx = perm[s * BATCH_SIZE:(s + 1) * BATCH_SIZE]
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(idx)
            seen += len(idx)
        print(f"  [{name}] epoch {epoch + 1}/{epochs}: loss {total_loss / seen:.4f} "
              f"({time.time() - t0:.1f}s)", flush=True)


def export(model, path):
    """Eval-mode export with constant folding: BatchNorm is folded into the Convs."""
    model.eval()
    torch.onnx.export(
        model, torch.zeros(1, 1, 28, 28, dtype=torch.float32), path,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=13, do_constant_folding=True,
        training=torch.onnx.TrainingMode.EVAL,
    )
    m = onnx.load(path)
    onnx.checker.check_model(m)
    return m


def onnx_param_count(model):
    """Elements in initializers and Constant-node tensors."""
    total = sum(int(np.prod(t.dims)) if t.dims else 1 for t in model.graph.initializer)
    for n in model.graph.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    total += int(np.prod(a.t.dims)) if a.t.dims else 1
    return total


def weight_shapes(model):
    """Initializer shapes of the Conv and Gemm weights, in graph order."""
    inits = {t.name: list(t.dims) for t in model.graph.initializer}
    return [(n.op_type, inits[n.input[1]]) for n in model.graph.node
            if n.op_type in ("Conv", "Gemm")]


def macs_per_image(model):
    """Multiply-accumulates per image of the Conv2d and Linear layers (forward hooks)."""
    total = 0

    def hook(mod, inp, out):
        nonlocal total
        if isinstance(mod, nn.Conv2d):
            total += out[0].numel() * mod.weight[0].numel()
        else:
            total += mod.weight.numel()

    hooks = [mod.register_forward_hook(hook) for mod in model.modules()
             if isinstance(mod, (nn.Conv2d, nn.Linear))]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, 28, 28))
    for h in hooks:
        h.remove()
    return total


# ------------------------------------------------------------------ ORT via Node

NODE_CHECK = r"""
const ort = require(process.argv[1]);
const fs = require('fs');
function readTyped(file, dtype) {
  const b = fs.readFileSync(file);
  const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  return dtype === 'int32' ? new Int32Array(ab) : new Float32Array(ab);
}
(async () => {
  const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const opts = { intraOpNumThreads: 2, interOpNumThreads: 1 };
  const x = readTyped(cfg.evalInput, 'float32');
  const y = readTyped(cfg.evalLabels, 'int32');
  const results = [];
  for (const m of cfg.models) {
    const r = { name: m.name, cases: [] };
    const sess = await ort.InferenceSession.create(m.path, opts);
    r.inputNames = sess.inputNames;
    r.outputNames = sess.outputNames;
    for (const c of m.cases) {
      const t = new ort.Tensor('float32', readTyped(c.input, 'float32'), c.dims);
      const out = (await sess.run({ input: t })).logits;
      const exp = readTyped(c.expected, 'float32');
      let maxDiff = 0;
      for (let i = 0; i < exp.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out.data[i] - exp[i]));
      r.cases.push({ label: c.label, dims: out.dims, sizeOk: out.data.length === exp.length, maxAbsDiff: maxDiff });
    }
    const n = y.length, per = 784, bs = 1000;
    let correct = 0;
    for (let s = 0; s < n; s += bs) {
      const k = Math.min(bs, n - s);
      const t = new ort.Tensor('float32', x.subarray(s * per, (s + k) * per), [k, 1, 28, 28]);
      const o = (await sess.run({ input: t })).logits;
      for (let i = 0; i < k; i++) {
        let best = 0;
        for (let j = 1; j < 10; j++) if (o.data[i * 10 + j] > o.data[i * 10 + best]) best = j;
        if (best === y[s + i]) correct++;
      }
    }
    r.correct = correct;
    results.push(r);
  }
  console.log(JSON.stringify(results));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def ort_check(tmp, x_test_np, y_test_np, models):
    """models: list of (name, path, [(label, x, expected)]). Returns the Node script's results."""
    count = 0

    def write(arr, dtype):
        nonlocal count
        count += 1
        path = os.path.join(tmp, f"t{count}.bin")
        np.ascontiguousarray(arr, dtype=dtype).tofile(path)
        return path

    cfg = {"evalInput": write(x_test_np, np.float32), "evalLabels": write(y_test_np, np.int32),
           "models": [{"name": name, "path": path,
                       "cases": [{"label": label, "dims": list(x.shape),
                                  "input": write(x, np.float32),
                                  "expected": write(ref, np.float32)}
                                 for label, x, ref in cases]}
                      for name, path, cases in models]}
    cfg_path = os.path.join(tmp, "check.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)
    proc = subprocess.run(["node", "-e", NODE_CHECK, ORT_MODULE, cfg_path],
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"ONNX Runtime check failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- main

# (name, builder, epochs, lr, weight decay)
SPECS = [
    ("lenet-300-100", LeNet300100, 10, 2e-3, 1e-4),
    ("vgg-cnn", VGGCNN, 6, 3e-3, 1e-4),
]


def main():
    t_start = time.time()
    set_determinism()
    os.makedirs(OUT_DIR, exist_ok=True)

    train_imgs, train_labels = load_split("train")
    test_imgs, test_labels = load_split("t10k")
    x_train = torch.from_numpy(preprocess(train_imgs))
    y_train = torch.from_numpy(train_labels)
    x_test_np = preprocess(test_imgs)
    x_test = torch.from_numpy(x_test_np)
    y_test = torch.from_numpy(test_labels)
    rng = np.random.RandomState(SEED + 100)

    summary, to_check = {}, []
    for name, cls, epochs, lr, wd in SPECS:
        if ONLY and name not in ONLY:
            continue
        t0 = time.time()
        seed_all(SEED)
        model = cls()
        n_params = sum(p.numel() for p in model.parameters())
        print(f"== {name}: {n_params} torch params, {epochs} epochs, {THREADS} thread(s)",
              flush=True)
        train(name, model, x_train, y_train, epochs, lr, wd, max_steps=MAX_STEPS)
        train_time = time.time() - t0
        correct = evaluate(model, x_test, y_test)
        path = os.path.join(OUT_DIR, f"{name}.onnx")
        m = export(model, path)
        cases = []
        for bs in (1, 5):
            xr = rng.randn(bs, 1, 28, 28).astype(np.float32)
            with torch.no_grad():
                cases.append((f"random batch {bs}", xr, model(torch.from_numpy(xr)).numpy()))
        to_check.append((name, path, cases))
        summary[name] = {
            "torch_params": n_params, "onnx_params": onnx_param_count(m),
            "weights": weight_shapes(m), "macs_per_image": macs_per_image(model),
            "ops": sorted({n.op_type for n in m.graph.node}), "nodes": len(m.graph.node),
            "torch_correct": correct, "train_time": train_time, "bytes": os.path.getsize(path)}
        print(f"  [{name}] test accuracy (10k, torch): {correct / 100:.2f}% "
              f"(trained in {train_time:.1f}s)", flush=True)

    if os.environ.get("SKIP_ORT") != "1" and to_check:
        print("== ONNX Runtime (Node) check", flush=True)
        with tempfile.TemporaryDirectory(prefix="edgefit-compose-fixtures-") as tmp:
            results = ort_check(tmp, x_test_np, test_labels, to_check)
        for r in results:
            s = summary[r["name"]]
            s["ort_correct"] = r["correct"]
            s["ort_max_abs_diff"] = max(c["maxAbsDiff"] for c in r["cases"])
            if r["inputNames"] != ["input"] or r["outputNames"] != ["logits"]:
                raise RuntimeError(f"{r['name']}: unexpected I/O names {r}")
            if not all(c["sizeOk"] for c in r["cases"]) or s["ort_max_abs_diff"] > 1e-3:
                raise RuntimeError(f"{r['name']}: ORT output mismatch {r['cases']}")
            if r["correct"] != s["torch_correct"]:
                raise RuntimeError(f"{r['name']}: ORT top-1 {r['correct']} != torch "
                                   f"{s['torch_correct']} of 10000")

    print("\n== summary")
    for name, s in summary.items():
        print(f"{name}.onnx: {s['bytes']} bytes")
        for k, v in s.items():
            if k.endswith("_correct"):
                v = f"{v / 100:.2f}%"
            elif k == "train_time":
                v = f"{v:.1f}s"
            print(f"    {k}: {v}")
    print(f"total time: {time.time() - t_start:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
