#!/usr/bin/python3
"""PyTorch side of bench/finetune.ts: the same network rebuilt in torch from an ONNX file's weights.

The ONNX graph is interpreted node by node with torch.nn.functional (Conv, Relu, MaxPool, Add,
GlobalAveragePool, Flatten, Gemm, MatMul, BatchNormalization (frozen), and the ViT fixture's LayerNormalization, Softmax, Erf,
Reshape, Transpose, ReduceMean, Constant); every float initializer becomes an nn.Parameter, so
autograd differentiates exactly the network ONNX Runtime runs.

  torch_reference.py step MODEL INPUTS.npz --batch 64 --threads 1 --reps 15 --lr 0.01
      times one SGD-momentum training step (zero_grad, forward, cross-entropy, backward, step) and
      prints {"stepMs": [...], "cpuMs": [...]} as JSON (wall and process CPU time per step)
  torch_reference.py serve MODEL INPUTS.npz --batch 64 --threads 1
      the same step on demand: each line "K" on stdin runs K steps and answers one JSON line
      {"stepMs": [...], "cpuMs": [...]}, so the caller can interleave them with its own (an empty line ends it)
  torch_reference.py grad MODEL INPUTS.npz OUT.npz
      writes the cross-entropy loss and the gradient of every initializer (keyed by its ONNX name)

INPUTS.npz holds `x` (float32 [N, ...]) and `labels` (int64 [N]).
"""

import json
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def pads2d(pads, n):
    """ONNX pads [b1, b2, e1, e2] -> torch padding (symmetric) or None when asymmetric."""
    if not pads:
        return [0] * n
    begin, end = pads[:n], pads[n:]
    return list(begin) if list(begin) == list(end) else None


class OnnxNet(torch.nn.Module):
    def __init__(self, path):
        super().__init__()
        self.model = onnx.load(path)
        g = self.model.graph
        self.params = torch.nn.ParameterDict()
        self.consts = {}
        self.names = {}
        for init in g.initializer:
            arr = numpy_helper.to_array(init)
            if arr.dtype == np.float32 and arr.size > 1:
                key = f"p{len(self.names)}"
                self.names[init.name] = key
                self.params[key] = torch.nn.Parameter(torch.from_numpy(arr.copy()))
            else:
                self.consts[init.name] = torch.from_numpy(arr.copy())
        self.input_name = [i.name for i in g.input if i.name not in self.names and i.name not in self.consts][0]

    def value(self, env, name):
        if name in env:
            return env[name]
        if name in self.names:
            return self.params[self.names[name]]
        return self.consts[name]

    def forward(self, x):
        env = {self.input_name: x}
        for node in self.model.graph.node:
            a = attrs(node)
            ins = [self.value(env, n) if n else None for n in node.input]
            op = node.op_type
            if op == "Conv":
                k = len(ins[1].shape) - 2
                pad = pads2d(a.get("pads"), k)
                xin = ins[0]
                if pad is None:
                    p = a["pads"]
                    xin = F.pad(xin, [v for i in reversed(range(k)) for v in (p[i], p[i + k])])
                    pad = [0] * k
                conv = F.conv2d if k == 2 else F.conv1d
                y = conv(xin, ins[1], ins[2] if len(ins) > 2 else None, stride=a.get("strides", 1),
                         padding=pad, dilation=a.get("dilations", 1), groups=a.get("group", 1))
            elif op == "Relu":
                y = F.relu(ins[0])
            elif op == "MaxPool":
                y = F.max_pool2d(ins[0], a["kernel_shape"], a.get("strides", 1), pads2d(a.get("pads"), 2),
                                 ceil_mode=bool(a.get("ceil_mode", 0)))
            elif op == "AveragePool":
                y = F.avg_pool2d(ins[0], a["kernel_shape"], a.get("strides", 1), pads2d(a.get("pads"), 2),
                                 ceil_mode=bool(a.get("ceil_mode", 0)),
                                 count_include_pad=bool(a.get("count_include_pad", 0)))
            elif op == "Add":
                y = ins[0] + ins[1]
            elif op == "Sub":
                y = ins[0] - ins[1]
            elif op == "Mul":
                y = ins[0] * ins[1]
            elif op == "Div":
                y = ins[0] / ins[1]
            elif op == "GlobalAveragePool":
                y = ins[0].mean(dim=tuple(range(2, ins[0].dim())), keepdim=True)
            elif op == "Flatten":
                y = torch.flatten(ins[0], a.get("axis", 1))
            elif op == "Gemm":
                A = ins[0].t() if a.get("transA", 0) else ins[0]
                B = ins[1].t() if a.get("transB", 0) else ins[1]
                y = a.get("alpha", 1.0) * (A @ B)
                if len(ins) > 2 and ins[2] is not None:
                    y = y + a.get("beta", 1.0) * ins[2]
            elif op == "MatMul":
                y = ins[0] @ ins[1]
            elif op == "Clip":
                y = torch.clamp(ins[0], float(ins[1]), float(ins[2]))
            elif op == "Identity" or op == "Dropout":
                y = ins[0]
            elif op == "Constant":
                y = torch.from_numpy(numpy_helper.to_array(a["value"]).copy())
            elif op == "Reshape":
                shape = [int(d) for d in ins[1]]
                y = ins[0].reshape([ins[0].shape[i] if d == 0 else d for i, d in enumerate(shape)])
            elif op == "Transpose":
                y = ins[0].permute(*a["perm"])
            elif op == "Softmax":
                y = F.softmax(ins[0], dim=a.get("axis", -1))
            elif op == "LayerNormalization":
                axis = a.get("axis", -1) % ins[0].dim()
                y = F.layer_norm(ins[0], ins[0].shape[axis:], ins[1], ins[2] if len(ins) > 2 else None,
                                 a.get("epsilon", 1e-5))
            elif op == "BatchNormalization":
                y = F.batch_norm(ins[0], ins[3].detach(), ins[4].detach(), ins[1], ins[2], False, 0.0,
                                 a.get("epsilon", 1e-5))
            elif op == "Erf":
                y = torch.erf(ins[0])
            elif op == "ReduceMean":
                y = ins[0].mean(dim=tuple(a["axes"]), keepdim=bool(a.get("keepdims", 1)))
            else:
                raise SystemExit(f"torch_reference.py: no translation for {op}")
            env[node.output[0]] = y
        return env[self.model.graph.output[0].name]


def load_inputs(path, batch=None):
    d = np.load(path)
    x, labels = d["x"], d["labels"].astype(np.int64)
    if batch:
        x, labels = x[:batch], labels[:batch]
    return torch.from_numpy(x.copy()), torch.from_numpy(labels.copy())


def main(argv):
    mode, model_path, inputs = argv[0], argv[1], argv[2]
    opts = {argv[i][2:]: argv[i + 1] for i in range(3, len(argv) - 1) if argv[i].startswith("--")}
    torch.set_num_threads(int(opts.get("threads", 1)))
    torch.manual_seed(0)
    net = OnnxNet(model_path)
    if mode == "grad":
        x, labels = load_inputs(inputs)
        loss = F.cross_entropy(net(x), labels)
        loss.backward()
        out = {"loss": np.array(loss.item(), dtype=np.float64)}
        for name, key in net.names.items():
            if net.params[key].grad is not None:  # frozen statistics have none
                out[name] = net.params[key].grad.numpy()
        np.savez(argv[3], **out)
        print(json.dumps({"loss": loss.item()}))
        return
    batch = int(opts.get("batch", 64))
    x, labels = load_inputs(inputs, batch)
    opt = torch.optim.SGD(net.parameters(), lr=float(opts.get("lr", 0.01)), momentum=0.9)

    def steps(k):
        times, cpu = [], []
        for _ in range(k):
            t, c = time.perf_counter(), time.process_time()
            opt.zero_grad()
            loss = F.cross_entropy(net(x), labels)
            loss.backward()
            opt.step()
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
        return times, cpu

    if mode == "serve":
        print(json.dumps({"ready": True}), flush=True)
        for line in sys.stdin:
            if not line.strip():
                break
            wall, cpu = steps(int(line))
            print(json.dumps({"stepMs": wall, "cpuMs": cpu}), flush=True)
        return
    steps(int(opts.get("warmup", 3)))
    wall, cpu = steps(int(opts.get("reps", 15)))
    print(json.dumps({"stepMs": wall, "cpuMs": cpu}))


if __name__ == "__main__":
    main(sys.argv[1:])
