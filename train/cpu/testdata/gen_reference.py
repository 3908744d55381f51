#!/usr/bin/python3
"""PyTorch re-statement of two SwAV steps for the cpu backend's tests.

Writes reference.json beside this file. Weights, BatchNorm buffers and input
crops are not stored: both sides compute them from the same integer hash
(testValue below and in reference_test.go), so only the expected results are
kept: per tensor [sum, L2 norm, dot with a hashed probe vector].

One step as SPEC §1 states it: prototype normalisation under no grad, trunk
per crop group, head on all rows, L2 norm, scores, Sinkhorn codes (float64,
reference algorithm) with the queue, swapped loss, backward, prototype
freezing, LARC(SGD) by hand (SPEC §5), BatchNorm running statistics.

Run: /usr/bin/python3 train/cpu/testdata/gen_reference.py
"""
import json, math, os, sys
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F, torchvision

torch.set_num_threads(1)
torch.set_default_dtype(torch.float32)
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "model", "testdata"))
from swav_torch import SwAVNet
M32 = 0xFFFFFFFF


def fnv1a32(s):
    h = 2166136261
    for b in s.encode():
        h = ((h ^ b) * 16777619) & M32
    return h


def test_values(name, n):
    """n values in [-0.5, 0.5) from the integer hash of (name, i) (uint64
    arithmetic wraps, and only the low 32 bits are kept, as in Go's uint32)."""
    h = np.uint64(fnv1a32(name))
    m = np.uint64(M32)
    x = (h + np.arange(n, dtype=np.uint64) * np.uint64(2654435761)) & m
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(2246822519)) & m
    x ^= x >> np.uint64(13)
    return torch.from_numpy(x.astype(np.float64) / 4294967296.0 - 0.5)


def fill_test_weights(net):
    """Same formula as testState in reference_test.go."""
    with torch.no_grad():
        for name, p in net.named_parameters():
            u = test_values(name, p.numel())
            if name.endswith(".weight") and p.dim() == 4:
                fan_in = p.shape[1] * p.shape[2] * p.shape[3]
                v = u * math.sqrt(12) * math.sqrt(2 / fan_in)
            elif p.dim() == 2 or (name.endswith(".bias") and not is_bn(net, name)):
                fan_in = p.shape[-1] if p.dim() == 2 else None
                if fan_in is None:
                    fan_in = dict(net.named_parameters())[name[:-len("bias")] + "weight"].shape[1]
                v = u * math.sqrt(12) / math.sqrt(fan_in)
            elif name.endswith(".weight"):  # BatchNorm gamma
                v = 1 + 0.2 * u
            else:  # BatchNorm beta
                v = 0.1 * u
            p.copy_(v.reshape(p.shape).to(torch.float32))
        for name, b in net.named_buffers():
            if not b.dtype.is_floating_point:
                continue
            u = test_values(name, b.numel())
            v = 0.1 * u if name.endswith("running_mean") else 1 + 0.5 * u
            b.copy_(v.reshape(b.shape).to(torch.float32))


def is_bn(net, name):
    mod = net
    for part in name.split(".")[:-1]:
        mod = getattr(mod, part)
    return isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d))


def sinkhorn(s, eps, iters):  # reference distributed_sinkhorn, world size 1, float64
    Q = torch.exp(s.double() / eps).t()
    B = Q.shape[1]; K = Q.shape[0]
    Q /= Q.sum()
    for _ in range(iters):
        Q /= Q.sum(dim=1, keepdim=True); Q /= K
        Q /= Q.sum(dim=0, keepdim=True); Q /= B
    Q *= B
    return Q.t()


def summary(t):
    t = t.detach().double().flatten()
    return t


def stats(name, t):
    t = t.detach().double().flatten()
    probe = test_values(name + "#probe", t.numel())
    return [t.sum().item(), t.norm().item(), (t * probe).sum().item()]


class Queue:
    def __init__(s, slots, length, dim):
        s.q = torch.zeros(slots, length, dim)
        s.in_use = False


def swav_step(net, c, groups, it, lr, queue, momentum_bufs):
    B = c["batch"]; A = c["crops_for_assign"]; T = c["temperature"]
    with torch.no_grad():
        w = net.prototypes.weight.data.clone()
        w = F.normalize(w, dim=1, p=2)
        net.prototypes.weight.copy_(w)
    net.zero_grad()
    feats = torch.cat([net.trunk(g) for g in groups])
    h = net.head(feats)
    z = F.normalize(h, dim=1, p=2)
    scores = net.prototypes(z)
    V = scores.shape[0] // B
    loss = 0
    codes = []
    for i, crop in enumerate(A):
        with torch.no_grad():
            out = scores[B * crop:B * (crop + 1)].detach()
            if queue is not None:
                if queue.in_use or not torch.all(queue.q[i, -1, :] == 0):
                    queue.in_use = True
                    out = torch.cat((queue.q[i] @ net.prototypes.weight.t(), out))
                queue.q[i, B:] = queue.q[i, :-B].clone()
                queue.q[i, :B] = z[crop * B:(crop + 1) * B].detach()
            q = sinkhorn(out, c["epsilon"], c["sinkhorn_iterations"])[-B:].float()
            codes.append(q)
        subloss = 0
        for v in [x for x in range(V) if x != crop]:
            x = scores[B * v:B * (v + 1)] / T
            subloss -= torch.mean(torch.sum(q * F.log_softmax(x, dim=1), dim=1))
        loss += subloss / (V - 1)
    loss /= len(A)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in net.named_parameters()}
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    wd, mom, trust = c["weight_decay"], c["momentum"], c["trust"]
    with torch.no_grad():
        for n, p in net.named_parameters():
            if "prototypes" in n and it < c["freeze_prototypes_iters"]:
                continue
            g = p.grad.double(); x = p.double()
            pn, gn = x.norm().item(), g.norm().item()
            if pn != 0 and gn != 0:
                a = trust * pn / (gn + wd * pn + 1e-8)
                g = (g + wd * x) * a
            if n in momentum_bufs:
                buf = mom * momentum_bufs[n] + g
            else:
                buf = g
            momentum_bufs[n] = buf.float().double()
            p.copy_((x - lr * momentum_bufs[n]).float())
    deltas = {n: p.detach().double() - before[n].double() for n, p in net.named_parameters()}
    return loss.item(), grads, deltas, codes


def run_case(c):
    torch.manual_seed(0)
    net = SwAVNet(c["arch"], c["small_stem"], c["hidden_mlp"], c["feat_dim"], c["prototypes"])
    fill_test_weights(net)
    net.train()
    groups = []
    for gi, (size, count) in enumerate(c["groups"]):
        n = count * c["batch"]
        g = (2 * test_values("input.g%d" % gi, n * 3 * size * size)).float().reshape(n, 3, size, size)
        groups.append(g)
    queue = None
    if c["queue_length"] > 0:
        queue = Queue(len(c["crops_for_assign"]), c["queue_length"], c["feat_dim"])
    bufs = {}
    out = dict(config=c)
    loss1, grads, deltas, codes = swav_step(net, c, groups, 0, c["lr"], queue, bufs)
    out["loss1"] = loss1
    out["grads1"] = {n: stats(n, g) for n, g in grads.items()}
    out["deltas1"] = {n: stats(n, d) for n, d in deltas.items()}
    out["buffers1"] = {n: stats(n, b) for n, b in net.named_buffers() if b.dtype.is_floating_point}
    out["codes1"] = [stats("codes%d" % i, q) for i, q in enumerate(codes)]
    loss2, _, _, _ = swav_step(net, c, groups, 1, c["lr"], queue, bufs)
    out["loss2"] = loss2
    net.eval()
    with torch.no_grad():
        imgs = groups[0]
        t = net.trunk(imgs)
        z = F.normalize(net.head(t), dim=1)
        s = net.prototypes(z)
    out["embed"] = {"trunk": stats("embed.trunk", t), "projection": stats("embed.projection", z),
                    "scores": stats("embed.scores", s)}
    out["buffers2"] = {n: stats(n, b) for n, b in net.named_buffers() if b.dtype.is_floating_point}
    return out


base = dict(temperature=0.1, epsilon=0.05, sinkhorn_iterations=3, crops_for_assign=[0, 1],
            weight_decay=1e-6, momentum=0.9, trust=0.001, lr=0.5, freeze_prototypes_iters=1)
cases = [
    dict(base, name="small_2groups_queue", arch="small", small_stem=False, hidden_mlp=32, feat_dim=16,
         prototypes=20, batch=4, groups=[[16, 2], [8, 2]], queue_length=4),
    dict(base, name="resnet18_linear_head", arch="resnet18", small_stem=False, hidden_mlp=0, feat_dim=16,
         prototypes=12, batch=3, groups=[[32, 2]], queue_length=0, crops_for_assign=[1, 0]),
    dict(base, name="resnet50_small_stem", arch="resnet50", small_stem=True, hidden_mlp=24, feat_dim=8,
         prototypes=10, batch=3, groups=[[16, 2], [8, 2]], queue_length=0, crops_for_assign=[0]),
    dict(base, name="resnet8_quickstart_groups", arch="resnet8", small_stem=False, hidden_mlp=16, feat_dim=8,
         prototypes=10, batch=3, groups=[[28, 2], [16, 2]], queue_length=0),
]
res = dict(torch=torch.__version__, torchvision=torchvision.__version__, cases=[run_case(c) for c in cases])
with open(os.path.join(here, "reference.json"), "w") as f:
    json.dump(res, f, indent=0)
print("wrote", os.path.join(here, "reference.json"))
