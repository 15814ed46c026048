"""The default CNN of `lamina train --model cnn` learns lamina's generated shapes, and beats an MLP of about the same
size there: the shapes move around the image, which convolution and pooling absorb and an MLP must memorise."""

import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import lamina
from lamina import datasets, metrics, nn, optim
from lamina.cli.models import CNN_GENERIC, build_cnn


def accuracy_after_training(model, data, epochs, lr):
    lamina.fit(model, (data.X_train, data.y_train), loss=nn.CrossEntropyLoss(), epochs=epochs, batch_size=32,
               optimizer=optim.Adam(model.parameters(), lr=lr), progress=False)
    return metrics.accuracy(data.y_test, lamina.predict(model, data.X_test).argmax(1))


@pytest.fixture(scope="module")
def shapes_data():
    return datasets.load_images("shapes", n=1600, seed=0, normalize=True)  # 1280 train / 320 test images


def test_default_cnn_learns_shapes_and_beats_an_mlp_of_the_same_size(shapes_data):
    config = {**CNN_GENERIC, "image_shape": [1, 28, 28], "n_outputs": 6}
    # small convolutions: one BLAS thread is as fast, and much faster when other jobs share the two cores
    with threadpool_limits(1):
        start = time.perf_counter()
        lamina.manual_seed(0)
        cnn = build_cnn(config)  # LeNet-style: conv 6@5×5, pool, conv 16@5×5, pool, 120, 84, 6: 107,446 weights
        cnn_accuracy = accuracy_after_training(cnn, shapes_data, epochs=4, lr=3e-3)
        seconds = time.perf_counter() - start
        lamina.manual_seed(0)
        mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 6))  # 101,254 weights
        mlp_accuracy = accuracy_after_training(mlp, shapes_data, epochs=20, lr=1e-3)  # 4x the epochs: no excuse
    assert sum(p.numel() for p in cnn.parameters()) == 107_446
    assert sum(p.numel() for p in mlp.parameters()) == 101_254
    # measured (seed 0): CNN 0.787 after 4 epochs (5-10 s on the shared 2 cores); MLP 0.553 after 20 epochs (its
    # training accuracy passes 0.8: it memorises shapes at the places it saw them)
    assert cnn_accuracy >= 0.75, cnn_accuracy
    assert mlp_accuracy <= 0.65, mlp_accuracy
    assert cnn_accuracy - mlp_accuracy >= 0.15
    assert seconds < 30


def test_cnn_first_layer_filters_and_feature_maps(shapes_data, tmp_path):
    from lamina import plot

    lamina.manual_seed(0)
    model = build_cnn({**CNN_GENERIC, "image_shape": [1, 28, 28], "n_outputs": 6})
    maps, name = plot.feature_maps(model, shapes_data.X_test[:3])
    assert name == "1" and maps.shape == (3, 6, 28, 28) and maps.min() >= 0  # after the ReLU
    with lamina.no_grad():
        expected = model[1](model[0](shapes_data.X_test[:3])).array
    np.testing.assert_array_equal(maps, expected)
    assert model.training  # the mode is restored
    for path in (plot.plot_filters(model, tmp_path / "f.png"),
                 plot.plot_feature_maps(model, shapes_data.X_test[:3], tmp_path / "m.png", labels=["a", "b", "c"]),
                 plot.plot_images(shapes_data.X_test[:5], tmp_path / "i.png", labels=list("abcde"))):
        assert path.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="no Conv2d"):
        plot.plot_filters(nn.Sequential(nn.Linear(2, 2)), tmp_path / "x.png")
