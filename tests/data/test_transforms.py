"""torchvision-style transforms: exact results on small known images, seeding, and per-sample use by a DataLoader."""

import numpy as np
import pytest

import lamina
from lamina.data import DataLoader, TensorDataset, TransformDataset
from lamina.data import transforms as T

IMAGE = np.arange(12, dtype=np.float32).reshape(1, 3, 4)  # one channel, 3 rows, 4 columns


def test_reachable_as_lamina_data_transforms_and_utils_data():
    assert lamina.data.transforms is T
    assert lamina.utils.data.transforms is T and lamina.utils.data.TransformDataset is TransformDataset


def test_to_tensor_hwc_uint8_to_chw_float_in_unit_range():
    pic = np.array([[[0, 255, 51], [102, 0, 255]]], dtype=np.uint8)  # H=1, W=2, C=3
    t = T.ToTensor()(pic)
    assert isinstance(t, lamina.Tensor) and t.shape == (3, 1, 2) and t.dtype == np.float32
    np.testing.assert_allclose(t.array[:, 0, :], [[0, 0.4], [1, 0], [0.2, 1]], rtol=1e-6)
    gray = T.to_tensor(np.full((2, 3), 255, dtype=np.uint8))
    assert gray.shape == (1, 2, 3) and gray.array.max() == 1.0
    floats = T.to_tensor(np.full((2, 2, 1), 7.0))  # not uint8: values kept
    assert floats.dtype == np.float32 and floats.array.max() == 7.0
    with pytest.raises(TypeError, match="NumPy array"):
        T.ToTensor()(lamina.zeros(2, 2))


def test_normalize_arithmetic_per_channel():
    img = np.stack([np.full((2, 2), 1.0), np.full((2, 2), 5.0)]).astype(np.float32)
    out = T.Normalize(mean=(0.5, 1.0), std=(0.25, 2.0))(img)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], 2.0)  # (1 − 0.5) / 0.25
    np.testing.assert_array_equal(out[1], 2.0)  # (5 − 1) / 2
    batch = T.normalize(lamina.from_numpy(np.stack([img, img])), (0.5, 1.0), (0.25, 2.0))
    assert isinstance(batch, lamina.Tensor) and batch.shape == (2, 2, 2, 2)
    np.testing.assert_array_equal(batch.array[1], out)
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize((0.0,), (0.0,))(img)
    with pytest.raises(ValueError, match="3 mean values for an image of 2 channels"):
        T.Normalize((0, 0, 0), (1, 1, 1))(img)


def test_horizontal_and_vertical_flips():
    assert T.RandomHorizontalFlip(p=1.0)(IMAGE)[0].tolist() == [[3, 2, 1, 0], [7, 6, 5, 4], [11, 10, 9, 8]]
    assert T.RandomVerticalFlip(p=1.0)(IMAGE)[0].tolist() == [[8, 9, 10, 11], [4, 5, 6, 7], [0, 1, 2, 3]]
    assert T.RandomHorizontalFlip(p=0.0)(IMAGE) is IMAGE
    flipped = T.hflip(lamina.from_numpy(IMAGE))
    assert isinstance(flipped, lamina.Tensor) and flipped.array[0, 0].tolist() == [3, 2, 1, 0]


def test_flip_probability_and_seed():
    lamina.manual_seed(0)
    flips = [T.RandomHorizontalFlip(0.3)(IMAGE)[0, 0, 0] == 3 for _ in range(2000)]
    assert 0.26 < np.mean(flips) < 0.34
    g1, g2 = lamina.Generator().manual_seed(5), lamina.Generator().manual_seed(5)
    a = [T.RandomHorizontalFlip(generator=g1)(IMAGE)[0, 0, 0] for _ in range(20)]
    b = [T.RandomHorizontalFlip(generator=g2)(IMAGE)[0, 0, 0] for _ in range(20)]
    assert a == b


def test_random_crop_with_padding_is_a_window_of_the_padded_image():
    padded = T.pad(IMAGE, 1)
    assert padded.shape == (1, 5, 6)
    assert padded[0, 0].tolist() == [0] * 6 and padded[0, 1].tolist() == [0, 0, 1, 2, 3, 0]
    crop = T.RandomCrop((3, 4), padding=1)
    lamina.manual_seed(0)
    seen = set()
    for _ in range(200):
        out = crop(IMAGE)
        assert out.shape == (1, 3, 4)
        # the crop equals the padded image at some offset (top in 0..2, left in 0..2)
        offsets = [(i, j) for i in range(3) for j in range(3) if np.array_equal(padded[:, i:i + 3, j:j + 4], out)]
        assert offsets
        seen.update(offsets)
    assert seen == {(i, j) for i in range(3) for j in range(3)}  # every position comes up
    assert np.array_equal(T.RandomCrop((3, 4))(IMAGE), IMAGE)  # the whole image: nothing random


def test_crop_and_pad_details():
    assert T.crop(IMAGE, 1, 2, 2, 2)[0].tolist() == [[6, 7], [10, 11]]
    assert T.pad(IMAGE, (1, 0))[0, 0].tolist() == [0, 0, 1, 2, 3, 0]  # (left/right, top/bottom)
    assert T.pad(IMAGE, (2, 0, 0, 1), fill=-1)[0].tolist()[-1] == [-1] * 6  # (left, top, right, bottom)
    assert T.pad(IMAGE, 1, padding_mode="edge")[0, 0].tolist() == [0, 0, 1, 2, 3, 3]
    assert T.pad(IMAGE, 1, padding_mode="reflect")[0, 0].tolist() == [5, 4, 5, 6, 7, 6]
    assert T.RandomCrop(5, pad_if_needed=True)(IMAGE).shape == (1, 5, 5)
    with pytest.raises(ValueError, match="larger than input image size"):
        T.RandomCrop(5)(IMAGE)
    with pytest.raises(ValueError, match="padding_mode"):
        T.RandomCrop(3, padding=1, padding_mode="wrap")


def test_random_affine_without_change_is_the_identity():
    img = np.random.default_rng(0).random((3, 9, 11)).astype(np.float32)
    for interpolation in ("nearest", "bilinear"):
        out = T.RandomAffine(degrees=0, translate=(0, 0), interpolation=interpolation)(img)
        np.testing.assert_allclose(out, img, atol=1e-6)


def test_affine_shift_rotation_and_fill():
    img = np.zeros((1, 5, 5), dtype=np.float32)
    img[0, 1, 2] = 1.0  # a dot above the centre
    shifted = T.affine(img, angle=0, translate=(1, 2), scale=1.0, shear=0)
    assert np.argwhere(shifted[0]).tolist() == [[3, 3]]  # one column right, two rows down
    rotated = T.affine(img, angle=90, translate=(0, 0), scale=1.0, shear=0)
    assert np.argwhere(rotated[0] > 0.5).tolist() == [[2, 3]]  # clockwise: above the centre goes to its right
    filled = T.affine(img, angle=0, translate=(2, 0), scale=1.0, shear=0, fill=7.0)
    assert filled[0, :, :2].tolist() == [[7, 7]] * 5  # pixels from outside the image take the fill
    half = T.affine(np.ones((1, 4, 4), np.float32), 0, (0, 0), 1.0, 0, interpolation="bilinear", fill=0)
    np.testing.assert_allclose(half, 1.0)  # bilinear at the identity keeps every pixel
    u8 = T.affine((img * 200).astype(np.uint8), 0, (1, 2), 1.0, 0, interpolation="bilinear")
    assert u8.dtype == np.uint8 and np.argwhere(u8[0]).tolist() == [[3, 3]] and u8[0, 3, 3] == 200


def test_affine_matches_torch_grid_sample():
    """torchvision's tensor affine is grid_sample over the grid its inverse matrix makes: the same numbers."""
    torch = pytest.importorskip("torch")
    img = np.random.default_rng(0).random((2, 9, 11)).astype(np.float32)
    for angle, translate, scale, shear in [(33, (2, -1), 1.0, (0, 0)), (-47, (1, 3), 1.2, (10, -5))]:
        m = torch.tensor(T._inverse_affine_matrix((0.0, 0.0), angle, translate, scale, shear), dtype=torch.float32)
        h, w = img.shape[1:]
        xs = torch.linspace(-w * 0.5 + 0.5, w * 0.5 - 0.5, w)
        ys = torch.linspace(-h * 0.5 + 0.5, h * 0.5 - 0.5, h)
        base = torch.stack([xs.expand(h, w), ys[:, None].expand(h, w), torch.ones(h, w)], -1).reshape(1, -1, 3)
        grid = base.bmm(m.reshape(1, 2, 3).transpose(1, 2) / torch.tensor([0.5 * w, 0.5 * h])).reshape(1, h, w, 2)
        x = torch.cat([torch.from_numpy(img), torch.ones(1, h, w)])[None]
        for mode in ("bilinear", "nearest"):
            out = torch.nn.functional.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)[0]
            expected = out[:-1] * out[-1:] if mode == "bilinear" else out[:-1] * (out[-1:] >= 0.5)
            mine = T.affine(img, angle, translate, scale, shear, interpolation=mode)
            # nearest ties (a source exactly halfway, e.g. at 30°) may round apart: torch is float32; none here
            np.testing.assert_allclose(mine, expected.numpy(), atol=1e-5)


def test_random_affine_parameters_follow_torchvision():
    lamina.manual_seed(0)
    t = T.RandomAffine(degrees=15, translate=(0.1, 0.2), scale=(0.9, 1.1), shear=5)
    for _ in range(200):
        angle, (tx, ty), scale, (sx, sy) = t.get_params((20, 10))
        assert -15 <= angle <= 15 and 0.9 <= scale <= 1.1 and -5 <= sx <= 5 and sy == 0
        assert isinstance(tx, int) and abs(tx) <= 2 and abs(ty) <= 2  # 0.1·20 and 0.2·10 pixels
    with pytest.raises(ValueError, match="translate should be two values between 0 and 1"):
        T.RandomAffine(0, translate=(0.5, 2))
    with pytest.raises(ValueError, match="degrees.*must be positive"):
        T.RandomAffine(-3)


def test_compose_and_lambda():
    t = T.Compose([T.RandomHorizontalFlip(1.0), T.Lambda(lambda x: x + 1), T.Normalize((1.0,), (2.0,))])
    assert t(IMAGE)[0, 0].tolist() == [1.5, 1.0, 0.5, 0.0]  # ((3, 2, 1, 0) + 1 − 1) / 2
    assert "RandomHorizontalFlip(p=1.0)" in repr(t)


def test_transform_dataset_draws_per_sample_through_the_dataloader():
    x = np.repeat(IMAGE[None], 64, axis=0)  # 64 copies of the same image
    data = TransformDataset(TensorDataset(x, np.arange(64)), T.RandomHorizontalFlip(0.5), lambda y: y * 10)
    assert len(data) == 64
    lamina.manual_seed(1)
    xb, yb = next(iter(DataLoader(data, batch_size=64)))
    assert xb.shape == (64, 1, 3, 4) and yb.tolist() == [10 * i for i in range(64)]
    flipped = xb.array[:, 0, 0, 0] == 3
    assert 0 < flipped.sum() < 64  # each sample drew its own flip
    lamina.manual_seed(1)
    again, _ = next(iter(DataLoader(data, batch_size=64)))
    np.testing.assert_array_equal(again.array, xb.array)  # and the seed repeats the draws
