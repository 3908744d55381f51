#!/usr/bin/python3
"""Writes state_dict_specs.json: the float tensors (name, shape, param or
buffer) of the SwAV network as PyTorch/torchvision name them, for the model
package's name/shape test. Run: /usr/bin/python3 gen_state_dict_specs.py
It reuses ../../../../shared/bench/ref_train_step.py's network definition."""
import json, os, sys, types
import torch, torch.nn as nn, torchvision

here = os.path.dirname(os.path.abspath(__file__))


class Block(nn.Module):  # identical to ref_train_step.py
    def __init__(s, c):
        super().__init__()
        s.c1 = nn.Conv2d(c, c, 3, 1, 1, bias=False); s.b1 = nn.BatchNorm2d(c)
        s.c2 = nn.Conv2d(c, c, 3, 1, 1, bias=False); s.b2 = nn.BatchNorm2d(c)


def small_trunk():
    return nn.Sequential(nn.Conv2d(3, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                         Block(32), Block(32),
                         nn.Conv2d(32, 64, 3, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten()), 64


def tv_trunk(name, small_stem):
    m = getattr(torchvision.models, name)()
    dim = m.fc.in_features
    m.fc = nn.Identity()
    if small_stem:
        m.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        m.maxpool = nn.Identity()
    return m, dim


class Net(nn.Module):
    def __init__(s, arch, small_stem, hidden, feat, k):
        super().__init__()
        s.trunk, dim = small_trunk() if arch == "small" else tv_trunk(arch, small_stem)
        if hidden == 0:
            s.head = nn.Linear(dim, feat)
        else:
            s.head = nn.Sequential(nn.Linear(dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, feat))
        s.prototypes = nn.Linear(feat, k, bias=False)


cases = [
    dict(arch="small", small_stem=False, hidden_mlp=128, feat_dim=32, prototypes=100),
    dict(arch="resnet18", small_stem=False, hidden_mlp=2048, feat_dim=128, prototypes=3000),
    dict(arch="resnet18", small_stem=True, hidden_mlp=0, feat_dim=64, prototypes=10),
    dict(arch="resnet34", small_stem=False, hidden_mlp=512, feat_dim=128, prototypes=300),
    dict(arch="resnet50", small_stem=False, hidden_mlp=2048, feat_dim=128, prototypes=3000),
]
out = []
for c in cases:
    net = Net(c["arch"], c["small_stem"], c["hidden_mlp"], c["feat_dim"], c["prototypes"])
    params = [[n, list(p.shape)] for n, p in net.named_parameters()]
    buffers = [[n, list(b.shape)] for n, b in net.named_buffers() if b.dtype.is_floating_point]
    out.append(dict(config=c, params=params, buffers=buffers))
with open(os.path.join(here, "state_dict_specs.json"), "w") as f:
    json.dump(dict(torch=torch.__version__, torchvision=torchvision.__version__, cases=out), f, separators=(",", ":"))
