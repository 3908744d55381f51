#!/usr/bin/python3
"""Writes state_dict_specs.json: the float tensors (name, shape, param or
buffer) of the SwAV network as PyTorch/torchvision name them, for the model
package's name/shape test. Run: /usr/bin/python3 gen_state_dict_specs.py
The network is swav_torch.py's (ref_train_step.py's small trunk, torchvision's ResNets)."""
import json, os, sys
import torch, torchvision

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from swav_torch import SwAVNet


cases = [
    dict(arch="small", small_stem=False, hidden_mlp=128, feat_dim=32, prototypes=100),
    dict(arch="resnet8", small_stem=False, hidden_mlp=256, feat_dim=64, prototypes=100),
    dict(arch="resnet18", small_stem=False, hidden_mlp=2048, feat_dim=128, prototypes=3000),
    dict(arch="resnet18", small_stem=True, hidden_mlp=0, feat_dim=64, prototypes=10),
    dict(arch="resnet34", small_stem=False, hidden_mlp=512, feat_dim=128, prototypes=300),
    dict(arch="resnet50", small_stem=False, hidden_mlp=2048, feat_dim=128, prototypes=3000),
]
out = []
for c in cases:
    net = SwAVNet(c["arch"], c["small_stem"], c["hidden_mlp"], c["feat_dim"], c["prototypes"])
    params = [[n, list(p.shape)] for n, p in net.named_parameters()]
    buffers = [[n, list(b.shape)] for n, b in net.named_buffers() if b.dtype.is_floating_point]
    out.append(dict(config=c, params=params, buffers=buffers))
with open(os.path.join(here, "state_dict_specs.json"), "w") as f:
    json.dump(dict(torch=torch.__version__, torchvision=torchvision.__version__, cases=out), f, separators=(",", ":"))
