"""Deep features: backbones, determinism on CPU, honest out-of-fold features that carry signal."""

import numpy as np
import pytest
import torch

from engine.cohort.manifest import assign_splits, load_manifest
from engine.cohort.synth import SynthSpec, synthesize_cohort
from engine.errors import ValidationError
from engine.features.deep import DeepFeatureSettings, build_backbone, deep_features, embed, resolve_device, tumour_crops
from engine.stats import auc


@pytest.mark.parametrize(
    "name, dims", [("resnet10", 2), ("resnet18", 2), ("resnet34", 3), ("resnet50", 2), ("densenet121", 2)]
)
def test_backbones_give_penultimate_features(name, dims):
    network = build_backbone(name, in_channels=3, spatial_dims=dims, width=8).eval()
    shape = (2, 3, 32, 32) if dims == 2 else (2, 3, 16, 16, 16)
    crops = np.random.default_rng(0).random(shape).astype(np.float32)
    with torch.no_grad():
        assert network(torch.from_numpy(crops)).shape == (2, 1)
    features = embed(network, crops)
    assert features.ndim == 2 and features.shape[0] == 2 and features.shape[1] >= 64


def test_device_resolution():
    assert resolve_device("auto") in ("cpu", "cuda")
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(ValidationError, match="device"):
        resolve_device("tpu")


@pytest.fixture(scope="module")
def cohort_120(tmp_path_factory):
    manifest = synthesize_cohort(
        tmp_path_factory.mktemp("deep"),
        SynthSpec(n=120, centers=2, shape=(12, 40, 40), spacing=(1.0, 1.0, 3.0), seed=5),
    )
    return assign_splits(load_manifest(manifest), seed=0)


def test_crops_have_phases_as_channels(cohort_120):
    crops = tumour_crops(cohort_120, size=32)
    assert crops.shape == (120, 3, 32, 32)
    assert crops.min() >= 0 and crops.max() <= 1
    slices = tumour_crops(cohort_120, size=32, channels="slices")
    assert slices.shape == (120, 3, 32, 32)


def test_deep_features_are_deterministic_and_carry_signal(cohort_120):
    crops = tumour_crops(cohort_120, size=32)
    labels = cohort_120.table["label"].to_numpy()
    split = cohort_120.table["split"].to_numpy()
    settings = DeepFeatureSettings(width=8, epochs=8, folds=3, seed=1, device="cpu")
    first = deep_features(crops, labels, split, settings, cohort_120.table["patient_id"])
    second = deep_features(crops, labels, split, settings, cohort_120.table["patient_id"])
    np.testing.assert_array_equal(first.drop(columns="patient_id"), second.drop(columns="patient_id"))
    train = split == "train"
    assert set(first["deep_fold"][train]) == {0, 1, 2} and (first["deep_fold"][~train] == -1).all()
    fold_block = first.filter(regex="^dlfold0_").to_numpy()
    assert fold_block.shape[1] == first.filter(regex="^dl_").shape[1]
    assert np.isfinite(fold_block[train]).all() and np.isnan(fold_block[~train]).all()
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    values = first.filter(regex="^dl_").to_numpy()
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=5000)).fit(values[train], labels[train])
    held_out = auc(labels[~train], model.predict_proba(values[~train])[:, 1])
    assert held_out > 0.6, held_out


def test_gradcam_maps_match_a_hand_computation():
    """Grad-CAM (Selvaraju 2017) by hand: weights = spatial mean of d(logit)/d(layer4 activations); map =
    ReLU(sum_k w_k A_k), upsampled bilinearly to the crop and scaled to [0, 1] per patient."""
    import torch.nn.functional as F

    from engine.features.deep import gradcam_maps, train_network

    rng = np.random.default_rng(0)
    crops = rng.random((60, 3, 64, 64)).astype(np.float32) * 0.2
    labels = (np.arange(60) % 2).astype(int)
    crops[labels == 1, :, 16:32, 16:32] += 0.8
    network = train_network(crops, labels, DeepFeatureSettings(width=8, epochs=4, seed=0, device="cpu"))
    maps = gradcam_maps(network, crops[:6])
    assert maps.shape == (6, 64, 64) and maps.min() >= 0 and maps.max() <= 1 + 1e-6 and maps.std() > 0
    stored = {}
    handle = network.layer4.register_forward_hook(lambda module, inputs, output: stored.update(activation=output))
    x = torch.from_numpy(crops[:6])
    logit = network(x)[:, 0]
    handle.remove()
    gradients = torch.autograd.grad(logit.sum(), stored["activation"])[0]
    weights = gradients.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * stored["activation"]).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=(64, 64), mode="bilinear", align_corners=False)[:, 0].detach().numpy()
    low, high = cam.reshape(6, -1).min(axis=1)[:, None, None], cam.reshape(6, -1).max(axis=1)[:, None, None]
    expected = np.where(high > low, (cam - low) / np.where(high > low, high - low, 1), 0)
    np.testing.assert_allclose(maps, expected, atol=1e-4)
    # against the event: the same with minus the logit, i.e. ReLU of minus the weighted sum
    against = torch.relu(-(weights * stored["activation"]).sum(dim=1, keepdim=True))
    against = F.interpolate(against, size=(64, 64), mode="bilinear", align_corners=False)[:, 0].detach().numpy()
    low, high = against.reshape(6, -1).min(axis=1)[:, None, None], against.reshape(6, -1).max(axis=1)[:, None, None]
    expected_against = np.where(high > low, (against - low) / np.where(high > low, high - low, 1), 0)
    np.testing.assert_allclose(gradcam_maps(network, crops[:6], against=True), expected_against, atol=1e-4)


def test_three_dimensional_crops_train_a_3d_network(cohort_120):
    from engine.features.deep import tumour_crops_3d

    crops = tumour_crops_3d(cohort_120, size=24, depth=8)
    assert crops.shape == (120, 3, 8, 24, 24) and 0 <= crops.min() and crops.max() <= 1
    labels, split = cohort_120.table["label"].to_numpy(), cohort_120.table["split"].to_numpy()
    table = deep_features(
        crops, labels, split, DeepFeatureSettings(backbone="resnet10", width=8, epochs=2, folds=2, device="cpu")
    )
    assert table.shape[0] == 120 and table.filter(regex="^dl_").to_numpy().std() > 0


def _survival_crops(n: int, seed: int):
    """Noise crops with a bright blob whose intensity drives an exponential hazard (no binary label anywhere)."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    crops = rng.normal(0.3, 0.05, size=(n, 1, 24, 24)).astype(np.float32)
    crops[:, :, 8:16, 8:16] += (0.3 + 0.15 * signal)[:, None, None, None].astype(np.float32)
    event_time = rng.exponential(1 / np.exp(1.2 * signal))
    censor = rng.uniform(0.5, 3, n)
    return crops, np.minimum(event_time, censor), (event_time <= censor).astype(int)


def test_cnn_trained_with_the_cox_loss_on_a_survival_only_cohort():
    """objective="cox": the CNN learns from (time, event) alone; its out-of-fold and held-out features rank
    survival (Harrell's C of a Cox model on them, fitted on training, held out >= 0.7)."""
    from engine.stats.regression_models import LassoCoxModel
    from engine.stats import concordance_index

    crops, time, event = _survival_crops(160, 3)
    split = np.where(np.arange(160) < 110, "train", "internal")
    settings = DeepFeatureSettings(width=8, epochs=10, folds=3, seed=0, device="cpu", objective="cox")
    table = deep_features(crops, np.column_stack([time, event]), split, settings)
    features = table.filter(regex="^dl_")
    train = split == "train"
    model = LassoCoxModel(cv=3).fit(
        features[train].reset_index(drop=True), np.column_stack([time[train], event[train]])
    )
    held_out = concordance_index(
        time[~train], event[~train], model.predict(features[~train].reset_index(drop=True))
    ).c_index
    assert held_out >= 0.7


def test_cox_loss_against_the_partial_likelihood_by_hand():
    from engine.features.deep import cox_partial_likelihood_loss
    from engine.stats.regression_models import breslow_partial_log_likelihood

    rng = np.random.default_rng(0)
    time, event, eta = rng.exponential(1, 30), rng.random(30) < 0.6, rng.normal(size=30)
    loss = cox_partial_likelihood_loss(torch.tensor(eta), torch.tensor(time), torch.tensor(event.astype(float)))
    assert float(loss) == pytest.approx(-breslow_partial_log_likelihood(time, event, eta) / event.sum(), rel=1e-10)


def test_landmark_labels_leave_out_patients_censored_before_the_horizon():
    from engine.features.deep import landmark_labels

    labels = landmark_labels([1, 5, 2, 8], [1, 1, 0, 0], 3)
    np.testing.assert_array_equal(labels, [1.0, 0.0, np.nan, 0.0])
