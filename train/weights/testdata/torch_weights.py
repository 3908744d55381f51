#!/usr/bin/python3
"""Fixtures and checks for the Go package train/weights, written and read by PyTorch itself.

Run with Debian's /usr/bin/python3 (python3-torch 1.13, python3-torchvision 0.14, python3-pil);
the Go tests call it through train/torchtest. There is no safetensors package there, so this
script reads and writes safetensors by hand (8-byte little-endian header length, JSON header,
raw little-endian data).

Subcommands (each prints its result on stdout; a failure exits non-zero):

  make         --arch resnet18|resnet34|resnet50|resnet50w2|resnet50w4|resnet50w5 --layout swav|torchvision
               --format zip|legacy|safetensors --seed N --out FILE
               [--small-stem] [--hidden-mlp 2048] [--feat-dim 128] [--prototypes 3000]
               [--nmb-prototypes 1] [--dtype f32|f16|bf16]
      A seeded torchvision ResNet (the wide resnet50wN: facebookresearch/swav's own
      src/resnet50.py network, SwAVResNet50 below) with randomised BatchNorm affine parameters and running
      statistics (so that eval mode matters), saved
        layout torchvision: model.state_dict() as is (fc.* and every num_batches_tracked);
        layout swav: as facebookresearch/swav saves it, {"epoch": 800, "arch": ARCH,
          "state_dict": {"module." + name}}: the trunk without fc, projection_head.{0,1,3}.*
          (Linear, BatchNorm1d, ReLU, Linear; a single Linear "projection_head.*" with
          --hidden-mlp 0) and prototypes.weight (or prototypes.prototypes{i}.weight with
          --nmb-prototypes > 1).
      zip is torch.save's default, legacy is _use_new_zipfile_serialization=False; safetensors
      holds the flat dict (with "module." for swav) and __metadata__ {"format": "pt"}. --dtype
      converts the float tensors (num_batches_tracked stays int64).
      Output: {"out": FILE, "tensors": COUNT, "bytes": SIZE}

  features     --weights FILE --arch ARCH [--small-stem] --images DIR --n N
               [--resize 256] [--crop 224] [--feature trunk|projection] --out OUT.json
      PyTorch's eval-mode features (floats widened to float32) of the first N .jpg/.jpeg/.png
      files of sorted(os.listdir(DIR)), with torchvision's evaluation transform (Resize,
      CenterCrop, ToTensor, ImageNet Normalize). trunk: the pooled trunk output (512 or 2048);
      projection: F.normalize(projection_head(trunk), dim=1).
      Output file: {"names": [file names], "dim": D, "features": [[float, ...], ...]}

  check-export --safetensors F --reference R --layout torchvision|swav --arch ARCH [--small-stem]
      F (an export written by the Go code) must hold exactly R's tensors under the layout's
      names ("module." stripped; torchvision: fc.*, projection_head.* and prototypes.* dropped),
      bit for bit once both sides are widened (floats to float32, integers to int64), and its
      trunk must load into torchvision's model (fc = Identity) with strict=True.
      Output: "OK <n> tensors" (exit 0), or every problem, one a line (exit 1).

  time-load    --weights FILE
      One load of FILE (torch.load, or this script's safetensors reader) timed inside the
      process, with the peak resident set before and after (cmd/pipeline bench weights).
      Output: {"seconds": S, "rss_before_kb": KB, "rss_after_kb": KB, "entries": COUNT}
"""
import argparse
import json
import os
import resource
import struct
import sys
import time
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

torch.set_num_threads(2)

ST_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
             "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
             "U8": torch.uint8, "BOOL": torch.bool}
ST_NAMES = {v: k for k, v in ST_DTYPES.items()}
FLOAT_DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}
HEAD_PREFIXES = ("projection_head.", "prototypes.")


# ---------------------------------------------------------------------------------------------
# Files

def write_safetensors(path, tensors, metadata=None):
    """Writes {name: tensor} as safetensors, tensors packed in the given order."""
    header, blobs, offset = OrderedDict(), [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": ST_NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)  # the data section starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for raw in blobs:
            f.write(raw)


def read_safetensors(path):
    """Reads a safetensors file into an OrderedDict {name: tensor}, in file order."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n], object_pairs_hook=OrderedDict)
    body = data[8 + n:]
    out = OrderedDict()
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = ST_DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        if not 0 <= begin <= end <= len(body):
            raise ValueError(f"{path}: {name}: data_offsets {begin}..{end} outside {len(body)} bytes")
        raw = torch.frombuffer(bytearray(body[begin:end]), dtype=torch.uint8) if end > begin \
            else torch.empty(0, dtype=torch.uint8)
        out[name] = raw.view(dtype).reshape(info["shape"])
    return out


def is_safetensors(path):
    """Sniffs the content, not the name (the Go tests name every fixture .pth): a torch.save zip
    starts with "PK", a legacy file with a pickle opcode; safetensors with a length and "{"."""
    with open(path, "rb") as f:
        head = f.read(9)
    return len(head) == 9 and not head.startswith(b"PK") and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] < os.path.getsize(path)


def load_raw(path):
    """What torch.load gives for a torch file, or the flat dict of a safetensors file."""
    return read_safetensors(path) if is_safetensors(path) else torch.load(path, map_location="cpu")


def load_flat(path):
    """A weights file as a flat OrderedDict {name: tensor}: a top-level "state_dict" unwrapped
    and a leading "module." stripped; dtypes as stored."""
    sd = load_raw(path)
    if isinstance(sd, dict) and isinstance(sd.get("state_dict"), dict):
        sd = sd["state_dict"]
    return OrderedDict((k[len("module."):] if k.startswith("module.") else k, v) for k, v in sd.items())


def widen(t):
    """The dtype both sides are compared (and computed) in: float32 or int64."""
    return t.float() if t.is_floating_point() else t.long()


def trunk_of(sd):
    return OrderedDict((k, v) for k, v in sd.items() if not k.startswith(("fc.",) + HEAD_PREFIXES))


# ---------------------------------------------------------------------------------------------
# Models

class SwAVResNet50(nn.Module):
    """facebookresearch/swav's src/resnet50.py ResNet(Bottleneck, [3, 4, 6, 3], widen=W), trunk and an fc
    (dropped by the swav layout): every width times W, the stem's included; ConstantPad2d(1) then a 7x7/2
    conv with padding 2; Bottleneck v1.5 (stride on the 3x3), torchvision's block and init."""

    def __init__(self, widen):
        super().__init__()
        from torchvision.models.resnet import Bottleneck
        self.padding = nn.ConstantPad2d(1, 0.0)
        n = 64 * widen
        self.conv1 = nn.Conv2d(3, n, kernel_size=7, stride=2, padding=2, bias=False)
        self.bn1 = nn.BatchNorm2d(n)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.inplanes = n
        for i, blocks in enumerate([3, 4, 6, 3]):
            planes, stride = n << i, 1 if i == 0 else 2
            down = None
            if stride != 1 or self.inplanes != planes * 4:
                down = nn.Sequential(nn.Conv2d(self.inplanes, planes * 4, 1, stride, bias=False), nn.BatchNorm2d(planes * 4))
            layers = [Bottleneck(self.inplanes, planes, stride, down)]
            self.inplanes = planes * 4
            layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*layers))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(self.inplanes, 1000)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(self.padding(x)))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


WIDE = {"resnet50w2": 2, "resnet50w4": 4, "resnet50w5": 5}


def resnet(arch, small_stem):
    if arch in WIDE:
        return SwAVResNet50(WIDE[arch])
    m = getattr(torchvision.models, arch)(weights=None)
    if small_stem:
        m.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        m.maxpool = nn.Identity()
    return m


def trunk(arch, small_stem, tensors):
    """torchvision's ResNet (or the reference's wide one) without fc, holding tensors (strict=True),
    in eval mode."""
    m = resnet(arch, small_stem)
    m.fc = nn.Identity()
    m.load_state_dict(tensors, strict=True)
    return m.eval()


def projection_head(trunk_dim, hidden_mlp, feat_dim):
    """facebookresearch/swav's projection head: indices 0, 1, 3 hold tensors (2 is the ReLU)."""
    if hidden_mlp == 0:
        return nn.Linear(trunk_dim, feat_dim)
    return nn.Sequential(nn.Linear(trunk_dim, hidden_mlp), nn.BatchNorm1d(hidden_mlp), nn.ReLU(inplace=True),
                         nn.Linear(hidden_mlp, feat_dim))


def randomise_batchnorm(module, seed):
    """Trained-looking BatchNorm: affine parameters and running statistics away from 1/0."""
    bns = [x for x in module.modules() if isinstance(x, nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for i, bn in enumerate(bns):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_(0, 0.1)
            bn.running_mean.normal_(0, 0.1)
            bn.running_var.uniform_(0.5, 1.5)
            bn.num_batches_tracked.fill_(1000 * (abs(seed) % 1000000 + 1) + i)


def sanity_forward(net):
    """The eval-mode trunk output of one noise image must be finite, not all zero, not huge."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 3, 64, 64, generator=g)
    fc, net.fc = net.fc, nn.Identity()
    try:
        with torch.no_grad():
            y = net.eval()(x)
    finally:
        net.fc = fc
    peak = y.abs().max().item()
    if not torch.isfinite(y).all() or peak == 0 or peak > 1e5:
        raise SystemExit(f"make: implausible trunk output (max |y| = {peak})")


# ---------------------------------------------------------------------------------------------
# Subcommands

def cmd_make(a):
    torch.manual_seed(a.seed)
    net = resnet(a.arch, a.small_stem)
    randomise_batchnorm(net, a.seed)
    sd = OrderedDict(net.state_dict())
    if a.layout == "swav":
        sd = OrderedDict((k, v) for k, v in sd.items() if not k.startswith("fc."))
        head = projection_head(net.fc.in_features, a.hidden_mlp, a.feat_dim)
        randomise_batchnorm(head, a.seed + 1)
        for k, v in head.state_dict().items():
            sd["projection_head." + k] = v
        protos = [nn.Linear(a.feat_dim, a.prototypes, bias=False) for _ in range(a.nmb_prototypes)]
        if a.nmb_prototypes == 1:
            sd["prototypes.weight"] = protos[0].weight
        else:
            for i, p in enumerate(protos):
                sd[f"prototypes.prototypes{i}.weight"] = p.weight
        sd = OrderedDict(("module." + k, v) for k, v in sd.items())
    sanity_forward(net)
    dtype = FLOAT_DTYPES[a.dtype]
    sd = OrderedDict((k, v.detach().to(dtype) if v.is_floating_point() else v.detach()) for k, v in sd.items())
    if a.format == "safetensors":
        write_safetensors(a.out, sd, {"format": "pt"})
    else:
        obj = {"epoch": 800, "arch": a.arch, "state_dict": sd} if a.layout == "swav" else sd
        torch.save(obj, a.out, _use_new_zipfile_serialization=(a.format == "zip"))
    print(json.dumps({"out": a.out, "tensors": len(sd), "bytes": os.path.getsize(a.out)}))


def cmd_features(a):
    import torchvision.transforms as T
    from PIL import Image
    sd = OrderedDict((k, widen(v)) for k, v in load_flat(a.weights).items())
    net = trunk(a.arch, a.small_stem, trunk_of(sd))
    tf = T.Compose([T.Resize(a.resize), T.CenterCrop(a.crop), T.ToTensor(),
                    T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
    names = [n for n in sorted(os.listdir(a.images)) if n.lower().endswith((".jpg", ".jpeg", ".png"))][:a.n]
    if not names:
        raise SystemExit(f"features: no .jpg/.jpeg/.png in {a.images}")
    x = torch.stack([tf(Image.open(os.path.join(a.images, n)).convert("RGB")) for n in names])
    with torch.no_grad():
        y = net(x)
        if a.feature == "projection":
            head_sd = OrderedDict((k[len("projection_head."):], v) for k, v in sd.items()
                                  if k.startswith("projection_head."))
            if not head_sd:
                raise SystemExit(f"features: {a.weights} has no projection_head.*")
            if "0.weight" in head_sd:
                hidden, feat = head_sd["0.weight"].shape[0], head_sd["3.weight"].shape[0]
            else:
                hidden, feat = 0, head_sd["weight"].shape[0]
            head = projection_head(y.shape[1], hidden, feat)
            head.load_state_dict(head_sd, strict=True)
            y = F.normalize(head.eval()(y), dim=1)
    with open(a.out, "w") as out:
        json.dump({"names": names, "dim": int(y.shape[1]), "features": y.float().tolist()}, out)


def cmd_check_export(a):
    got = read_safetensors(a.safetensors)
    ref = load_flat(a.reference)
    if a.layout == "torchvision":
        ref = trunk_of(ref)
    problems = [f"missing {k}" for k in ref if k not in got] + [f"extra {k}" for k in got if k not in ref]
    for k in ref:
        if k not in got:
            continue
        r, g = widen(ref[k]), widen(got[k])
        if r.shape != g.shape:
            problems.append(f"shape {k}: {tuple(g.shape)}, reference {tuple(r.shape)}")
        elif r.is_floating_point() != g.is_floating_point():
            problems.append(f"dtype {k}: {got[k].dtype}, reference {ref[k].dtype}")
        elif not torch.equal(r, g):
            bad = (r != g).sum().item()
            problems.append(f"differs {k} ({got[k].dtype} vs reference {ref[k].dtype}): "
                            f"{bad} of {r.numel()} values, max |diff| {(r.double() - g.double()).abs().max().item():g}")
    try:  # the trunk must be torchvision's, exactly (strict=True: no missing, unexpected or reshaped key)
        tensors = got if a.layout == "torchvision" else trunk_of(got)
        trunk(a.arch, a.small_stem, OrderedDict((k, widen(v)) for k, v in tensors.items()))
    except RuntimeError as e:
        problems.append(f"load into torchvision.models.{a.arch}() with strict=True: {e}")
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"OK {len(got)} tensors")


def cmd_time_load(a):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    sd = load_raw(a.weights)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "rss_before_kb": before, "rss_after_kb": after, "entries": len(sd)}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    archs = ["resnet18", "resnet34", "resnet50"] + list(WIDE)

    m = sub.add_parser("make", help="write a seeded fixture")
    m.add_argument("--arch", required=True, choices=archs)
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

    f = sub.add_parser("features", help="PyTorch's eval-mode features of images")
    f.add_argument("--weights", required=True)
    f.add_argument("--arch", required=True, choices=archs)
    f.add_argument("--small-stem", action="store_true")
    f.add_argument("--images", required=True)
    f.add_argument("--n", type=int, required=True)
    f.add_argument("--resize", type=int, default=256)
    f.add_argument("--crop", type=int, default=224)
    f.add_argument("--feature", default="trunk", choices=["trunk", "projection"])
    f.add_argument("--out", required=True)

    c = sub.add_parser("check-export", help="check a safetensors export against its source")
    c.add_argument("--safetensors", required=True)
    c.add_argument("--reference", required=True)
    c.add_argument("--layout", required=True, choices=["torchvision", "swav"])
    c.add_argument("--arch", required=True, choices=archs)
    c.add_argument("--small-stem", action="store_true")

    t = sub.add_parser("time-load", help="time one load of a weights file")
    t.add_argument("--weights", required=True)

    a = p.parse_args()
    if a.cmd == "make" and (a.nmb_prototypes < 1 or a.hidden_mlp < 0):
        p.error("--nmb-prototypes must be >= 1 and --hidden-mlp >= 0")
    {"make": cmd_make, "features": cmd_features, "check-export": cmd_check_export,
     "time-load": cmd_time_load}[a.cmd](a)


if __name__ == "__main__":
    main()
