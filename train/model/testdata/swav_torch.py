"""The SwAV network in PyTorch, as the Go model package builds it: the trunk
("small" is ../shared/bench/ref_train_step.py's nn.Sequential; otherwise a
torchvision ResNet without fc, with the optional 3x3/1 stem and no max-pool),
the projection head and the bias-free prototypes. One definition for the
scripts that generate or compute the Go tests' references:
train/model/testdata/gen_state_dict_specs.py, train/cpu/testdata/gen_reference.py
and train/xla/testdata/torch_step.py (add this folder to sys.path).
Parameters are created in torch's current default dtype."""
import torch.nn as nn, torch.nn.functional as F


class Block(nn.Module):  # ref_train_step.py's residual block
    def __init__(s, c):
        super().__init__()
        s.c1 = nn.Conv2d(c, c, 3, 1, 1, bias=False); s.b1 = nn.BatchNorm2d(c)
        s.c2 = nn.Conv2d(c, c, 3, 1, 1, bias=False); s.b2 = nn.BatchNorm2d(c)

    def forward(s, x):
        return F.relu(x + s.b2(s.c2(F.relu(s.b1(s.c1(x))))))


def ResNet8():
    """The Go model's "resnet8": a 3x3/1 stem (3->32), one torchvision BasicBlock per stage
    at 32, 64/2 and 128/2, global average pool (torchvision's names)."""
    from torchvision.models.resnet import BasicBlock
    layers = [("conv1", nn.Conv2d(3, 32, 3, 1, 1, bias=False)), ("bn1", nn.BatchNorm2d(32)), ("relu", nn.ReLU())]
    inp = 32
    for i, (width, stride) in enumerate([(32, 1), (64, 2), (128, 2)]):
        down = None
        if stride != 1 or inp != width:
            down = nn.Sequential(nn.Conv2d(inp, width, 1, stride, bias=False), nn.BatchNorm2d(width))
        layers.append((f"layer{i + 1}", nn.Sequential(BasicBlock(inp, width, stride, down))))
        inp = width
    layers += [("avgpool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten())]
    from collections import OrderedDict
    return nn.Sequential(OrderedDict(layers))


def trunk(arch, small_stem):
    """The trunk module and its output width."""
    if arch == "small":
        return nn.Sequential(nn.Conv2d(3, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                             Block(32), Block(32),
                             nn.Conv2d(32, 64, 3, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten()), 64
    import torchvision  # only the ResNets need it (slow to import)
    if arch == "resnet8":
        return ResNet8(), 128
    m = getattr(torchvision.models, arch)()
    dim = m.fc.in_features
    m.fc = nn.Identity()
    if small_stem:
        m.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        m.maxpool = nn.Identity()
    return m, dim


class SwAVNet(nn.Module):
    """trunk, head (Linear, or Linear-BN-ReLU-Linear when hidden > 0) and
    prototypes, named as the Go model's state_dict names."""

    def __init__(s, arch, small_stem, hidden, feat, k):
        super().__init__()
        s.trunk, dim = trunk(arch, small_stem)
        if hidden == 0:
            s.head = nn.Linear(dim, feat)
        else:
            s.head = nn.Sequential(nn.Linear(dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, feat))
        s.prototypes = nn.Linear(feat, k, bias=False)
