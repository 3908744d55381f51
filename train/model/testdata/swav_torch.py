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


def sinkhorn(out, epsilon, iterations):
    """The reference's distributed_sinkhorn on one process: codes (B x K) of scores out."""
    import torch
    with torch.no_grad():
        Q = torch.exp(out / epsilon).t()
        K, B = Q.shape
        Q /= torch.sum(Q)
        for _ in range(iterations):
            Q /= torch.sum(Q, dim=1, keepdim=True)
            Q /= K
            Q /= torch.sum(Q, dim=0, keepdim=True)
            Q /= B
        Q *= B
        return Q.t()


def swav_loss(net, groups, bs, crops_for_assign, temperature, epsilon, sinkhorn_iterations, queue=None, use_queue=False):
    """One SwAV forward as main_swav.py train() runs it: prototype normalisation, the trunk once
    per crop group (BatchNorm statistics per group), codes under no_grad with the queue, the
    swapped loss. groups are NCHW tensors, crop-major. Returns (loss, codes as lists); the
    queue (len(A) x L x feat, or None) is updated in place."""
    import torch, torch.nn.functional as F
    with torch.no_grad():
        net.prototypes.weight.copy_(F.normalize(net.prototypes.weight.data.clone(), dim=1, p=2))
    z = F.normalize(net.head(torch.cat([net.trunk(g) for g in groups])), dim=1, p=2)
    output = net.prototypes(z)
    embedding = z.detach()
    nviews = sum(g.shape[0] // bs for g in groups)
    loss, codes, use_the_queue = 0, [], False
    for i, crop_id in enumerate(crops_for_assign):
        with torch.no_grad():
            out = output[bs * crop_id: bs * (crop_id + 1)].detach()
            if queue is not None and use_queue:
                if use_the_queue or not torch.all(queue[i, -1, :] == 0):
                    use_the_queue = True
                    out = torch.cat((torch.mm(queue[i], net.prototypes.weight.t()), out))
                queue[i, bs:] = queue[i, :-bs].clone()
                queue[i, :bs] = embedding[crop_id * bs: (crop_id + 1) * bs]
            q = sinkhorn(out, epsilon, sinkhorn_iterations)[-bs:]
        codes.append(q.flatten().tolist())
        subloss = 0
        for v in [v for v in range(nviews) if v != crop_id]:
            subloss -= torch.mean(torch.sum(q * F.log_softmax(output[bs * v: bs * (v + 1)] / temperature, dim=1), dim=1))
        loss += subloss / (nviews - 1)
    return loss / len(crops_for_assign), codes


def lars_step(params, bufs, lr, weight_decay, trust, momentum, freeze_prototypes):
    """LARS (apex LARC, clip off) then momentum SGD, as the reference's optimiser; bufs holds the
    momentum buffers by parameter name; the prototypes are skipped while frozen."""
    import torch
    with torch.no_grad():
        for name, p in params.items():
            if "prototypes" in name and freeze_prototypes:
                continue
            g = p.grad
            pn, gn = torch.norm(p.data), torch.norm(g)
            if pn != 0 and gn != 0:
                g = (g + weight_decay * p.data) * (trust * pn / (gn + weight_decay * pn + 1e-8))
            bufs[name] = momentum * bufs[name] + g if name in bufs else g.clone()
            p.data -= lr * bufs[name]
