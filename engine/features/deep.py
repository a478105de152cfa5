"""Deep-learning features: a CNN (MONAI ResNet or DenseNet, 2-D or 3-D) trained on tumour crops of the training
split, its penultimate layer as features for every patient.

Crops come from the mask's bounding box plus a margin; in 2-D the largest tumour slice with the phases (or three
adjacent slices) as channels. Training never sees internal or external patients; training patients get
out-of-fold features (k folds inside the training split), so downstream models see honest values. Nothing is
downloaded: start from scratch or from a local weights file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from engine.cohort.manifest import Cohort
from engine.cohort.images import largest_slice, read_image
from engine.common.device import resolve_device
from engine.errors import ValidationError

HU_WINDOW = (-100.0, 250.0)


def tumour_crops_3d(
    cohort: Cohort, *, size: int = 32, depth: int = 16, margin_mm: float = 10.0, window: tuple[float, float] = HU_WINDOW
) -> np.ndarray:
    """3-D crops (n, phases, depth, size, size): the tumour's bounding box plus a margin in every direction,
    one channel per phase, resampled trilinearly, intensities in [0, 1]."""
    import SimpleITK as sitk
    import torch
    import torch.nn.functional as F

    crops = []
    for _, row in cohort.table.iterrows():
        first = cohort.phases[0]
        mask = sitk.GetArrayFromImage(read_image(row[cohort.mask_column(first)])) > 0
        spacing = read_image(row[f"image_{first}"]).GetSpacing()
        zs, ys, xs = np.nonzero(mask)
        margins = [
            int(round(margin_mm / spacing[2])),
            int(round(margin_mm / spacing[1])),
            int(round(margin_mm / spacing[0])),
        ]
        bounds = [(max(v.min() - m, 0), min(v.max() + m + 1, n)) for v, m, n in zip((zs, ys, xs), margins, mask.shape)]
        volumes = [sitk.GetArrayFromImage(read_image(row[f"image_{phase}"])) for phase in cohort.phases]
        stack = np.stack(
            [v[bounds[0][0] : bounds[0][1], bounds[1][0] : bounds[1][1], bounds[2][0] : bounds[2][1]] for v in volumes]
        ).astype(np.float32)
        stack = (np.clip(stack, *window) - window[0]) / (window[1] - window[0])
        resized = F.interpolate(
            torch.from_numpy(stack)[None], size=(depth, size, size), mode="trilinear", align_corners=False
        )[0]
        crops.append(resized.numpy())
    return np.stack(crops)


def tumour_crops(
    cohort: Cohort,
    *,
    size: int = 64,
    margin_mm: float = 10.0,
    channels: str = "phases",
    window: tuple[float, float] = HU_WINDOW,
) -> np.ndarray:
    """2-D crops (n, channels, size, size) around each patient's largest tumour slice, intensities in [0, 1].

    ``channels="phases"``: one channel per phase (three phases -> an RGB-like crop);
    ``"slices"``: three adjacent slices of the first phase. ``tumour_crops_3d`` gives 3-D crops.
    """
    import SimpleITK as sitk
    import torch
    import torch.nn.functional as F

    crops = []
    for _, row in cohort.table.iterrows():
        first = cohort.phases[0]
        mask = sitk.GetArrayFromImage(read_image(row[cohort.mask_column(first)])) > 0
        image = read_image(row[f"image_{first}"])
        spacing = image.GetSpacing()
        best = largest_slice(mask)
        ys, xs = np.nonzero(mask[best])
        margin_y, margin_x = int(round(margin_mm / spacing[1])), int(round(margin_mm / spacing[0]))
        y0, y1 = max(ys.min() - margin_y, 0), min(ys.max() + margin_y + 1, mask.shape[1])
        x0, x1 = max(xs.min() - margin_x, 0), min(xs.max() + margin_x + 1, mask.shape[2])
        if channels == "phases":
            planes = [
                sitk.GetArrayFromImage(image if phase == first else read_image(row[f"image_{phase}"]))[best]
                for phase in cohort.phases
            ]
        elif channels == "slices":
            volume = sitk.GetArrayFromImage(image)
            planes = [volume[int(np.clip(best + k, 0, volume.shape[0] - 1))] for k in (-1, 0, 1)]
        else:
            raise ValidationError(f"channels must be 'phases' or 'slices'; got {channels!r}.")
        stack = np.stack([plane[y0:y1, x0:x1] for plane in planes]).astype(np.float32)
        stack = (np.clip(stack, *window) - window[0]) / (window[1] - window[0])
        resized = F.interpolate(torch.from_numpy(stack)[None], size=(size, size), mode="bilinear", align_corners=False)[
            0
        ]
        crops.append(resized.numpy())
    return np.stack(crops)


def build_backbone(name: str, in_channels: int, spatial_dims: int = 2, width: int = 32):
    """A MONAI network with one output logit; ``width`` is the first stage's channel count (ResNets)."""
    from monai.networks.nets import DenseNet121, ResNet

    layers = {"resnet10": [1, 1, 1, 1], "resnet18": [2, 2, 2, 2], "resnet34": [3, 4, 6, 3], "resnet50": [3, 4, 6, 3]}
    if name in layers:
        return ResNet(
            block="bottleneck" if name == "resnet50" else "basic",
            layers=layers[name],
            block_inplanes=[width, width * 2, width * 4, width * 8],
            spatial_dims=spatial_dims,
            n_input_channels=in_channels,
            num_classes=1,
            conv1_t_size=3,
            conv1_t_stride=1,
        )
    if name == "densenet121":
        return DenseNet121(spatial_dims=spatial_dims, in_channels=in_channels, out_channels=1)
    raise ValidationError(f"backbone must be one of {[*layers, 'densenet121']}; got {name!r}.")


def _head(network):
    return "fc" if hasattr(network, "fc") else "class_layers"


@dataclasses.dataclass
class DeepFeatureSettings:
    backbone: str = "resnet10"
    width: int = 16
    epochs: int = 12
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = 4
    folds: int = 3
    seed: int = 0
    device: str = "auto"
    weights: str | None = None
    objective: str = "binary"  # binary: BCE on the label; cox: Cox partial likelihood on (time, event)

    def __post_init__(self) -> None:
        if self.objective not in ("binary", "cox"):
            raise ValidationError(f"objective must be 'binary' or 'cox'; got {self.objective!r}.")


def cox_partial_likelihood_loss(eta, time, event):
    """Negative Cox partial log-likelihood (Breslow) of a batch, averaged over its events (0 without events):
    -sum_{i: event} (eta_i - log sum_{j: t_j >= t_i} exp(eta_j)) / #events (DeepSurv, Katzman et al. 2018)."""
    import torch

    order = torch.argsort(time, descending=True)
    eta, event = eta[order], event[order]
    log_risk_set = torch.logcumsumexp(eta, dim=0)
    return -((eta - log_risk_set) * event).sum() / event.sum().clamp(min=1.0)


def landmark_labels(time: np.ndarray, event: np.ndarray, horizon: float) -> np.ndarray:
    """Binary "event by the horizon" labels for training a classifier on a survival endpoint: 1 if the event
    happened by ``horizon``, 0 if followed event-free beyond it, NaN if censored before it (left out of training,
    as the landmark papers do)."""
    time, event = np.asarray(time, float), np.asarray(event).astype(bool)
    return np.where(event & (time <= horizon), 1.0, np.where(time > horizon, 0.0, np.nan))


def _augment(batch, generator):
    import torch

    if torch.rand(1, generator=generator).item() < 0.5:
        batch = batch.flip(-1)
    if torch.rand(1, generator=generator).item() < 0.5:
        batch = batch.flip(-2)
    turns = int(torch.randint(0, 4, (1,), generator=generator).item())
    batch = torch.rot90(batch, turns, dims=(-2, -1))
    return batch * (1 + 0.1 * (torch.rand(1, generator=generator).item() - 0.5))


def train_network(crops: np.ndarray, labels: np.ndarray, settings: DeepFeatureSettings):
    """Train on ``crops``/``labels`` (early stopping on a 20% validation part of them); return the network.
    ``labels``: 0/1 for the binary objective; an (n, 2) array of (time, event) for the Cox objective."""
    import torch

    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    device = resolve_device(settings.device)
    network = build_backbone(settings.backbone, crops.shape[1], spatial_dims=crops.ndim - 2, width=settings.width)
    if settings.weights:
        state = torch.load(Path(settings.weights), map_location="cpu", weights_only=True)
        network.load_state_dict(state, strict=False)
    network.to(device)
    rng = np.random.default_rng(settings.seed)
    order = rng.permutation(len(labels))
    n_val = max(int(0.2 * len(labels)), 2)
    val, train = order[:n_val], order[n_val:]
    x = torch.from_numpy(crops).float()
    y = torch.from_numpy(labels.astype(np.float32))
    optimiser = torch.optim.AdamW(network.parameters(), lr=settings.learning_rate, weight_decay=1e-4)
    if settings.objective == "cox":

        def loss_function(output, target):
            return cox_partial_likelihood_loss(output, target[:, 0], target[:, 1])
    else:
        loss_function = torch.nn.BCEWithLogitsLoss()
    use_amp = device == "cuda"
    best_loss, best_state, waited = np.inf, None, 0
    for _ in range(settings.epochs):
        network.train()
        for start in range(0, len(train), settings.batch_size):
            rows = train[start : start + settings.batch_size]
            batch = _augment(x[rows], generator).to(device)
            optimiser.zero_grad()
            with torch.autocast(
                device_type="cuda", dtype=torch.bfloat16, enabled=use_amp
            ):  # bf16: no loss scaling needed
                loss = loss_function(network(batch).squeeze(1), y[rows].to(device))
            loss.backward()
            optimiser.step()
        network.eval()
        with torch.no_grad():
            val_loss = float(loss_function(network(x[val].to(device)).squeeze(1).float(), y[val].to(device)))
        if val_loss < best_loss - 1e-4:
            best_loss, waited = val_loss, 0
            best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
        else:
            waited += 1
            if waited >= settings.patience:
                break
        train = train[rng.permutation(len(train))]
    if best_state is not None:
        network.load_state_dict(best_state)
    return network.eval()


def embed(network, crops: np.ndarray, device: str = "cpu", batch_size: int = 64) -> np.ndarray:
    """Penultimate-layer features (the head replaced by identity)."""
    import torch

    head = _head(network)
    original = getattr(network, head)
    setattr(network, head, torch.nn.Identity())
    outputs = []
    try:
        with torch.no_grad():
            for start in range(0, len(crops), batch_size):
                batch = torch.from_numpy(crops[start : start + batch_size]).float().to(device)
                outputs.append(network(batch).flatten(1).float().cpu().numpy())
    finally:
        setattr(network, head, original)
    return np.concatenate(outputs)


def gradcam_maps(network, crops: np.ndarray, device: str = "cpu", *, against: bool = False) -> np.ndarray:
    """Grad-CAM heat maps (n, H, W) in [0, 1] for the event logit, from the last convolutional stage
    (MONAI ``GradCAM``; ``layer4`` of a ResNet, the final ReLU of a DenseNet). ``against=True``: for minus the logit
    (the evidence against the event, Grad-CAM of the other class of a single-logit network)."""
    import torch
    from monai.visualize import GradCAM

    layer = "layer4" if hasattr(network, "layer4") else "class_layers.relu"
    if against:
        network, layer = _Negated(network), f"inner.{layer}"
    cam = GradCAM(nn_module=network.eval(), target_layers=layer, postprocessing=lambda x: x)
    maps = []
    for start in range(0, len(crops), 32):
        batch = torch.from_numpy(crops[start : start + 32]).float().to(device)
        maps.append(cam(x=batch, class_idx=0).detach().float().cpu().numpy()[:, 0])
    raw = np.concatenate(maps)
    low = raw.reshape(len(raw), -1).min(axis=1)[:, None, None]
    span = raw.reshape(len(raw), -1).max(axis=1)[:, None, None] - low
    # min-max per patient; a constant map (no positive evidence anywhere) stays 0 rather than MONAI's 1
    return np.where(span > 0, (raw - low) / np.where(span > 0, span, 1), 0.0)


def gradcam_for_or_against(network, crops: np.ndarray, device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM maps of the event logit, and for the crops where that map is 0 everywhere (no evidence for the
    event), of minus the logit (evidence against it). Returns (maps, against) with ``against`` a bool per crop."""
    maps = gradcam_maps(network, crops, device)
    against = ~maps.reshape(len(maps), -1).any(axis=1)
    if against.any():
        maps[against] = gradcam_maps(network, crops[against], device, against=True)
    return maps, against


def _Negated(network):
    import torch

    class Negated(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return -self.inner(x)

    return Negated(network)


def deep_features(
    crops: np.ndarray,
    labels: np.ndarray,
    split: Sequence[str],
    settings: DeepFeatureSettings = DeepFeatureSettings(),
    patient_ids: Sequence[str] | None = None,
    *,
    return_network: bool = False,
):
    """Penultimate-layer features per patient: ``dl_000 ...`` from the network trained on the whole training split
    (every patient); ``dlfold<k>_000 ...`` from the network trained without fold ``k`` (training patients only) and
    ``deep_fold``, each training patient's fold (-1 elsewhere). Each network has its own feature space, so the
    grid fits on one block at a time (engine.models.deep_folds). ``return_network=True`` also returns the final
    network.

    ``labels``: 0/1 (binary objective; NaN leaves a patient out of training, e.g. landmark_labels' censored-early
    patients, who are still embedded), or an (n, 2) array of (time, event) for ``objective="cox"`` (a
    survival-only study: no binary label needed). Folds are stratified by the label or the event."""
    from sklearn.model_selection import StratifiedKFold

    split = np.asarray(split)
    labels = np.asarray(labels, dtype=float)
    cox = settings.objective == "cox"
    if cox and (labels.ndim != 2 or labels.shape[1] != 2):
        raise ValidationError(
            f"the Cox objective needs labels as an (n, 2) array of (time, event); got shape {labels.shape}."
        )
    known = np.isfinite(labels).all(axis=1) if cox else np.isfinite(labels)
    in_training = np.flatnonzero(split == "train")
    train = np.flatnonzero((split == "train") & known)
    strata = labels[:, 1] if cox else labels
    if train.size < 10 or len(np.unique(strata[train])) < 2:
        kind = "events and event-free patients" if cox else "both classes"
        raise ValidationError(
            f"the training split must hold at least 10 patients of {kind} to train a CNN; got {train.size}."
        )
    device = resolve_device(settings.device)
    fold_of = np.full(len(labels), -1)  # patients left out of training (unknown landmark label) keep -1
    blocks = {}
    folds = StratifiedKFold(settings.folds, shuffle=True, random_state=settings.seed)
    for k, (inner_train, held_out) in enumerate(folds.split(train, strata[train])):
        fold_of[train[held_out]] = k
        network = train_network(crops[train[inner_train]], labels[train[inner_train]], settings)
        embedded = embed(network, crops[in_training], device)  # every training patient, also those left out of fitting
        values = np.full((len(labels), embedded.shape[1]), np.nan, dtype=np.float32)
        values[in_training] = embedded
        blocks[k] = values
    final = train_network(crops[train], labels[train], settings)
    features = embed(final, crops, device)
    table = pd.DataFrame(features, columns=[f"dl_{j:03d}" for j in range(features.shape[1])])
    for k, values in blocks.items():
        table = pd.concat(
            [table, pd.DataFrame(values, columns=[f"dlfold{k}_{j:03d}" for j in range(values.shape[1])])], axis=1
        )
    table["deep_fold"] = fold_of
    table.insert(0, "patient_id", list(patient_ids) if patient_ids is not None else np.arange(len(labels)).astype(str))
    return (table, final) if return_network else table


def training_target(settings, table, survival_endpoints: list[str]):
    """(objective for DeepFeatureSettings, labels for deep_features) from the cohort table, for a study's deep
    settings (engine.config.DeepConfig): the binary label, or a survival endpoint's (time, event) or landmark."""
    if settings.objective == "binary":
        if "label" not in table:
            raise ValueError(
                "deep.objective binary needs the label column; a survival-only study trains its CNN with "
                "deep.objective: cox (or landmark)"
            )
        return "binary", table["label"].to_numpy(float)
    endpoint = settings.endpoint or (survival_endpoints[0] if survival_endpoints else None)
    if endpoint is None or f"{endpoint}_time" not in table:
        raise ValueError(
            f"deep.objective {settings.objective} needs a survival endpoint (deep.endpoint); got {endpoint!r}"
        )
    time, event = table[f"{endpoint}_time"].to_numpy(float), table[f"{endpoint}_event"].to_numpy(float)
    if settings.objective == "cox":
        return "cox", np.column_stack([time, event])
    return "binary", landmark_labels(time, event, settings.landmark)


def study_crops(settings, cohort) -> np.ndarray:
    """The tumour crops a study's deep settings ask for: 2-D (largest slice) or 3-D (the tumour's box)."""
    if settings.spatial_dims == 3:
        return tumour_crops_3d(cohort, size=settings.size, depth=settings.depth)
    return tumour_crops(cohort, size=settings.size, channels=settings.channels)
