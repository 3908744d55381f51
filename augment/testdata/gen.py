#!/usr/bin/python3
"""Generates the augment fidelity vectors with Debian's Pillow 9.4 / torchvision 0.14.
usage: /usr/bin/python3 augment/testdata/gen.py [bench image dir]
Writes small PNG/JPEG/WebP files and vectors.json beside this script (a few KB each)."""
import io, json, math, os, sys
import numpy as np
import torch
from PIL import Image, ImageFilter
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "shared", "bench", "images")

def out(name):
    return os.path.join(HERE, name)

def f32(x):
    return float(np.float32(x))

# A real photograph, cut small: the source of every pixel test.
full = Image.open(os.path.join(BENCH, "000007.jpg")).convert("RGB")
src = full.crop((100, 80, 164, 128))  # 64x48
src.save(out("src.png"))
vec = {"pillow": Image.__version__, "torchvision": torchvision.__version__}

# Resize: crop box (left, top, w, h) -> size, down and up, as resized_crop does.
resize = []
for i, (left, top, w, h, ow, oh) in enumerate([(0, 0, 64, 48, 24, 24), (3, 5, 40, 30, 17, 13), (10, 2, 20, 17, 56, 56),
                                                (0, 0, 64, 48, 64, 30), (7, 1, 33, 45, 33, 96), (1, 1, 9, 7, 40, 31)]):
    r = F.resized_crop(src, top, left, h, w, [oh, ow], interpolation=T.InterpolationMode.BILINEAR)
    r.save(out("resize_%d.png" % i))
    resize.append({"left": left, "top": top, "w": w, "h": h, "ow": ow, "oh": oh, "file": "resize_%d.png" % i})
vec["resize"] = resize

# Colour ops on a 32x32 crop, torchvision's functional PIL path.
base = src.crop((8, 8, 40, 40))
base.save(out("color_src.png"))
color = []
for op, fs in [("brightness", [0.2, 0.61803, 1.0, 1.37, 1.8]), ("contrast", [0.2, 0.7321, 1.5, 1.8]),
               ("saturation", [0.2, 0.4142, 1.33, 1.8]), ("hue", [-0.2, -0.1, -0.0371, 0.013, 0.1, 0.2])]:
    for j, f in enumerate(fs):
        f = f32(f)
        img = getattr(F, "adjust_" + op)(base, f)
        name = "color_%s_%d.png" % (op, j)
        img.save(out(name))
        color.append({"op": op, "factor": f, "file": name})
# Nearly grey colours (s rounds to 0 in Pillow's HSV) and every hue sector.
rs = np.random.RandomState(3)
m = rs.randint(1, 256, size=(32, 32))
near = np.stack([m, np.maximum(m - rs.randint(0, 2, size=m.shape), 0), np.maximum(m - rs.randint(0, 3, size=m.shape), 0)], axis=2)
near[16:] = rs.randint(0, 256, size=(16, 32, 3))
Image.fromarray(near.astype(np.uint8), "RGB").save(out("color_near_grey.png"))
for j, f in enumerate([0.2, -0.05]):
    f = f32(f)
    name = "color_huegrey_%d.png" % j
    F.adjust_hue(Image.open(out("color_near_grey.png")), f).save(out(name))
    color.append({"op": "hue", "factor": f, "file": name, "src": "color_near_grey.png"})
g = F.rgb_to_grayscale(base, num_output_channels=3)
g.save(out("color_grayscale.png"))
color.append({"op": "grayscale", "factor": 0, "file": "color_grayscale.png"})
vec["color"] = color

# Gaussian blur (PIL GaussianBlur(radius=sigma), sigma as float32).
blur = []
for j, s in enumerate([0.1, 0.4, 0.8, 1.0, 1.3517, 2.0]):
    s = f32(s)
    img = base.filter(ImageFilter.GaussianBlur(radius=s))
    name = "blur_%d.png" % j
    img.save(out(name))
    blur.append({"sigma": s, "file": name})
vec["blur"] = blur

# ToTensor + Normalize of every grey level, std 0.228 (the reference's).
mean, std = [0.485, 0.456, 0.406], [0.228, 0.224, 0.225]
ramp = Image.fromarray(np.stack([np.arange(256, dtype=np.uint8)] * 3, axis=1).reshape(1, 256, 3), "RGB")
t = T.Normalize(mean, std)(T.ToTensor()(ramp))
vec["normalize"] = {"mean": mean, "std": std, "values": t.reshape(3, 256).tolist()}

# A full crop with fixed draws: resized_crop, flip, jitter in a given order, grayscale, blur.
chain = []
for j, c in enumerate([
    dict(top=4, left=6, h=37, w=50, size=28, flip=True, order=[2, 0, 3, 1], b=1.31, c=0.55, s=1.6, hue=-0.13, gray=False, sigma=0.9),
    dict(top=0, left=0, h=48, w=64, size=40, flip=False, order=[3, 1, 0, 2], b=0.7, c=1.7, s=0.3, hue=0.19, gray=True, sigma=1.7),
    dict(top=10, left=20, h=12, w=9, size=32, flip=True, order=[1, 3, 2, 0], b=1.05, c=1.2, s=0.9, hue=0.05, gray=False, sigma=0),
]):
    for k in ("b", "c", "s", "hue", "sigma"):
        c[k] = f32(c[k])
    img = F.resized_crop(src, c["top"], c["left"], c["h"], c["w"], [c["size"], c["size"]], interpolation=T.InterpolationMode.BILINEAR)
    if c["flip"]:
        img = F.hflip(img)
    for op in c["order"]:
        img = [lambda i: F.adjust_brightness(i, c["b"]), lambda i: F.adjust_contrast(i, c["c"]),
               lambda i: F.adjust_saturation(i, c["s"]), lambda i: F.adjust_hue(i, c["hue"])][op](img)
    if c["gray"]:
        img = F.rgb_to_grayscale(img, num_output_channels=3)
    if c["sigma"] > 0:
        img = img.filter(ImageFilter.GaussianBlur(radius=c["sigma"]))
    name = "chain_%d.png" % j
    img.save(out(name))
    c["file"] = name
    chain.append(c)
vec["chain"] = chain

# RandomResizedCrop.get_params statistics over many draws.
torch.manual_seed(0)
rrc = []
for (W, H, lo, hi) in [(500, 375, 0.14, 1.0), (375, 500, 0.05, 0.14), (28, 28, 0.14, 1.0), (1000, 100, 0.08, 1.0)]:
    n = 20000
    img = Image.new("RGB", (W, H))
    area, logr, fb = [], [], 0
    for _ in range(n):
        top, left, h, w = T.RandomResizedCrop.get_params(img, [lo, hi], [3 / 4, 4 / 3])
        area.append(w * h / (W * H)); logr.append(math.log(w / h))
    area, logr = np.array(area), np.array(logr)
    rrc.append({"w": W, "h": H, "min_scale": lo, "max_scale": hi, "n": n,
                "area_mean": area.mean(), "area_std": area.std(), "logr_mean": logr.mean(), "logr_std": logr.std(),
                "area_p10": float(np.percentile(area, 10)), "area_p90": float(np.percentile(area, 90))})
vec["rrc"] = rrc

# Decoding: a small real JPEG (colour), a grayscale JPEG, a CMYK JPEG, a grey PNG (Fashion-MNIST-like),
# an RGBA PNG, a paletted PNG, a lossless WebP; expected RGB as Pillow converts them.
dec = []
def add(name, img, **kw):
    img.save(out(name), **kw)
    exp = Image.open(out(name)).convert("RGB")
    ename = name.replace(".", "_") + "_rgb.png"
    exp.save(out(ename))
    dec.append({"file": name, "expect": ename, "exact": kw.pop("_exact", True)})
small = full.crop((200, 100, 280, 160))
add("dec_color.jpg", small, quality=90)
add("dec_gray.jpg", small.convert("L"), quality=90)
add("dec_gray.png", small.convert("L").resize((28, 28)))
add("dec_rgba.png", small.convert("RGBA"))
add("dec_pal.png", small.convert("P"))
try:
    add("dec_lossless.webp", small.resize((40, 30)), lossless=True)
except Exception as e:  # Pillow without WebP
    print("no webp:", e)
small.convert("CMYK").save(out("dec_cmyk.jpg"), quality=95)
Image.open(out("dec_cmyk.jpg")).convert("RGB").save(out("dec_cmyk_rgb.png"))
dec.append({"file": "dec_cmyk.jpg", "expect": "dec_cmyk_rgb.png", "exact": False})
vec["decode"] = dec

# Evaluation transform: Resize(shorter side) + CenterCrop, bilinear antialiased.
ev = []
for j, (rs, cs) in enumerate([(40, 32), (56, 56), (20, 16)]):
    img = T.CenterCrop(cs)(T.Resize(rs, interpolation=T.InterpolationMode.BILINEAR)(Image.open(out("dec_color_jpg_rgb.png")).convert("RGB")))
    name = "eval_%d.png" % j
    img.save(out(name))
    ev.append({"src": "dec_color_jpg_rgb.png", "resize": rs, "crop": cs, "file": name})
vec["eval"] = ev

with open(out("vectors.json"), "w") as f:
    json.dump(vec, f, indent=1)
print("wrote", out("vectors.json"))
