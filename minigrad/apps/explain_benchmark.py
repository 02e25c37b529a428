"""The explain-benchmark: every method scored against ground-truth masks, with three baselines.

    rows = run_benchmark("shapes", model, n=500)      # trained AlexNet-lite on shapes
    print(format_table(rows))

Data sets with masks (see minigrad.data): 'shapes' (3x64x64 colour shapes, AlexNet-lite) and
'cluttered_mnist' (1x64x64 digit among fragments of other digits, a LeNet-style network).
`train_model` trains the matching model; `minigrad explain-benchmark` (apps/explain_cli.py) does
all of it from the command line.

Per method the table gives the pointing game, energy in mask, box IoU, deletion and insertion
AUC (metrics.py), the forward and backward passes used per image (counted with model hooks),
and the time per image.
"""
import time
from functools import partial

import numpy as np

from minigrad import nn, optim
from minigrad.data import (DATA_VERSIONS, DataLoader, TensorDataset, check_data_version,
                           cluttered_mnist, shapes)
from minigrad.data.cluttered_data import SIZE as CLUTTERED_SIZE
from minigrad.data.shapes_data import SIZE as SHAPES_SIZE
from minigrad.saliency import LAYER_METHODS, explain
from minigrad.saliency.layers import compare_layers
from minigrad.saliency.metrics import (BASELINES, baseline_maps, box_iou, deletion_insertion,
                                       energy_in_mask, pointing_game, sanity_check)

DATASETS = ("shapes", "cluttered_mnist")
BENCHMARK_METHODS = ("vanilla", "grad_x_input", "linearize", "smoothgrad",
                     "lrp", "deeplift", "gradient_shap",
                     "integrated_gradients", "guided_backprop", "deconvnet", "gradcam",
                     "gradcam++", "hirescam", "xgradcam", "layercam", "scorecam",
                     "guided_gradcam", "eigencam", "ablationcam", "occlusion", "fixations")


SPLITS = ("train", "validation", "test")


def load_dataset(name, n, split="test"):
    """(images float32 in [0, 1] (n, C, H, W), labels (n,), masks bool (n, H, W)).

    Test images come from a different seed (shapes) or split (cluttered_mnist) than training.
    'validation' is a third, independent set (seed 7; for cluttered_mnist, training digits on
    seed-7 canvases) for choices such as the CAM layer, so that the test set is never used to
    make them."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    seed = {"train": 0, "validation": 7, "test": 1}[split]
    if name == "shapes":
        images, labels, masks = shapes(n, size=SHAPES_SIZE, seed=seed)
    elif name == "cluttered_mnist":
        images, labels, masks = cluttered_mnist(n, seed=seed,
                                                split="test" if split == "test" else "train")
    else:
        raise ValueError(f"unknown data set {name!r}; expected one of {DATASETS}")
    return images.astype(np.float32) / 255, labels, masks


def cluttered_lenet(num_classes=10, size=CLUTTERED_SIZE):
    """LeNet-style network for 1x64x64 cluttered MNIST: three conv stages, the last at 16x16
    so that a Grad-CAM map on it still resolves a digit."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),          # 32x32
        nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),         # 16x16
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),         # 8x8
        nn.Flatten(), nn.Linear(64 * (size // 8) ** 2, 128), nn.ReLU(),
        nn.Linear(128, num_classes))


# Vision transformers for the benchmark's data sets: 8x8 patch grids on either image size.
VIT_ARCHITECTURES = {"tiny_vit_shapes": dict(image_size=SHAPES_SIZE, patch_size=SHAPES_SIZE // 8,
                                             in_channels=3),
                     "tiny_vit_cluttered": dict(image_size=CLUTTERED_SIZE, patch_size=8,
                                                in_channels=1)}
# The methods that apply to a ViT: the gradient methods that need no ReLU or conv layer,
# occlusion, and the attention methods (no CAM family: a ViT's only conv is its patch embedding)
VIT_BENCHMARK_METHODS = ("vanilla", "grad_x_input", "smoothgrad", "integrated_gradients",
                         "occlusion", "rollout", "attention", "token_gradcam")


def bcos_cluttered_lenet(num_classes=10, temperature=10.0, size=CLUTTERED_SIZE, design="v1"):
    """cluttered_lenet made of B-cos layers (models/bcos.py): [x, 1 - x], three B-cos conv
    stages with max pooling, two B-cos Linear layers, logits / temperature (bcos_lenet's,
    chosen on MNIST; not tuned here). design 'v2': no MaxOut, no fixed scale, uncentred norms."""
    from minigrad.models.bcos import BcosNet, bcos_classifier, bcos_conv
    features = nn.Sequential(
        *bcos_conv(2, 16, 5, 2.0, design, padding=2), nn.MaxPool2d(2),         # 32x32
        *bcos_conv(16, 32, 5, 2.0, design, padding=2), nn.MaxPool2d(2),        # 16x16
        *bcos_conv(32, 64, 3, 2.0, design, padding=1), nn.MaxPool2d(2))        # 8x8
    classifier = bcos_classifier((64 * (size // 8) ** 2, 128, num_classes), 2.0, design)
    return BcosNet(features, classifier, temperature)


# B-cos networks: no ReLU and no Conv2d, so no CAM family or ReLU rules; the gradient methods,
# occlusion and their own explanation
BCOS_ARCHITECTURES = ("bcos_alexnet_lite", "bcos_alexnet_lite_v2", "bcos_cluttered_lenet",
                      "bcos_cluttered_lenet_v2")
BCOS_BENCHMARK_METHODS = ("vanilla", "grad_x_input", "smoothgrad", "integrated_gradients",
                          "occlusion", "bcos")
ARCHITECTURES = ("lenet5", "alexnet_lite", "alexnet_lite_bn", "cluttered_lenet",
                 *VIT_ARCHITECTURES, *BCOS_ARCHITECTURES)
DEFAULT_ARCHITECTURE = {"mnist": "lenet5", "shapes": "alexnet_lite_bn",
                        "cluttered_mnist": "cluttered_lenet"}


def benchmark_methods(architecture):
    """The methods that apply to `architecture`."""
    if architecture in VIT_ARCHITECTURES:
        return VIT_BENCHMARK_METHODS
    return BCOS_BENCHMARK_METHODS if architecture in BCOS_ARCHITECTURES else BENCHMARK_METHODS


def build_model(architecture):
    """An untrained model of one of ARCHITECTURES (weights seeded for reproducibility)."""
    from minigrad.models import AlexNetLite, LeNet5, bcos_alexnet_lite, get_model, tiny_vit
    builders = {"lenet5": LeNet5, "alexnet_lite": partial(AlexNetLite, image_size=SHAPES_SIZE),
                "alexnet_lite_bn": partial(AlexNetLite, batch_norm=True, image_size=SHAPES_SIZE),
                "cluttered_lenet": cluttered_lenet,
                "bcos_cluttered_lenet": bcos_cluttered_lenet,
                "bcos_cluttered_lenet_v2": partial(bcos_cluttered_lenet, temperature=1.0,
                                                   design="v2"),
                "bcos_alexnet_lite": partial(bcos_alexnet_lite, image_size=SHAPES_SIZE),
                "bcos_alexnet_lite_v2": partial(get_model, "bcos_alexnet_lite_v2",
                                                image_size=SHAPES_SIZE),
                **{name: partial(tiny_vit, **sizes) for name, sizes in VIT_ARCHITECTURES.items()}}
    if architecture not in builders:
        raise ValueError(f"unknown architecture {architecture!r}; expected one of "
                         f"{ARCHITECTURES}")
    nn.manual_seed(0)
    return builders[architecture]()


def new_model(dataset):
    """The benchmark's architecture for `dataset`, untrained."""
    return build_model(DEFAULT_ARCHITECTURE[dataset])


def load_model(path, architecture, dataset=None):
    """(model in eval mode, preprocess) from the weights at `path`.

    Either a file of `minigrad train` (recipes.save_trained: weights and config; its model
    expects images normalised by the recipe's mean and std, which `preprocess` applies to
    [0, 1] images) or a file of `save_benchmark_model` (or a bare state dict, nn.save(model,
    path)) of `architecture`, trained on [0, 1] images as train_model does (preprocess is the
    identity). dataset: what it will be scored on; a generated data set's version must be the
    one recorded in the file (none recorded: version 1), else DataVersionError."""
    from minigrad.apps.recipes import load_trained, recipe_for
    state = nn.load(path)
    if any(name.startswith("config.") for name in state):
        model, config = load_trained(path)
        if dataset is not None and dataset != config["dataset"]:
            raise ValueError(f"{path} was trained on {config['dataset']}, not {dataset}")
        recipe = recipe_for(config["dataset"], config["model"])
        mean = np.asarray(recipe.mean, dtype=np.float32)[:, None, None]
        std = np.asarray(recipe.std, dtype=np.float32)[:, None, None]
        return model, lambda images: (images - mean) / std
    if dataset in DATA_VERSIONS:
        check_data_version(dataset, state.get("data_version"), what=str(path))
    weights = nn.select(state, "model") if "data_version" in state else state
    model = build_model(architecture)
    model.load_state_dict(weights)
    return model.eval(), lambda images: images


def save_benchmark_model(model, dataset, path):
    """The weights and the version of the data set they were trained on, for load_model."""
    nn.save({"model": model.state_dict(), "data_version": np.int64(DATA_VERSIONS[dataset])},
            path)


def train_model(dataset, n_train=12000, epochs=4, lr=1e-3, path=None, progress=True,
                architecture=None, one_cycle=False, val_n=0):
    """Train the benchmark's model on `dataset` (or `architecture`) with Adam, at lr throughout
    or (one_cycle) under recipes.one_cycle's schedule peaking at lr; save its weights to `path`.
    val_n > 0: watch that many validation images every epoch (the curve that recipes are
    chosen on, printed with progress). -> (model, test accuracy on 1000 images)."""
    from minigrad.apps.recipes import one_cycle as one_cycle_schedule
    from minigrad.train import evaluate, fit
    images, labels, _ = load_dataset(dataset, n_train, split="train")
    model = new_model(dataset) if architecture is None else build_model(architecture)
    loader = DataLoader(TensorDataset(images, labels), batch_size=64, shuffle=True, seed=0)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    schedule = one_cycle_schedule(optimizer, lr, epochs, len(loader)) if one_cycle else None
    val_loader = None
    if val_n:
        val_images, val_labels, _ = load_dataset(dataset, val_n, split="validation")
        val_loader = DataLoader(TensorDataset(val_images, val_labels), batch_size=200)
    fit(model, loader, val_loader, optimizer=optimizer, epochs=epochs, scheduler=schedule,
        scheduler_step="batch", progress=progress, val_name="validation")
    test_images, test_labels, _ = load_dataset(dataset, 1000)
    accuracy = evaluate(model, DataLoader(TensorDataset(test_images, test_labels),
                                          batch_size=200))["accuracy"]
    if path is not None:
        save_benchmark_model(model, dataset, path)
    return model, accuracy


class PassCounter:
    """Counts the images that go forward through a model and the gradient rows that come back.

    A forward hook on the model sees every batch; a backward hook on the model's output is
    called once per backward pass with dL/d(logits), one row per image. Use as a context."""

    def __init__(self, model):
        self.model, self.forward, self.backward = model, 0, 0

    def __enter__(self):
        self.handles = [self.model.register_forward_hook(self._count_forward),
                        self.model.register_full_backward_hook(self._count_backward)]
        return self

    def __exit__(self, *exc):
        for handle in self.handles:
            handle.remove()

    def _count_forward(self, module, inputs, output):
        self.forward += len(output.data)

    def _count_backward(self, module, grad_output):
        self.backward += len(grad_output)


EXPENSIVE_METHODS = ("smoothgrad", "integrated_gradients", "scorecam", "ablationcam",
                     "occlusion")


def mask_scores(maps, masks):
    """The three metrics against the masks, each averaged over the images."""
    return {"pointing": pointing_game(maps, masks).mean(),
            "energy": energy_in_mask(maps, masks).mean(),
            "box_iou": box_iou(maps, masks).mean()}


def data_check(dataset, n=2000, split="test"):
    """The data-first check, before any model is trained: the baselines' rows (BASELINES:
    random, centre prior, Sobel edges) against the masks of n images. A data set on which the
    centre prior already points right most of the time cannot show a map to be any better."""
    images, _, masks = load_dataset(dataset, n, split)
    return [{"method": f"baseline: {kind}", "n": n, **mask_scores(baseline_maps(kind, images),
                                                                  masks)}
            for kind in BASELINES]


def score_maps(model, images, labels, masks, maps, steps=16, curve_n=None, batch_size=50):
    """The five metrics of one method's maps, each averaged over the images. Deletion and
    insertion (steps + 1 forward passes each per image) use only the first curve_n images."""
    k = len(images) if curve_n is None else min(curve_n, len(images))
    curves = [deletion_insertion(model, images[s:min(s + batch_size, k)],
                                 maps[s:min(s + batch_size, k)], labels[s:min(s + batch_size, k)],
                                 steps=steps)
              for s in range(0, k, batch_size)]
    return {"n": len(images), "n_curves": k, **mask_scores(maps, masks),
            "deletion": np.concatenate([c["deletion_auc"] for c in curves]).mean(),
            "insertion": np.concatenate([c["insertion_auc"] for c in curves]).mean()}


def run_method(model, images, labels, method, batch_size=50, layer=None):
    """Maps of `method` for all images (explaining the true class) -> (maps, passes, seconds).
    layer: for the CAM family (LAYER_METHODS) only; None is the method's default layer."""
    layer = layer if method in LAYER_METHODS else None
    chunks = []
    with PassCounter(model) as counter:
        started = time.perf_counter()
        for s in range(0, len(images), batch_size):
            chunks.append(explain(model, images[s:s + batch_size], labels[s:s + batch_size],
                                  method=method, layer=layer))
        seconds = time.perf_counter() - started
    n = len(images)
    return np.concatenate(chunks), (counter.forward / n, counter.backward / n), seconds / n


def run_benchmark(dataset, model, n=500, methods=BENCHMARK_METHODS, progress=print,
                  preprocess=None, steps=16, expensive_n=None, curve_n=None, layer=None,
                  split="test"):
    """One row per method and per baseline: a dict of metric -> mean over the test images.

    preprocess: what turns [0, 1] images into the model's input (e.g. normalisation);
    steps: of the deletion and insertion curves. To bound the time on a slow machine,
    EXPENSIVE_METHODS may run on only the first expensive_n images and the deletion/insertion
    curves on the first curve_n; each row records its counts (n, n_curves).
    layer: the layer of the CAM-family methods (LAYER_METHODS; None: the ReLU after the last
    Conv2d); choose it on split='validation' (saliency.layers.compare_layers), never on the
    test images it is then scored on."""
    images, labels, masks = load_dataset(dataset, n, split)
    images = images if preprocess is None else preprocess(images)
    rows = []
    for method in methods:
        k = expensive_n if method in EXPENSIVE_METHODS and expensive_n else n
        maps, (forward, backward), seconds = run_method(model, images[:k], labels[:k], method,
                                                        layer=layer)
        rows.append({"method": method, **score_maps(model, images[:k], labels[:k], masks[:k],
                                                    maps, steps, curve_n),
                     "forward": forward, "backward": backward, "seconds": seconds})
        if progress:
            progress(format_row(rows[-1]))
    for kind in BASELINES:
        maps = baseline_maps(kind, images)
        rows.append({"method": f"baseline: {kind}",
                     **score_maps(model, images, labels, masks, maps, steps, curve_n),
                     "forward": 0, "backward": 0, "seconds": 0.0})
        if progress:
            progress(format_row(rows[-1]))
    return rows


# The methods that read the model's gradients or its layers: the ones the model-randomisation
# test applies to (occlusion and CNN-Fixations change with the weights by construction).
SANITY_METHODS = tuple(m for m in BENCHMARK_METHODS if m not in ("occlusion", "fixations"))


def sanity_rows(model, images, labels, methods=SANITY_METHODS, layer=None):
    """Adebayo et al.'s cascading randomisation (metrics.sanity_check) of each method on these
    images, explaining the true class: the mean Spearman correlation with the trained model's
    maps once the top layer is re-initialised ('top') and once every layer is ('all'). Near 1
    would mean the map does not depend on what the model learned."""
    rows = []
    for method in methods:
        options = {"layer": layer} if layer is not None and method in LAYER_METHODS else {}
        cascade = sanity_check(model, images, method, target=labels, **options)
        rows.append({"method": method, "n": len(images), "top": cascade[1][1],
                     "all": cascade[-1][1]})
    return rows


def layer_rows(model, images, masks, methods=("gradcam", "hirescam")):
    """compare_layers (saliency.layers) of each method -> one row per layer: its map size and
    each method's pointing game. For choosing the CAM layer on validation images."""
    tables = {method: compare_layers(model, images, masks, method) for method in methods}
    return [{"layer": rows[0]["layer"], "map": "x".join(map(str, rows[0]["resolution"])),
             **{method: tables[method][k]["pointing"] for method in methods}}
            for k, rows in enumerate(zip(*tables.values()))]


def best_layer(rows, methods=("gradcam", "hirescam")):
    """The layer whose worst pointing game over `methods` is highest: the CAM targets ask for
    both Grad-CAM and HiResCAM, so one layer must serve both."""
    return max(rows, key=lambda row: min(row[method] for method in methods))["layer"]


COLUMNS = (("method", "{:<22}"), ("n", "{:>4}"), ("n_curves", "{:>8}"),
           ("pointing", "{:>8.1%}"), ("energy", "{:>7.1%}"),
           ("box_iou", "{:>7.3f}"), ("deletion", "{:>8.3f}"), ("insertion", "{:>9.3f}"),
           ("forward", "{:>7.0f}"), ("backward", "{:>8.0f}"), ("seconds", "{:>9.4f}"))


def format_row(row, columns=COLUMNS):
    return " | ".join(fmt.format(row[key]) for key, fmt in columns)


SANITY_COLUMNS = (("method", "{:<22}"), ("n", "{:>4}"), ("top", "{:>6.3f}"), ("all", "{:>6.3f}"))
LAYER_COLUMNS = (("layer", "{:<14}"), ("map", "{:>6}"), ("gradcam", "{:>8.1%}"),
                 ("hirescam", "{:>8.1%}"))


def format_table(rows, columns=COLUMNS):
    """A Markdown table of the `columns` that the rows have (a data check's rows have only the
    mask metrics); for the benchmark, one row per method, baselines last."""
    columns = [(key, fmt) for key, fmt in columns if key in rows[0]]
    widths = [len(fmt.format(rows[0][key])) for key, fmt in columns]
    header = " | ".join(key.ljust(width) for (key, _), width in zip(columns, widths))
    rule = "|".join("-" * (width + 2) for width in widths)
    body = [f"| {format_row(row, columns)} |" for row in rows]
    return "\n".join([f"| {header} |", f"|{rule}|"] + body)
