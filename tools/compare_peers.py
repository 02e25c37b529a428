"""An outside cross-check, run by hand (never in CI): minigrad's attribution methods of #31
against the peer libraries themselves, on the same float64 weights.

    nice -n 10 python tools/compare_peers.py            # --images 3 --seed 0

tests/saliency/test_torch_formulas.py re-derives each method's formula in torch; this script
instead runs the real packages on a torch twin of each network (the same layers at the same
indices, minigrad's state dict loaded one-to-one, float64) and prints, per method, model and
input set, the largest |ours - theirs| and that divided by the largest |theirs|:

    Zennit 0.5.1         LRP composites EpsilonPlusFlat, EpsilonAlpha2Beta1Flat, EpsilonGammaBox
                         (low, high given), EpsilonPlus, EpsilonAlpha2Beta1, and the single rules
                         epsilon, z_plus, gamma, alpha_beta at every Linear/Conv2d (Zennit's
                         layer_map_base elsewhere); the full per-channel relevance
                         (lrp_relevance) against zennit.attribution.Gradient with
                         grad_output = one-hot x the target logit (LRP starts with R = y_c);
                         SequentialMergeBatchNorm where the network has BatchNorm.
    Captum 0.9.0         DeepLift (Rescale; baselines 0 and a random image), GradientShap (the
                         random draws replayed, see `replaying`), LayerGradCam (signed, no ReLU),
                         FGSM and PGD (no random start; Linf; same step and projection).
    pytorch-grad-cam     EigenCAM and AblationCAM at the layer's resolution: the maps its
                         get_cam_image returns, before its ReLU, min-max scaling and resize.

Where a peer departs from the shared definition, a second row shows the pair with that one
departure removed (the note column says which): Zennit's merged BatchNorm keeps its eps
(`exact_merge_batch_norm`), Captum 0.9.0's DeepLift mis-handles adjacent nonlinear modules
(`separated`), Captum's FGSM/PGD skip pixels whose gradient is below zero_thresh = 1e-6 (rerun
with 0), pytorch-grad-cam keeps the SVD's sign (ours is turned along the channel sum; theirs is
flipped to match, and the flips are counted) and computes in float32 (~1e-7 relative).

The peers are not minigrad dependencies. Install them into the venv without letting them
replace the CPU torch (torchvision's wheels need a CUDA torch, so it is left out):

    pip install --no-deps zennit==0.5.1 captum==0.9.0 grad-cam click

captum also needs matplotlib and tqdm (present here). zennit imports torchvision at import time,
and pytorch-grad-cam imports cv2, ttach, torchvision and sklearn, none of which the compared code
paths call: when one is missing, `stand_ins` puts an inert module in its place (calling
anything in it gives another inert object, which fails loudly if a compared path used it).
A peer that cannot be imported is reported and skipped.
"""
import argparse
import contextlib
import copy
import functools
import importlib
import sys
import time
import types
from unittest import mock

import numpy as np
import torch

from minigrad import nn, saliency
from minigrad.adversarial import fgsm, pgd
from minigrad.models import LeNet5
from minigrad.saliency.lrp import lrp_relevance

tnn = torch.nn
F = torch.nn.functional


# ---- stand-ins for the peers' unused imports ------------------------------------------------

class Inert(types.ModuleType):
    """A stand-in for a module a peer imports but the compared code never calls."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return Inert(f"{self.__name__}.{name}")

    def __call__(self, *args, **kwargs):
        return Inert(f"{self.__name__}()")


def stand_ins(names):
    """Put an Inert module at each name (and its parents) that cannot be imported; -> the
    names replaced."""
    replaced = []
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                sys.modules.setdefault(".".join(parts[:i]), Inert(".".join(parts[:i])))
            replaced.append(name)
    return replaced


STANDINS = stand_ins(["torchvision.models.resnet", "torchvision.transforms.functional", "cv2",
                      "ttach", "sklearn.decomposition", "scipy.ndimage", "scipy.sparse.linalg"])


def peer(name):
    try:
        return importlib.import_module(name)
    except Exception as error:                       # a broken install is reported, not fatal
        print(f"# {name}: not importable ({type(error).__name__}: {error}); skipped")
        return None


zennit = peer("zennit")
captum = peer("captum")
gradcam = peer("pytorch_grad_cam")


# ---- the networks and their torch twins -----------------------------------------------------

class TorchLeNet(tnn.Module):
    """minigrad.models.LeNet5 (28 x 28, ReLU) in torch, with the same state-dict keys."""

    def __init__(self, pooling):
        super().__init__()
        pool = tnn.MaxPool2d if pooling == "max" else tnn.AvgPool2d
        self.features = tnn.Sequential(tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), pool(2),
                                       tnn.Conv2d(6, 16, 5), tnn.ReLU(), pool(2))
        self.classifier = tnn.Sequential(tnn.Flatten(), tnn.Linear(400, 120), tnn.ReLU(),
                                         tnn.Linear(120, 84), tnn.ReLU(), tnn.Linear(84, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def bn_cnn(layers):
    """conv-BN-ReLU-maxpool-conv-BN-ReLU-avgpool-flatten-linear, in minigrad's nn or torch.nn."""
    return layers.Sequential(layers.Conv2d(3, 8, 3, padding=1), layers.BatchNorm2d(8),
                             layers.ReLU(), layers.MaxPool2d(2),
                             layers.Conv2d(8, 12, 3, padding=1), layers.BatchNorm2d(12),
                             layers.ReLU(), layers.AvgPool2d(2), layers.Flatten(),
                             layers.Linear(12 * 4 * 4, 5))


def with_random_batch_norm(model, rng):
    """Non-trivial BatchNorm statistics and affine parameters (a fresh one is the identity in
    eval mode, and folding it would test nothing)."""
    state = model.state_dict()
    for key, value in state.items():
        shape = np.shape(value)
        if key.endswith("running_mean"):
            state[key] = rng.normal(0, 0.5, shape)
        elif key.endswith("running_var"):
            state[key] = rng.uniform(0.3, 2.0, shape)
        elif key.endswith(".weight") and len(shape) == 1:     # BatchNorm's gamma, some negative
            state[key] = rng.normal(1.0, 0.6, shape)
        elif key.endswith(".bias") and len(shape) == 1 and "running" not in key:
            state[key] = rng.normal(0, 0.3, shape)
    model.load_state_dict(state)


def twin_of(model, twin):
    twin.double().load_state_dict({key: torch.from_numpy(np.array(value))
                                   for key, value in model.state_dict().items()}, strict=True)
    return twin.eval()


def networks(rng):
    """[(name, minigrad model, torch twin, input shape, (CAM layer name, CAM pre-ReLU name))]"""
    nn.manual_seed(0)
    found = []
    for pooling in ("max", "avg"):
        model = LeNet5(pooling=pooling).double().eval()
        found.append((f"lenet5-{pooling}", model, twin_of(model, TorchLeNet(pooling)),
                      (1, 28, 28), ("features.4", "features.3")))
    model = bn_cnn(nn).double()
    with_random_batch_norm(model, rng)
    model.eval()
    found.append(("bn-cnn", model, twin_of(model, bn_cnn(tnn)), (3, 16, 16), ("6", "4")))
    return found


def module(twin, name):
    return dict(twin.named_modules())[name]


# ---- the table -------------------------------------------------------------------------------

ROWS = []


def compare(peer_name, method, network, inputs, ours, theirs, note=""):
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    if ours.shape != theirs.shape:
        raise ValueError(f"{method}: shapes differ, ours {ours.shape}, theirs {theirs.shape}")
    difference = np.abs(ours - theirs).max()
    scale = np.abs(theirs).max()
    ROWS.append((peer_name, method, network, inputs, difference,
                 difference / scale if scale else np.nan, note))


def print_table():
    print(f"{'peer':<9} {'method':<34} {'network':<10} {'inputs':<8} {'max|diff|':>10} "
          f"{'relative':>10}  note")
    for peer_name, method, network, inputs, difference, relative, note in ROWS:
        print(f"{peer_name:<9} {method:<34} {network:<10} {inputs:<8} {difference:10.2e} "
              f"{relative:10.2e}  {note}")


def logit_one_hot(twin, x, target):
    """grad_output for Zennit: the target logit at the target, 0 elsewhere."""
    with torch.no_grad():
        logits = twin(x)
    one_hot = torch.zeros_like(logits)
    rows = torch.arange(len(x))
    one_hot[rows, target] = logits[rows, target]
    return one_hot


# ---- Zennit ------------------------------------------------------------------------------------

def zennit_composites(low, high, canonizers):
    from zennit import composites as zc, rules as zr, types as zt

    def everywhere(rule):
        return zc.LayerMapComposite(layer_map=zc.layer_map_base() + [
            (zt.Convolution, rule), (tnn.Linear, rule)], canonizers=canonizers)

    return {
        "EpsilonPlusFlat": zc.EpsilonPlusFlat(canonizers=canonizers),
        "EpsilonAlpha2Beta1Flat": zc.EpsilonAlpha2Beta1Flat(canonizers=canonizers),
        "EpsilonGammaBox": zc.EpsilonGammaBox(low=low, high=high, canonizers=canonizers),
        "EpsilonPlus": zc.EpsilonPlus(canonizers=canonizers),
        "EpsilonAlpha2Beta1": zc.EpsilonAlpha2Beta1(canonizers=canonizers),
        "epsilon": everywhere(zr.Epsilon()),
        "z_plus": everywhere(zr.ZPlus()),
        "gamma": everywhere(zr.Gamma()),
        "alpha_beta": everywhere(zr.AlphaBeta()),
    }


def exact_merge_batch_norm():
    """SequentialMergeBatchNorm whose emptied BatchNorm is the identity: Zennit resets the
    merged BatchNorm to mean 0, var 1, weight 1, bias 0 but keeps its eps, so it still divides
    by sqrt(1 + eps) (1e-5: ~5e-6 relative per BatchNorm) in the canonized forward pass."""
    from zennit.canonizers import SequentialMergeBatchNorm

    class ExactMergeBatchNorm(SequentialMergeBatchNorm):
        def apply(self, root_module):
            instances = super().apply(root_module)
            for instance in instances:
                instance.kept_eps, instance.batch_norm.eps = instance.batch_norm.eps, 0.0
                instance.remove = functools.partial(restore_eps, instance, instance.remove)
            return instances

    def restore_eps(instance, remove):
        instance.batch_norm.eps = instance.kept_eps
        remove()

    return ExactMergeBatchNorm()


def check_zennit(name, model, twin, x, target, inputs, bounds):
    from zennit.attribution import Gradient
    from zennit.canonizers import SequentialMergeBatchNorm
    low, high = bounds
    xt = torch.from_numpy(x)
    canonizer_kinds = [(None, "")]
    if name == "bn-cnn":
        canonizer_kinds = [(SequentialMergeBatchNorm, "stock canonizer: merged BN keeps eps"),
                           (exact_merge_batch_norm, "merged BN's eps set to 0")]
    with torch.no_grad():
        logits = twin(xt)
    for canonizer, note in canonizer_kinds:
        for composite_name, composite in zennit_composites(
                torch.full_like(xt, low), torch.full_like(xt, high),
                canonizer and [canonizer()]).items():
            with Gradient(model=twin, composite=composite) as attributor:
                _, relevance = attributor(xt, logit_one_hot(twin, xt, target))
            ours, _, _ = lrp_relevance(model, x, target, composite_name, low=low, high=high)
            compare("zennit", f"lrp {composite_name}", name, inputs, ours, relevance.numpy(),
                    note)
    with torch.no_grad():
        assert torch.equal(twin(xt), logits), "a canonizer left the twin changed"


# ---- Captum -----------------------------------------------------------------------------------

def raw(model, x, method, target, **options):
    return saliency.explain(model, x, target=target, method=method, postprocess=(), **options)


class Clone(tnn.Module):
    def forward(self, x):
        return x.clone()


def separated(twin):
    """A copy of the twin with a clone after every ReLU and MaxPool2d: the same function, but
    no nonlinear module takes another's output tensor directly. Captum 0.9.0's DeepLift gives
    the first of two adjacent hooked modules a stale output gradient (captum issue #1104, fixed
    by PR #1843 after 0.9.0): its attributions then miss completeness."""
    twin = copy.deepcopy(twin)
    for parent in list(twin.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, (tnn.ReLU, tnn.MaxPool2d)):
                setattr(parent, child_name, tnn.Sequential(child, Clone()))
    return twin


def check_deeplift(name, model, twin, x, target, inputs, rng):
    from captum.attr import DeepLift
    for baseline_name, baseline in (("0", np.zeros_like(x[:1])),
                                    ("random", rng.uniform(0, 1, x[:1].shape))):
        ours = raw(model, x, "deeplift", target, baselines=baseline)
        for net, note in ((twin, "stock"), (separated(twin), "clone between nonlinear modules")):
            theirs, delta = DeepLift(net).attribute(
                torch.from_numpy(x), baselines=torch.from_numpy(np.repeat(baseline, len(x), 0)),
                target=torch.from_numpy(target), return_convergence_delta=True)
            compare("captum", f"DeepLift baseline={baseline_name}", name, inputs, ours,
                    theirs.detach().numpy().sum(axis=1),
                    f"{note}; Captum's completeness gap {delta.abs().max().item():.1e}")


def minigrad_draws(x, n_baselines, n_samples, stdevs, seed):
    """gradient_shap's draws, in its order (see its docstring): noise (n, N, C, H, W),
    baseline indices (n, N), alphas (n, N)."""
    rng = np.random.default_rng(seed)
    noise = stdevs * rng.normal(size=(n_samples,) + x.shape)
    chosen = rng.integers(n_baselines, size=(n_samples, len(x)))
    alphas = rng.uniform(size=(n_samples, len(x)))
    return noise, chosen, alphas


@contextlib.contextmanager
def replaying(noise, chosen, alphas):
    """Make Captum's GradientShap draw minigrad's numbers. Its three random calls, one each per
    attribute(): NoiseTunnel's torch.normal(0, stdev) noise of shape (N * n, C, H, W),
    _expand_and_update_baselines' np.random.choice(B, N * n) and InputBaselineXGradient's
    np.random.uniform(0, 1, N * n); rows are ordered (image, sample) -- repeat_interleave --
    where minigrad's are (sample, image), hence the transposes."""
    n, count = chosen.shape
    by_image = lambda a: np.swapaxes(a, 0, 1).reshape((n * count,) + a.shape[2:])

    def normal(mean, std):
        assert tuple(std.shape) == (n * count,) + noise.shape[2:], std.shape
        return torch.from_numpy(by_image(noise))

    def choice(size, k):
        assert k == n * count, k
        return by_image(chosen)

    def uniform(low, high, k):
        assert (low, high, k) == (0.0, 1.0, n * count), (low, high, k)
        return by_image(alphas)

    with mock.patch("torch.normal", normal), mock.patch("numpy.random.choice", choice), \
            mock.patch("numpy.random.uniform", uniform):
        yield


def check_gradient_shap(name, model, twin, x, target, inputs, rng):
    from captum.attr import GradientShap
    several = rng.uniform(0, 1, (4,) + x.shape[1:])
    for label, baselines, stdevs in (("1 zero baseline", np.zeros_like(x[:1]), 0.0),
                                     ("4 baselines, stdevs=0.1", several, 0.1)):
        n_samples, seed = 7, 3
        draws = minigrad_draws(x, len(baselines), n_samples, stdevs, seed)
        with replaying(*draws):
            theirs = GradientShap(twin).attribute(
                torch.from_numpy(x), baselines=torch.from_numpy(baselines), n_samples=n_samples,
                stdevs=stdevs, target=torch.from_numpy(target))
        ours = raw(model, x, "gradient_shap", target, baselines=baselines, n_samples=n_samples,
                   stdevs=stdevs, seed=seed)
        compare("captum", f"GradientShap {label}", name, inputs, ours,
                theirs.detach().numpy().sum(axis=1), "draws replayed")


def check_layer_gradcam(name, model, twin, x, target, inputs, layer):
    from captum.attr import LayerGradCam
    theirs = LayerGradCam(twin, module(twin, layer)).attribute(
        torch.from_numpy(x), target=torch.from_numpy(target))
    compare("captum", f"LayerGradCam layer={layer}", name, inputs,
            raw(model, x, "gradcam", target, layer=layer), theirs.detach().numpy()[:, 0])


def cross_entropy_per_image(logits, labels):
    return F.cross_entropy(logits, labels, reduction="none")


def check_attacks(name, model, twin, x, labels, inputs):
    from captum.robust import FGSM, PGD
    xt, yt = torch.from_numpy(x), torch.from_numpy(labels)
    eps, alpha, steps = 0.1, 0.02, 10
    attack = FGSM(twin, cross_entropy_per_image, lower_bound=0.0, upper_bound=1.0)
    ours = fgsm(model, x, labels, eps).data
    for threshold in (attack.zero_thresh, 0.0):
        attack.zero_thresh = threshold
        theirs = attack.perturb(xt, eps, target=yt).detach().numpy()
        compare("captum", f"FGSM eps={eps} zero_thresh={threshold:g}", name, inputs, ours,
                theirs, f"{int((ours != theirs).sum())} pixels differ")
    attack = PGD(twin, cross_entropy_per_image, lower_bound=0.0, upper_bound=1.0)
    ours = pgd(model, x, labels, eps, alpha, steps, random_start=False).data
    for threshold in (attack.fgsm.zero_thresh, 0.0):
        attack.fgsm.zero_thresh = threshold
        theirs = attack.perturb(xt, radius=eps, step_size=alpha, step_num=steps, target=yt,
                                random_start=False).detach().numpy()
        compare("captum", f"PGD-{steps} alpha={alpha} zero_thresh={threshold:g}", name, inputs,
                ours, theirs, f"{int((np.abs(ours - theirs) > 1e-12).sum())} pixels differ")


# ---- pytorch-grad-cam ----------------------------------------------------------------------

def layer_activations(cam, x):
    cam.activations_and_grads(torch.from_numpy(x))
    return cam.activations_and_grads.activations[0].numpy()


def check_eigencam(name, model, twin, x, target, inputs, layer):
    from pytorch_grad_cam import EigenCAM
    cam = EigenCAM(twin, [module(twin, layer)])
    theirs = cam.get_cam_image(torch.from_numpy(x), module(twin, layer), None,
                               layer_activations(cam, x), None, False)
    ours = raw(model, x, "eigencam", None, layer=layer)
    # the singular vector's sign: theirs as the SVD gave it, ours turned along the channel sum
    signs = np.sign(np.einsum("nij,nij->n", ours, theirs))
    compare("gradcam", f"EigenCAM layer={layer} (float32)", name, inputs, ours,
            signs[:, None, None] * theirs, f"sign flipped on {int((signs < 0).sum())} images")


def check_ablationcam(name, model, twin, x, target, inputs, layer):
    from pytorch_grad_cam import AblationCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    cam = AblationCAM(twin, [module(twin, layer)])
    with mock.patch("tqdm.tqdm", lambda iterable, *args, **kwargs: iterable):
        theirs = cam.get_cam_image(torch.from_numpy(x), module(twin, layer),
                                   [ClassifierOutputTarget(int(t)) for t in target],
                                   torch.from_numpy(layer_activations(cam, x)), None)
    activations = layer_activations(cam, x)
    rule = "zeroed" if activations.min() == 0 else "set to min(A)-1e7 (theirs)"
    compare("gradcam", f"AblationCAM layer={layer} (float32)", name, inputs,
            raw(model, x, "ablationcam", target, layer=layer), theirs, f"channel {rule}")


# ---- main --------------------------------------------------------------------------------------

def input_sets(shape, count, rng):
    """Images in [0, 1] (LRP's box [0, 1]) and standard-normal ones (box [min, max])."""
    uniform = rng.uniform(0, 1, (count,) + shape)
    normal = rng.normal(size=(count,) + shape)
    return [("U[0,1]", uniform, (0.0, 1.0)),
            ("N(0,1)", normal, (float(normal.min()), float(normal.max())))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"# torch {torch.__version__}; stand-ins for {STANDINS or 'nothing'}; "
          f"relative = max|ours - theirs| / max|theirs|")
    started = time.time()
    for name, model, twin, shape, (layer, pre_relu_layer) in networks(rng):
        for inputs, x, bounds in input_sets(shape, args.images, rng):
            target = rng.integers(0, twin(torch.from_numpy(x)).shape[1], len(x))
            if zennit:
                check_zennit(name, model, twin, x, target, inputs, bounds)
            if captum:
                check_deeplift(name, model, twin, x, target, inputs, rng)
                check_gradient_shap(name, model, twin, x, target, inputs, rng)
                check_layer_gradcam(name, model, twin, x, target, inputs, layer)
                if inputs == "U[0,1]":                   # the attacks' valid range is [0, 1]
                    check_attacks(name, model, twin, x, target, inputs)
            if gradcam:
                check_eigencam(name, model, twin, x, target, inputs, layer)
                for cam_layer in (layer, pre_relu_layer):
                    check_ablationcam(name, model, twin, x, target, inputs, cam_layer)
    print_table()
    print(f"# {time.time() - started:.1f} s")


if __name__ == "__main__":
    main()
