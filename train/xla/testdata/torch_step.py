#!/usr/bin/python3
"""PyTorch re-statement of SwAV training steps, the reference the xla backend's
tests compare against (facebookresearch/swav main_swav.py train(), SPEC §1-5).

usage: torch_step.py IN.json OUT.json [IN2.json OUT2.json ...]

IN holds: arch ("small" or a torchvision resnet name), hidden, feat, k, small_stem,
temperature, epsilon, sinkhorn_iterations, crops_for_assign, queue_length
(0 = none), freeze_prototypes_iters, weight_decay, momentum, trust,
params/buffers: [{name, shape, data}] in the Go backend's order, and steps:
[{iter, lr, use_queue, batch, groups: [{size, count, data}]}].
OUT holds per step the loss and the codes, then the final params, buffers,
momentum buffers and queue. Arithmetic is float64 (the truth the float32
backends are measured against).
"""
import json, os, sys
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "model", "testdata"))
from swav_torch import SwAVNet, lars_step, swav_loss

torch.set_default_dtype(torch.float64)


def run(cfg):
    net = SwAVNet(cfg["arch"], cfg["small_stem"], cfg["hidden"], cfg["feat"], cfg["k"])
    sd = net.state_dict()
    for t in cfg["params"] + cfg["buffers"]:
        sd[t["name"]].copy_(torch.tensor(t["data"]).reshape(t["shape"]))
    net.load_state_dict(sd)
    net.train()
    params = dict(net.named_parameters())
    bufs = {}  # momentum buffers by name


    queue = None
    result = {"steps": []}
    A = cfg["crops_for_assign"]
    for step in cfg["steps"]:
        bs = step["batch"]
        if step["use_queue"] and queue is None and cfg["queue_length"] > 0:
            L = cfg["queue_length"] - cfg["queue_length"] % bs
            if L > 0:
                queue = torch.zeros(len(A), L, cfg["feat"])
        groups = [torch.tensor(g["data"]).reshape(g["count"] * bs, 3, g["size"], g["size"]) for g in step["groups"]]
        loss, codes = swav_loss(net, groups, bs, A, cfg["temperature"], cfg["epsilon"], cfg["sinkhorn_iterations"],
                                queue, step["use_queue"])
        net.zero_grad()
        loss.backward()
        lars_step(params, bufs, step["lr"], cfg["weight_decay"], cfg["trust"], cfg["momentum"],
                  step["iter"] < cfg["freeze_prototypes_iters"])
        result["steps"].append({"loss": loss.item(), "codes": codes})

    sd = net.state_dict()
    result["params"] = {t["name"]: sd[t["name"]].flatten().tolist() for t in cfg["params"]}
    result["buffers"] = {t["name"]: sd[t["name"]].flatten().tolist() for t in cfg["buffers"]}
    result["momentum"] = {n: b.flatten().tolist() for n, b in bufs.items()}
    result["queue"] = queue.flatten().tolist() if queue is not None else None
    return result


for i in range(1, len(sys.argv), 2):
    json.dump(run(json.load(open(sys.argv[i]))), open(sys.argv[i + 1], "w"))
