"""Image transforms in the style of ``torchvision.transforms``: ``Compose``, ``ToTensor``, ``Normalize``,
``RandomCrop``, ``RandomHorizontalFlip``, ``RandomVerticalFlip``, ``RandomAffine``, ``Lambda``, with torchvision's
arguments and semantics, on images of shape (C, H, W) (or (..., H, W): a batch gets one draw of the random
parameters, as torchvision's tensor transforms do). Each takes a lamina Tensor or a NumPy array and returns the
same kind (``ToTensor`` returns a Tensor). Whole-array NumPy: no loop over pixels.

Random transforms draw from lamina's global random stream (``lamina.manual_seed`` makes them repeat; a
checkpoint restores it) or from ``generator=`` (a ``lamina.Generator``; torchvision has no such argument).

``TransformDataset(dataset, transform, target_transform)`` applies them per sample, so that a ``DataLoader``
draws fresh random crops, flips and shifts for each sample in each epoch::

    from lamina.data import DataLoader, TensorDataset, transforms as T

    augment = T.Compose([T.RandomAffine(degrees=15, translate=(0.1, 0.1)), T.Normalize((0.5,), (0.25,))])
    loader = DataLoader(T.TransformDataset(TensorDataset(X, y), augment), batch_size=64, shuffle=True)
"""

from __future__ import annotations

import math
import numbers
from enum import Enum

import numpy as np

from lamina import random as _random
from lamina.tensor import Tensor, from_numpy

__all__ = ["Compose", "ToTensor", "Normalize", "RandomCrop", "RandomHorizontalFlip", "RandomVerticalFlip",
           "RandomAffine", "Lambda", "InterpolationMode", "TransformDataset", "to_tensor", "normalize", "pad", "crop",
           "hflip", "vflip", "affine"]


class InterpolationMode(str, Enum):
    """How a resampling transform reads the input between pixels (torchvision's names; strings work too)."""

    NEAREST = "nearest"
    BILINEAR = "bilinear"


# ---------------------------------------------------------------------------------------------------------------
# functional forms (torchvision.transforms.functional), on arrays or Tensors of shape (..., H, W)
# ---------------------------------------------------------------------------------------------------------------
def _unwrap(img, what: str) -> tuple[np.ndarray, bool]:
    if isinstance(img, Tensor):
        array, is_tensor = img.array, True
    elif isinstance(img, np.ndarray):
        array, is_tensor = img, False
    else:
        raise TypeError(f"{what}: expected a lamina Tensor or a NumPy array, got {type(img).__name__}")
    if array.ndim < 2:
        raise ValueError(f"{what}: expected an image of shape (..., H, W), got shape {array.shape}")
    return array, is_tensor


def _wrap(array: np.ndarray, is_tensor: bool):
    return from_numpy(np.ascontiguousarray(array)) if is_tensor else array


def to_tensor(pic) -> Tensor:
    """An (H, W, C) or (H, W) NumPy array as a (C, H, W) float32 Tensor: uint8 values divided by 255 (into
    [0, 1]), other numbers taken as they are (torchvision keeps their dtype; lamina makes them float32)."""
    if not isinstance(pic, np.ndarray):
        raise TypeError(f"ToTensor: pic should be a NumPy array of shape (H, W, C) or (H, W), got "
                        f"{type(pic).__name__}")
    if pic.ndim not in (2, 3):
        raise ValueError(f"ToTensor: pic should be 2 or 3 dimensional (H, W[, C]), got {pic.ndim} dimensions")
    if pic.dtype.kind not in "biuf":
        raise TypeError(f"ToTensor: pic must hold numbers, got dtype {pic.dtype}")
    chw = (pic[:, :, None] if pic.ndim == 2 else pic).transpose(2, 0, 1)
    if pic.dtype == np.uint8:
        return from_numpy(np.ascontiguousarray(chw, dtype=np.float32) / np.float32(255))
    return from_numpy(np.ascontiguousarray(chw, dtype=np.float32))


def normalize(img, mean, std):
    """(img[c] − mean[c]) / std[c] for each channel c of a (..., C, H, W) image."""
    array, is_tensor = _unwrap(img, "Normalize")
    if array.ndim < 3:
        raise ValueError(f"Normalize: expected an image of shape (..., C, H, W), got shape {array.shape}")
    if array.dtype.kind != "f":
        raise TypeError(f"Normalize: input should be a float image, got dtype {array.dtype} (use ToTensor first)")
    mean = np.asarray(mean, dtype=array.dtype).reshape(-1, 1, 1)
    std = np.asarray(std, dtype=array.dtype).reshape(-1, 1, 1)
    if np.any(std == 0):
        raise ValueError(f"Normalize: std evaluated to zero after conversion to {array.dtype}, leading to division "
                         "by zero")
    c = array.shape[-3]
    for name, v in (("mean", mean), ("std", std)):
        if v.shape[0] not in (1, c):
            raise ValueError(f"Normalize: {v.shape[0]} {name} values for an image of {c} channels")
    return _wrap((array - mean) / std, is_tensor)


def _padding(padding) -> tuple[int, int, int, int]:
    """torchvision's padding argument as (left, top, right, bottom)."""
    if isinstance(padding, numbers.Integral):
        padding = (padding,)
    padding = tuple(int(p) for p in padding)
    if len(padding) == 1:
        return padding * 4
    if len(padding) == 2:
        return (padding[0], padding[1], padding[0], padding[1])
    if len(padding) == 4:
        return padding
    raise ValueError(f"padding must be an int or a sequence of 1, 2 or 4 ints, got {len(padding)} values")


PADDING_MODES = {"constant": "constant", "edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}


def pad(img, padding, fill=0, padding_mode: str = "constant"):
    """img (..., H, W) padded on its last two axes. ``padding``: an int for all sides, (left/right, top/bottom)
    or (left, top, right, bottom); ``padding_mode``: 'constant' (with ``fill``), 'edge', 'reflect' (without
    repeating the edge) or 'symmetric' (repeating it)."""
    array, is_tensor = _unwrap(img, "pad")
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"pad: padding_mode must be one of {', '.join(PADDING_MODES)}, got {padding_mode!r}")
    left, top, right, bottom = _padding(padding)
    if min(left, top, right, bottom) < 0:
        raise ValueError(f"pad: padding must be non-negative, got {padding}")
    widths = ((0, 0),) * (array.ndim - 2) + ((top, bottom), (left, right))
    extra = {"constant_values": fill} if padding_mode == "constant" else {}
    return _wrap(np.pad(array, widths, mode=padding_mode, **extra), is_tensor)


def crop(img, top: int, left: int, height: int, width: int):
    """The (height, width) window of img (..., H, W) whose top-left pixel is (top, left)."""
    array, is_tensor = _unwrap(img, "crop")
    return _wrap(array[..., top:top + height, left:left + width], is_tensor)


def hflip(img):
    """img mirrored left to right (its last axis reversed)."""
    array, is_tensor = _unwrap(img, "hflip")
    return _wrap(array[..., ::-1], is_tensor)


def vflip(img):
    """img mirrored top to bottom (its second-to-last axis reversed)."""
    array, is_tensor = _unwrap(img, "vflip")
    return _wrap(array[..., ::-1, :], is_tensor)


def _inverse_affine_matrix(center, angle, translate, scale, shear) -> np.ndarray:
    """torchvision's ``_get_inverse_affine_matrix``: the 2×3 matrix from output to input coordinates of
    M = T·C·R(angle)·S(scale)·SHy·SHx·C⁻¹ (T: translation, C: to the centre, angle clockwise in degrees)."""
    rot, sx, sy = math.radians(angle), math.radians(shear[0]), math.radians(shear[1])
    (cx, cy), (tx, ty) = center, translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    m = np.array([d, -b, 0.0, -c, a, 0.0]) / scale  # the inverse of [[a, b], [c, d]] (its determinant is 1)
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty)
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty)
    m[2] += cx
    m[5] += cy
    return m.reshape(2, 3)


def affine(img, angle: float, translate, scale: float, shear, interpolation=InterpolationMode.NEAREST, fill=0,
           center=None):
    """img (..., H, W) rotated clockwise by ``angle`` degrees about ``center`` (default: the image centre),
    scaled, sheared (degrees: a number for x, or (x, y)) and shifted by ``translate`` = (dx, dy) pixels, as
    ``torchvision.transforms.functional.affine`` on tensors: each output pixel reads the input at the inverse
    transform of its centre, with nearest (round half to even) or bilinear interpolation; pixels from outside
    the input take ``fill`` (a number, or one per channel)."""
    array, is_tensor = _unwrap(img, "affine")
    mode = InterpolationMode(interpolation)
    if isinstance(shear, numbers.Number):
        shear = (shear, 0.0)
    h, w = array.shape[-2:]
    center_f = (0.0, 0.0) if center is None else (center[0] - w * 0.5, center[1] - h * 0.5)
    m = _inverse_affine_matrix(center_f, angle, [float(t) for t in translate], scale, [float(s) for s in shear])
    # output pixel centres relative to the image centre, mapped into the input, then to input pixel indices
    x = np.arange(w, dtype=np.float64) - (w - 1) / 2
    y = np.arange(h, dtype=np.float64)[:, None] - (h - 1) / 2
    src_x = m[0, 0] * x + m[0, 1] * y + m[0, 2] + (w - 1) / 2
    src_y = m[1, 0] * x + m[1, 1] * y + m[1, 2] + (h - 1) / 2
    dtype = array.dtype if array.dtype.kind == "f" else np.dtype(np.float32)
    if mode is InterpolationMode.NEAREST:
        col, row = np.rint(src_x).astype(np.int64), np.rint(src_y).astype(np.int64)
        inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
        out = np.where(inside, array[..., row.clip(0, h - 1), col.clip(0, w - 1)], 0).astype(dtype)
        coverage = inside.astype(dtype)
    else:
        x0, y0 = np.floor(src_x), np.floor(src_y)
        out, coverage = np.zeros(array.shape, dtype=dtype), np.zeros((h, w), dtype=dtype)
        for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):  # the four neighbours, weighted (not a pixel loop)
            col, row = (x0 + dx).astype(np.int64), (y0 + dy).astype(np.int64)
            weight = (1 - np.abs(src_x - col)) * (1 - np.abs(src_y - row))
            weight = np.where((col >= 0) & (col < w) & (row >= 0) & (row < h), weight, 0.0).astype(dtype)
            out += weight * array[..., row.clip(0, h - 1), col.clip(0, w - 1)]
            coverage += weight
    # torchvision blends in the fill by the sampled coverage of an all-ones image (thresholded at 0.5 for nearest)
    fill = np.asarray(fill, dtype=dtype).reshape(-1, 1, 1) if array.ndim >= 3 else np.asarray(fill, dtype=dtype)
    if mode is InterpolationMode.NEAREST:
        out = np.where(coverage < 0.5, fill, out)
    else:
        out = out * coverage + (1 - coverage) * fill
    if array.dtype.kind != "f":  # integer images stay integers (rounded), as in torchvision
        return _wrap(np.round(out).astype(array.dtype), is_tensor)
    return _wrap(out.astype(dtype, copy=False), is_tensor)


# ---------------------------------------------------------------------------------------------------------------
# transform objects
# ---------------------------------------------------------------------------------------------------------------
class Compose:
    """Apply ``transforms`` one after the other."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"{type(self).__name__}({inner}\n)"


class ToTensor:
    """An (H, W, C) or (H, W) NumPy array (uint8: values 0..255) as a (C, H, W) float32 Tensor in [0, 1]."""

    def __call__(self, pic) -> Tensor:
        return to_tensor(pic)

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """(x[c] − mean[c]) / std[c] per channel of a (..., C, H, W) float image."""

    def __init__(self, mean, std, inplace: bool = False):
        self.mean, self.std, self.inplace = tuple(np.ravel(mean).tolist()), tuple(np.ravel(std).tolist()), inplace

    def __call__(self, img):
        return normalize(img, self.mean, self.std)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={list(self.mean)}, std={list(self.std)})"


def _pair(size, what: str) -> tuple[int, int]:
    if isinstance(size, numbers.Integral):
        return int(size), int(size)
    size = tuple(size)
    if len(size) == 1:
        return int(size[0]), int(size[0])
    if len(size) != 2:
        raise ValueError(f"{what}: please provide only two dimensions (h, w) for size, got {size}")
    return int(size[0]), int(size[1])


class RandomCrop:
    """A random (h, w) window of the image, after ``padding`` (see ``pad``), as torchvision: the top-left
    corner is uniform over every place the window fits. ``pad_if_needed`` pads an image smaller than the
    window; otherwise a window larger than the (padded) image raises."""

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0, padding_mode: str = "constant", *,
                 generator=None):
        self.size = _pair(size, "RandomCrop")
        if padding is not None:
            _padding(padding)  # refuses a malformed padding now, not at the first sample
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"RandomCrop: padding_mode must be one of {', '.join(PADDING_MODES)}, "
                             f"got {padding_mode!r}")
        self.padding, self.pad_if_needed, self.fill, self.padding_mode = padding, pad_if_needed, fill, padding_mode
        self.generator = generator

    def get_params(self, img, output_size) -> tuple[int, int, int, int]:
        """(top, left, height, width) of a random crop of ``output_size`` from img."""
        h, w = (img.array if isinstance(img, Tensor) else img).shape[-2:]
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: required crop size {(th, tw)} is larger than input image size {(h, w)}")
        if (h, w) == (th, tw):
            return 0, 0, h, w
        rng = _random.rng(self.generator)
        return int(rng.integers(0, h - th + 1)), int(rng.integers(0, w - tw + 1)), th, tw

    def __call__(self, img):
        if self.padding is not None:
            img = pad(img, self.padding, self.fill, self.padding_mode)
        h, w = (img.array if isinstance(img, Tensor) else img).shape[-2:]
        if self.pad_if_needed and w < self.size[1]:
            img = pad(img, (self.size[1] - w, 0), self.fill, self.padding_mode)
        if self.pad_if_needed and h < self.size[0]:
            img = pad(img, (0, self.size[0] - h), self.fill, self.padding_mode)
        return crop(img, *self.get_params(img, self.size))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, padding={self.padding})"


class _RandomFlip:
    flip = staticmethod(hflip)

    def __init__(self, p: float = 0.5, *, generator=None):
        if not 0 <= p <= 1:
            raise ValueError(f"{type(self).__name__}: p must be a probability in [0, 1], got {p}")
        self.p, self.generator = p, generator

    def __call__(self, img):
        _unwrap(img, type(self).__name__)
        return self.flip(img) if _random.rng(self.generator).random() < self.p else img

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class RandomHorizontalFlip(_RandomFlip):
    """Mirror the image left to right with probability ``p``."""


class RandomVerticalFlip(_RandomFlip):
    """Mirror the image top to bottom with probability ``p``."""

    flip = staticmethod(vflip)


def _range(value, name: str, center: float = 0.0) -> tuple[float, float]:
    """A number d as (center − d, center + d) (d ≥ 0), or a (min, max) pair as it is."""
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"RandomAffine: if {name} is a single number, it must be positive, got {value}")
        return center - float(value), center + float(value)
    value = tuple(float(v) for v in value)
    if len(value) != 2:
        raise ValueError(f"RandomAffine: if {name} is a sequence, it must be of length 2, got {value}")
    return value


class RandomAffine:
    """A random rotation (``degrees``: d for [−d, d], or (min, max); clockwise), shift (``translate`` = (a, b):
    up to a·width and b·height pixels, rounded to whole pixels), ``scale`` = (min, max) and ``shear`` (d,
    (min, max) along x, or (xmin, xmax, ymin, ymax)) about the image centre, drawn per call as torchvision's
    ``RandomAffine``; resampled by ``affine`` (nearest by default, or ``interpolation='bilinear'``)."""

    def __init__(self, degrees, translate=None, scale=None, shear=None, interpolation=InterpolationMode.NEAREST,
                 fill=0, center=None, *, generator=None):
        self.degrees = _range(degrees, "degrees")
        if translate is not None:
            translate = tuple(float(t) for t in translate)
            if len(translate) != 2 or not all(0.0 <= t <= 1.0 for t in translate):
                raise ValueError(f"RandomAffine: translate should be two values between 0 and 1, got {translate}")
        if scale is not None:
            scale = tuple(float(s) for s in scale)
            if len(scale) != 2 or min(scale) <= 0:
                raise ValueError(f"RandomAffine: scale should be two positive values, got {scale}")
        if shear is not None:
            if isinstance(shear, numbers.Number):
                shear = _range(shear, "shear")
            shear = tuple(float(s) for s in shear)
            if len(shear) not in (2, 4):
                raise ValueError(f"RandomAffine: shear should be a number or a sequence of 2 or 4 values, got {shear}")
        self.translate, self.scale, self.shear = translate, scale, shear
        self.interpolation = InterpolationMode(interpolation)
        self.fill, self.center, self.generator = fill, center, generator

    def get_params(self, img_size) -> tuple[float, tuple[int, int], float, tuple[float, float]]:
        """(angle, (tx, ty), scale, (shear_x, shear_y)) for an image of ``img_size`` = (width, height)."""
        rng = _random.rng(self.generator)
        angle = float(rng.uniform(*self.degrees))
        tx = ty = 0
        if self.translate is not None:
            max_dx, max_dy = self.translate[0] * img_size[0], self.translate[1] * img_size[1]
            tx, ty = int(round(rng.uniform(-max_dx, max_dx))), int(round(rng.uniform(-max_dy, max_dy)))
        scale = float(rng.uniform(*self.scale)) if self.scale is not None else 1.0
        shear_x = shear_y = 0.0
        if self.shear is not None:
            shear_x = float(rng.uniform(self.shear[0], self.shear[1]))
            if len(self.shear) == 4:
                shear_y = float(rng.uniform(self.shear[2], self.shear[3]))
        return angle, (tx, ty), scale, (shear_x, shear_y)

    def __call__(self, img):
        array, _ = _unwrap(img, "RandomAffine")
        angle, translate, scale, shear = self.get_params((array.shape[-1], array.shape[-2]))
        return affine(img, angle, translate, scale, shear, self.interpolation, self.fill, self.center)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(degrees={list(self.degrees)}, translate={self.translate}, scale={self.scale}, "
                f"shear={self.shear}, interpolation={self.interpolation.value})")


class Lambda:
    """A function of your own as a transform."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Lambda: argument should be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# ---------------------------------------------------------------------------------------------------------------
# applying them per sample
# ---------------------------------------------------------------------------------------------------------------
class TransformDataset:
    """The samples (x, y) of ``dataset`` as (transform(x), target_transform(y)), computed when read: a
    DataLoader over it draws new random parameters for each sample each time (torchvision's datasets take the
    same two arguments). Either transform may be None (the value passes unchanged)."""

    def __init__(self, dataset, transform=None, target_transform=None):
        if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            raise TypeError(f"TransformDataset needs a dataset with __getitem__ and __len__, got "
                            f"{type(dataset).__name__}")
        self.dataset, self.transform, self.target_transform = dataset, transform, target_transform

    def __getitem__(self, index):
        x, y = self.dataset[index]
        if self.transform is not None:
            x = self.transform(x)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y

    def __len__(self) -> int:
        return len(self.dataset)
