#!/usr/bin/python3
"""Fixtures and checks for the Go package train/weights, written by PyTorch itself.
Run with Debian's /usr/bin/python3 (python3-torch, python3-torchvision, python3-pil).

  make         --arch resnet50 --layout swav|torchvision --format zip|legacy|safetensors --seed N --out F
               [--small-stem] [--hidden-mlp 2048] [--feat-dim 128] [--prototypes 3000]
               [--nmb-prototypes 1] [--dtype f32|f16|bf16]
      A seeded torchvision ResNet with randomised BatchNorm statistics (so that eval mode matters),
      saved as facebookresearch/swav saves it ({"epoch", "arch", "state_dict": {"module." + name}}
      with projection_head.* and prototypes.*) or as a torchvision state dict (with fc.*).
  features     --weights F --arch A [--small-stem] --images DIR --n N [--resize 256 --crop 224]
               [--feature trunk|projection] --out OUT.json
      PyTorch's eval-mode features of the first N images of DIR (sorted), torchvision's evaluation
      transform with ImageNet statistics: {"names", "dim", "features"}.
  check-export --safetensors F --reference R --layout torchvision|swav --arch A [--small-stem]
      F must load into torchvision's model with strict=True (fc dropped; torchvision layout) and hold
      exactly R's tensors under the layout's names, bit for bit. Prints OK or every problem (exit 1).
  time-load    --weights F
      One torch.load (safetensors: this script's reader), timed inside the process, with the peak
      resident set before and after: {"seconds", "rss_before_kb", "rss_after_kb"} (bench weights).
"""
import argparse, json, os, resource, struct, sys, time
from collections import OrderedDict

import torch, torch.nn as nn, torch.nn.functional as F
import torchvision

torch.set_num_threads(2)

ST_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
             "I64": torch.int64, "I32": torch.int32}
ST_NAMES = {v: k for k, v in ST_DTYPES.items()}
FLOAT_DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}


def write_safetensors(path, tensors, metadata=None):
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        t = t.contiguous()
        raw = t.view(torch.uint8).numpy().tobytes() if t.dim() else t.reshape(1).view(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": ST_NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    body = memoryview(data)[8 + n:]
    out = OrderedDict()
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        t = torch.frombuffer(bytearray(body[b:e]), dtype=torch.uint8) if e > b else torch.empty(0, dtype=torch.uint8)
        out[name] = t.view(ST_DTYPES[info["dtype"]]).reshape(info["shape"]).clone()
    return out


def load_flat(path):
    """A weights file as a flat {name: tensor}: state_dict unwrapped, 'module.' stripped."""
    if path.endswith(".safetensors"):
        sd = read_safetensors(path)
    else:
        sd = torch.load(path, map_location="cpu")
        for key in ("state_dict", "model"):
            if isinstance(sd, dict) and key in sd and isinstance(sd[key], dict):
                sd = sd[key]
    return OrderedDict((k[len("module."):] if k.startswith("module.") else k, v) for k, v in sd.items())


def resnet(arch, small_stem):
    m = getattr(torchvision.models, arch)()
    if small_stem:
        m.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        m.maxpool = nn.Identity()
    return m


def randomise_batchnorm(module, seed):
    for i, bn in enumerate(x for x in module.modules() if isinstance(x, nn.modules.batchnorm._BatchNorm)):
        with torch.no_grad():
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_(0, 0.1)
            bn.running_mean.normal_(0, 0.1)
            bn.running_var.uniform_(0.5, 1.5)
            bn.num_batches_tracked.fill_(1000 * seed + i)


def cmd_make(a):
    torch.manual_seed(a.seed)
    net = resnet(a.arch, a.small_stem)
    randomise_batchnorm(net, a.seed)
    sd = net.state_dict()
    if a.layout == "swav":
        trunk_dim = net.fc.in_features
        sd = OrderedDict((k, v) for k, v in sd.items() if not k.startswith("fc."))
        if a.hidden_mlp:
            head = nn.Sequential(nn.Linear(trunk_dim, a.hidden_mlp), nn.BatchNorm1d(a.hidden_mlp), nn.ReLU(),
                                 nn.Linear(a.hidden_mlp, a.feat_dim))
            randomise_batchnorm(head, a.seed + 1)
        else:
            head = nn.Linear(trunk_dim, a.feat_dim)
        for k, v in head.state_dict().items():
            sd["projection_head." + k] = v
        if a.nmb_prototypes == 1:
            sd["prototypes.weight"] = nn.Linear(a.feat_dim, a.prototypes, bias=False).weight.detach()
        else:
            for i in range(a.nmb_prototypes):
                sd[f"prototypes.prototypes{i}.weight"] = nn.Linear(a.feat_dim, a.prototypes, bias=False).weight.detach()
        sd = OrderedDict(("module." + k, v) for k, v in sd.items())
    dtype = FLOAT_DTYPES[a.dtype]
    sd = OrderedDict((k, v.to(dtype) if v.is_floating_point() else v) for k, v in sd.items())
    if a.format == "safetensors":
        write_safetensors(a.out, sd, {"format": "pt"})
    else:
        obj = {"epoch": 800, "arch": a.arch, "state_dict": sd} if a.layout == "swav" else sd
        torch.save(obj, a.out, _use_new_zipfile_serialization=(a.format == "zip"))
    print(json.dumps({"out": a.out, "tensors": len(sd), "bytes": os.path.getsize(a.out)}))


def cmd_features(a):
    import torchvision.transforms as T
    from PIL import Image
    sd = load_flat(a.weights)
    sd = OrderedDict((k, v.float() if v.is_floating_point() else v) for k, v in sd.items())
    net = resnet(a.arch, a.small_stem)
    net.fc = nn.Identity()
    net.load_state_dict({k: v for k, v in sd.items() if not k.startswith(("fc.", "projection_head", "prototypes"))}, strict=True)
    net.eval()
    tf = T.Compose([T.Resize(a.resize), T.CenterCrop(a.crop), T.ToTensor(),
                    T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
    names = sorted(n for n in os.listdir(a.images) if n.lower().endswith((".jpg", ".jpeg", ".png")))[:a.n]
    x = torch.stack([tf(Image.open(os.path.join(a.images, n)).convert("RGB")) for n in names])
    with torch.no_grad():
        f = net(x)
        if a.feature == "projection":
            if "projection_head.0.weight" in sd:
                hidden, feat = sd["projection_head.0.weight"].shape[0], sd["projection_head.3.weight"].shape[0]
                head = nn.Sequential(nn.Linear(f.shape[1], hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, feat))
            else:
                head = nn.Linear(f.shape[1], sd["projection_head.weight"].shape[0])
            head.load_state_dict({k[len("projection_head."):]: v for k, v in sd.items() if k.startswith("projection_head.")})
            f = F.normalize(head.eval()(f), dim=1)
    with open(a.out, "w") as out:
        json.dump({"names": names, "dim": f.shape[1], "features": f.tolist()}, out)


def cmd_check_export(a):
    got = read_safetensors(a.safetensors)
    ref = load_flat(a.reference)
    if a.layout == "torchvision":
        ref = OrderedDict((k, v) for k, v in ref.items() if not k.startswith(("fc.", "projection_head", "prototypes")))
        net = resnet(a.arch, a.small_stem)
        net.fc = nn.Identity()
        net.load_state_dict(got, strict=True)  # raises on a missing or unexpected key or a wrong shape
    problems = [f"missing {k}" for k in ref if k not in got] + [f"extra {k}" for k in got if k not in ref]
    for k in ref:
        if k in got:
            r, g = ref[k], got[k]
            if r.is_floating_point():
                r = r.float()
            if r.dtype != g.dtype or r.shape != g.shape or not torch.equal(r, g):
                problems.append(f"differs {k}: {g.dtype} {tuple(g.shape)} vs {r.dtype} {tuple(r.shape)}")
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"OK {len(got)} tensors")


def cmd_time_load(a):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    sd = read_safetensors(a.weights) if a.weights.endswith(".safetensors") else torch.load(a.weights, map_location="cpu")
    seconds = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "rss_before_kb": before, "rss_after_kb": after, "entries": len(sd)}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--arch", required=True, choices=["resnet18", "resnet34", "resnet50"])
    m.add_argument("--layout", required=True, choices=["swav", "torchvision"])
    m.add_argument("--format", required=True, choices=["zip", "legacy", "safetensors"])
    m.add_argument("--seed", type=int, required=True)
    m.add_argument("--out", required=True)
    m.add_argument("--small-stem", action="store_true")
    m.add_argument("--hidden-mlp", type=int, default=2048)
    m.add_argument("--feat-dim", type=int, default=128)
    m.add_argument("--prototypes", type=int, default=3000)
    m.add_argument("--nmb-prototypes", type=int, default=1)
    m.add_argument("--dtype", default="f32", choices=list(FLOAT_DTYPES))
    f = sub.add_parser("features")
    f.add_argument("--weights", required=True)
    f.add_argument("--arch", required=True)
    f.add_argument("--small-stem", action="store_true")
    f.add_argument("--images", required=True)
    f.add_argument("--n", type=int, default=8)
    f.add_argument("--resize", type=int, default=256)
    f.add_argument("--crop", type=int, default=224)
    f.add_argument("--feature", default="trunk", choices=["trunk", "projection"])
    f.add_argument("--out", required=True)
    c = sub.add_parser("check-export")
    c.add_argument("--safetensors", required=True)
    c.add_argument("--reference", required=True)
    c.add_argument("--layout", required=True, choices=["torchvision", "swav"])
    c.add_argument("--arch", required=True)
    c.add_argument("--small-stem", action="store_true")
    t = sub.add_parser("time-load")
    t.add_argument("--weights", required=True)
    a = p.parse_args()
    {"make": cmd_make, "features": cmd_features, "check-export": cmd_check_export, "time-load": cmd_time_load}[a.cmd](a)


if __name__ == "__main__":
    main()
