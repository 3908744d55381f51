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
import torch, torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "model", "testdata"))
from swav_torch import SwAVNet

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


    @torch.no_grad()
    def sinkhorn(out):
        Q = torch.exp(out / cfg["epsilon"]).t()
        B = Q.shape[1]
        K = Q.shape[0]
        Q /= torch.sum(Q)
        for _ in range(cfg["sinkhorn_iterations"]):
            Q /= torch.sum(Q, dim=1, keepdim=True)
            Q /= K
            Q /= torch.sum(Q, dim=0, keepdim=True)
            Q /= B
        Q *= B
        return Q.t()


    queue = None
    result = {"steps": []}
    A = cfg["crops_for_assign"]
    for step in cfg["steps"]:
        bs = step["batch"]
        if step["use_queue"] and queue is None and cfg["queue_length"] > 0:
            L = cfg["queue_length"] - cfg["queue_length"] % bs
            if L > 0:
                queue = torch.zeros(len(A), L, cfg["feat"])
        with torch.no_grad():
            w = F.normalize(net.prototypes.weight.data.clone(), dim=1, p=2)
            net.prototypes.weight.copy_(w)
        groups = [torch.tensor(g["data"]).reshape(g["count"] * bs, 3, g["size"], g["size"]) for g in step["groups"]]
        feats = torch.cat([net.trunk(g) for g in groups])
        z = F.normalize(net.head(feats), dim=1, p=2)
        output = net.prototypes(z)
        embedding = z.detach()
        nviews = sum(g["count"] for g in step["groups"])
        loss = 0
        codes = []
        use_the_queue = False
        for i, crop_id in enumerate(A):
            with torch.no_grad():
                out = output[bs * crop_id: bs * (crop_id + 1)].detach()
                if queue is not None and step["use_queue"]:
                    if use_the_queue or not torch.all(queue[i, -1, :] == 0):
                        use_the_queue = True
                        out = torch.cat((torch.mm(queue[i], net.prototypes.weight.t()), out))
                    queue[i, bs:] = queue[i, :-bs].clone()
                    queue[i, :bs] = embedding[crop_id * bs: (crop_id + 1) * bs]
                q = sinkhorn(out)[-bs:]
            codes.append(q.flatten().tolist())
            subloss = 0
            for v in [v for v in range(nviews) if v != crop_id]:
                x = output[bs * v: bs * (v + 1)] / cfg["temperature"]
                subloss -= torch.mean(torch.sum(q * F.log_softmax(x, dim=1), dim=1))
            loss += subloss / (nviews - 1)
        loss /= len(A)
        net.zero_grad()
        loss.backward()
        with torch.no_grad():
            for name, p in params.items():
                if "prototypes" in name and step["iter"] < cfg["freeze_prototypes_iters"]:
                    continue
                g = p.grad
                pn, gn = torch.norm(p.data), torch.norm(g)
                wd = cfg["weight_decay"]
                if pn != 0 and gn != 0:
                    a = cfg["trust"] * pn / (gn + wd * pn + 1e-8)
                    g = (g + wd * p.data) * a
                if name in bufs:
                    bufs[name] = cfg["momentum"] * bufs[name] + g
                else:
                    bufs[name] = g.clone()
                p.data -= step["lr"] * bufs[name]
        result["steps"].append({"loss": loss.item(), "codes": codes})

    sd = net.state_dict()
    result["params"] = {t["name"]: sd[t["name"]].flatten().tolist() for t in cfg["params"]}
    result["buffers"] = {t["name"]: sd[t["name"]].flatten().tolist() for t in cfg["buffers"]}
    result["momentum"] = {n: b.flatten().tolist() for n, b in bufs.items()}
    result["queue"] = queue.flatten().tolist() if queue is not None else None
    return result


for i in range(1, len(sys.argv), 2):
    json.dump(run(json.load(open(sys.argv[i]))), open(sys.argv[i + 1], "w"))
