#!/usr/bin/python3
"""The quickstart's recipe trained in PyTorch, side by side with the Go run: the guard of
docs/quickstart-recipe.md that our SwAV learns per step as well as PyTorch does.

usage: /usr/bin/python3 torch_side_by_side.py CONFIG.yaml --shards DIR --iters N [--seed S]
       [--threads 2] [--set key=value ...]

CONFIG is a quickstart job (configs/quickstart.yaml); its augment and train sections are the
recipe. --shards is the quickstart's shard cache (the folder holding fmnist/train-*-by-*/ and
fmnist/test-*-by-*/). The network, the SwAV step (per-group BatchNorm, Sinkhorn codes under
no_grad, the swapped loss, prototype normalisation and freezing), LARS and the per-iteration
schedule are facebookresearch/swav's, as train/xla/testdata/torch_step.py restates them; the
crops are torchvision's transforms with the recipe's settings (SPEC §9). The schedule runs over
N iterations (iters_per_epoch N, one epoch), as `pipeline run CONFIG --set train.max_iters=N
--set train.iters_per_epoch=N --set train.epochs=1 --set train.fit_to_budget=false` does. Then the trunk features of the whole
train and test splits (eval transform) go through the weighted kNN of the quickstart (cosine,
exp(sim/T) votes). Prints one JSON line: seed, iterations, final loss, kNN top-1 per k, seconds.
Needs Debian's python3-torch, python3-torchvision, python3-pil and python3-yaml.
"""
import argparse, glob, io, json, math, os, random, sys, tarfile, time

import torch, torch.nn.functional as F
import yaml
from PIL import Image, ImageFilter
from torchvision import transforms as T

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "train", "model", "testdata"))
from swav_torch import SwAVNet, lars_step, swav_loss  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("config")
p.add_argument("--shards", required=True)
p.add_argument("--iters", type=int, required=True)
p.add_argument("--seed", type=int, default=None)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--set", action="append", default=[], help="dotted key=value (YAML value), as pipeline --set")
a = p.parse_args()
torch.set_num_threads(a.threads)

job = yaml.safe_load(open(a.config))
for kv in a.set:
    key, val = kv.split("=", 1)
    node = job
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = yaml.safe_load(val)
seed = a.seed if a.seed is not None else job.get("seed", 31)
aug, tr = job.get("augment", {}), job["train"]
sw, opt, mdl = tr["swav"], tr["optim"], tr["model"]
torch.manual_seed(seed)
random.seed(seed)


def read_split(split):
    """(PIL RGB images, labels) of every WebDataset shard of the split, in shard order."""
    dirs = sorted(glob.glob(os.path.join(a.shards, "fmnist", f"{split}-*-by-*")))
    if not dirs:
        sys.exit(f"no {split} shards under {a.shards}/fmnist (run the quickstart once to make them)")
    imgs, labels = [], []
    for path in sorted(glob.glob(os.path.join(dirs[-1], "*.tar"))):
        members = {}
        with tarfile.open(path) as t:
            for m in t.getmembers():
                if m.isfile():
                    key, ext = m.name.rsplit(".", 1)
                    members.setdefault(key, {})[ext] = t.extractfile(m).read()
        for key in sorted(members):
            rec = members[key]
            imgs.append(Image.open(io.BytesIO(rec["png"])).convert("RGB"))
            labels.append(int(rec["cls"]))
    return imgs, torch.tensor(labels)


class PILBlur:  # SPEC §9: PIL GaussianBlur(radius=sigma), sigma ~ U(min, max), with probability p
    def __init__(s, p, lo, hi):
        s.p, s.lo, s.hi = p, lo, hi

    def __call__(s, img):
        if random.random() >= s.p:
            return img
        return img.filter(ImageFilter.GaussianBlur(radius=random.uniform(s.lo, s.hi)))


mean, std = aug.get("mean", [0.485, 0.456, 0.406]), aug.get("std", [0.228, 0.224, 0.225])
jit, blur = aug.get("jitter", {}), aug.get("blur", {})
ratio = tuple(aug.get("ratio", [3 / 4, 4 / 3]))


def crop_transform(c):
    ops = [T.RandomResizedCrop(c["size"], scale=(c["min_scale"], c["max_scale"]), ratio=ratio,
                               interpolation=T.InterpolationMode.BILINEAR),
           T.RandomHorizontalFlip(p=aug.get("flip_p", 0.5))]
    cj = [jit.get(k, d) for k, d in (("brightness", 0.8), ("contrast", 0.8), ("saturation", 0.8), ("hue", 0.2))]
    if jit.get("p", 0.8) > 0 and any(cj):
        ops.append(T.RandomApply([T.ColorJitter(*cj)], p=jit.get("p", 0.8)))
    if aug.get("grayscale_p", 0.2) > 0:
        ops.append(T.RandomGrayscale(p=aug.get("grayscale_p", 0.2)))
    if blur.get("p", 0.5) > 0:
        ops.append(PILBlur(blur.get("p", 0.5), blur.get("sigma_min", 0.1), blur.get("sigma_max", 2.0)))
    ops += [T.ToTensor(), T.Normalize(mean, std)]
    return T.Compose(ops)


groups = [(c, crop_transform(c)) for c in aug["crops"]]
eval_tf = T.Compose([T.Resize(aug["eval"]["resize"]), T.CenterCrop(aug["eval"]["crop"]), T.ToTensor(), T.Normalize(mean, std)])

train_imgs, train_labels = read_split("train")
test_imgs, test_labels = read_split("test")
net = SwAVNet(mdl["arch"], mdl.get("small_stem", False), mdl["hidden_mlp"], mdl["feat_dim"], mdl["prototypes"])
net.train()
params = dict(net.named_parameters())
bufs = {}
B, N = tr["batch_size"], a.iters
A = sw["crops_for_assign"]


def lr_at(it):  # swav.LRAt with iters_per_epoch N and one epoch
    warm = N * opt.get("warmup_epochs", 0)
    if it < warm:
        return opt["start_warmup"] + it * (opt["base_lr"] - opt["start_warmup"]) / max(warm - 1, 1)
    return opt["final_lr"] + 0.5 * (opt["base_lr"] - opt["final_lr"]) * (1 + math.cos(math.pi * (it - warm) / (N - warm)))


queue = None
order, pos = torch.randperm(len(train_imgs)), 0
began, loss = time.time(), None
for it in range(N):
    if pos + B > len(order):
        order, pos = torch.randperm(len(train_imgs)), 0
    idx = order[pos:pos + B].tolist()
    pos += B
    crops = [torch.stack([tf(train_imgs[i]) for _ in range(c["count"]) for i in idx])
             for c, tf in groups]  # crop-major: crop c of every image, then crop c+1
    if sw.get("queue_length", 0) > 0 and queue is None and it // N >= sw.get("epoch_queue_starts", 0):
        queue = torch.zeros(len(A), sw["queue_length"] - sw["queue_length"] % B, mdl["feat_dim"])
    loss, _ = swav_loss(net, crops, B, A, sw["temperature"], sw["epsilon"], sw["sinkhorn_iterations"], queue, queue is not None)
    net.zero_grad()
    loss.backward()
    lr = lr_at(it)
    lars_step(params, bufs, lr, opt["weight_decay"], opt["trust_coefficient"], opt["momentum"],
              it < sw["freeze_prototypes_iters"])
    if it % 50 == 0 or it == N - 1:
        print(f"iter {it} loss {loss.item():.4f} lr {lr:.4g} {time.time() - began:.0f}s", file=sys.stderr)
train_seconds = time.time() - began


@torch.no_grad()
def features(imgs):
    net.eval()
    out = [net.trunk(torch.stack([eval_tf(im) for im in imgs[i:i + 512]])) for i in range(0, len(imgs), 512)]
    return F.normalize(torch.cat(out), dim=1)


ftr, fte = features(train_imgs), features(test_imgs)
ks = job.get("extract", {}).get("quickstart", {}).get("knn", [20, 10, 50])
temp = job.get("extract", {}).get("quickstart", {}).get("temperature", 0.07)
classes = int(train_labels.max()) + 1
correct = {k: 0 for k in ks}
for i in range(0, len(fte), 1000):
    sim = fte[i:i + 1000] @ ftr.t()
    top, ids = sim.topk(max(ks), dim=1)
    for k in ks:
        votes = torch.zeros(len(top), classes).scatter_add_(1, train_labels[ids[:, :k]], torch.exp(top[:, :k] / temp))
        correct[k] += int((votes.argmax(1) == test_labels[i:i + 1000]).sum())
print(json.dumps({"seed": seed, "iters": N, "loss": round(loss.item(), 4), "train_seconds": round(train_seconds, 1),
                  "knn_top1": {str(k): correct[k] / len(fte) for k in ks}, "train": len(ftr), "test": len(fte)}))
