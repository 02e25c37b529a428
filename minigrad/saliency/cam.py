"""The CAM family: weight the K feature maps A^k of one conv layer, and add them up.

Every member computes the same thing,

    map = sum_k  w^k * A^k          A^k: (h, w) activation of channel k of the chosen layer

and differs only in the weights w^k -- one number per channel, or one per channel and pixel --
which all but three of them take from the gradient g^k = dS_c/dA^k:

    CAM           w^k = W[c, k], the last Linear's weight (needs conv -> GAP -> Linear)
    Grad-CAM      w^k = mean_ij g^k_ij
    Grad-CAM++    w^k = sum_ij alpha^k_ij * relu(g^k_ij)
    HiResCAM      w^k_ij = g^k_ij                           (element-wise)
    XGrad-CAM     w^k = sum_ij A^k_ij * g^k_ij / sum_ij A^k_ij
    LayerCAM      w^k_ij = relu(g^k_ij)                     (element-wise)
    Score-CAM     w^k = softmax(f(x * mask_k))_c            (forward passes only)
    AblationCAM   w^k = (S_c - S_c with A^k set to 0) / S_c  (forward passes only)

EigenCAM alone has no weights of this kind and no class: its map is the layer's activations
projected on their first principal component.

So `gradient_cam(weighting)` below builds each gradient member from its weighting function, and
the raw map is returned *before* the ReLU that the papers apply (the 'relu' post-processing step
applies it). The map has the layer's resolution; 'upsample' brings it to the input's. The layer
defaults to the last conv layer's rectified output: the ReLU right after the last Conv2d.
"""
import numpy as np

from minigrad.autograd import grad
from minigrad.nn.layers import AdaptiveAvgPool2d, Linear
from minigrad.saliency.core import (Explanation, check_logit_only, class_scores, conv_layers,
                                    hooked_forward, in_batches, layer_activation, layer_gradient,
                                    layer_name, resolve_layer, resolve_target, saliency_method,
                                    scored)
from minigrad.saliency.gradients import guided_backprop
from minigrad.saliency.postprocess import bilinear_resize
from minigrad.tensor import Tensor


def weighted_sum(activations, weights):
    """sum_k w^k * A^k: (N, K, h, w) activations, weights (N, K, 1, 1) or (N, K, h, w)."""
    return (weights * activations).sum(axis=1)


def gradient_cam(weighting):
    """A CAM method whose weights are weighting(A, g); its docstring is the weighting's."""
    @saliency_method
    def method(model, x, target=None, score="logit", layer=None):
        layer = resolve_layer(model, layer)
        activations, gradients, target = layer_gradient(model, x, layer, target, score)
        check_feature_maps(model, layer, activations)
        return Explanation(weighted_sum(activations, weighting(activations, gradients)), target)

    method.__name__ = method.__qualname__ = weighting.__name__.replace("_weights", "")
    method.__doc__ = weighting.__doc__ + "\n    One forward, one backward pass."
    return method


def check_feature_maps(model, layer, activations):
    """Refuse a layer whose output is not (N, K, h, w) feature maps (a Linear's (N, K), say):
    there are no maps A^k to weight."""
    if activations.ndim != 4:
        raise ValueError(f"layer {layer_name(model, layer)!r} ({type(layer).__name__}) gives an "
                         f"output of shape {activations.shape}; the CAM family weights a conv "
                         f"layer's feature maps (N, K, h, w): pick a conv layer or the ReLU "
                         f"after one (conv layers: {conv_layers(model)})")


def layer_feature_maps(model, x, layer):
    """Forward only: -> (the layer's module, its feature maps A (N, K, h, w), logits); `layer`
    as resolve_layer takes it, and refused if its output is not feature maps."""
    layer = resolve_layer(model, layer)
    activations, logits = layer_activation(model, x, layer)
    check_feature_maps(model, layer, activations)
    return layer, activations, logits


def _safe_divide(numerator, denominator):
    """numerator / denominator, and 0 where the denominator is 0 (a dead channel, never NaN)."""
    return np.divide(numerator, denominator, out=np.zeros_like(numerator),
                     where=denominator != 0)


def gradcam_weights(activations, gradients):
    """Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
    Gradient-based Localization", ICCV 2017):

        alpha_k = (1 / hw) sum_ij dS_c/dA^k_ij,     map = ReLU(sum_k alpha_k A^k)

    The global-average-pooled gradient says how much channel k matters to class c overall."""
    return gradients.mean(axis=(2, 3), keepdims=True)


def hirescam_weights(activations, gradients):
    """HiResCAM (Draelos & Carin, "Use HiResCAM instead of Grad-CAM for faithful explanations",
    2020):   map = ReLU(sum_k g^k * A^k)   (element-wise, no averaging)

    When the layer feeds Flatten + Linear directly, the raw map sums to S_c minus the bias:
    it shows exactly the locations the score was computed from."""
    return gradients


def gradcampp_weights(activations, gradients):
    """Grad-CAM++ (Chattopadhay et al., "Grad-CAM++: Improved Visual Explanations for Deep
    Convolutional Networks", WACV 2018):

        w^k = sum_ij alpha^k_ij relu(g^k_ij),
        alpha^k_ij = g_ij^2 / (2 g_ij^2 + sum_ab A^k_ab * g_ij^3)

    The closed form of alpha assumes the explained score is exp(S_c) and that S_c is piecewise
    linear in A (a ReLU network), so its higher derivatives are powers of the first one; the
    positive factor exp(S_c) is dropped. Pixels with g = 0 get alpha = 0."""
    squared = gradients ** 2
    denominator = 2 * squared + activations.sum(axis=(2, 3), keepdims=True) * gradients ** 3
    alpha = _safe_divide(squared, denominator)
    return (alpha * np.maximum(gradients, 0)).sum(axis=(2, 3), keepdims=True)


def gradcampp_weights_by_definition(head, activations, target):
    """Grad-CAM++'s weights from its definition (Chattopadhay et al., eqs. 10 and 19), the higher
    derivatives of Y = exp(S_c) taken by autograd, one image at a time (A: its (K, h, w)):

        alpha_ij = d2Y/dA_ij^2 / (2 d2Y/dA_ij^2 + sum_ab A_ab d3Y/dA_ij^3)   (0 where 0/0)
        w^k = sum_ij alpha^k_ij relu(dY/dA^k_ij)

    head: the network above the layer, (N, K, h, w) -> scores (N, classes); activations
    (N, K, h, w); target (N,) classes. Right for any head; for a piecewise-linear one it is
    `gradcampp_weights` times exp(S_c). Two double backwards per element of A: for checking
    the closed form, not for use. -> (N, K, 1, 1)"""
    return np.stack([_weights_by_definition(head, a, c) for a, c in zip(activations, target)])


def _weights_by_definition(head, a, c):
    flat = Tensor(a.reshape(-1).copy(), requires_grad=True)
    y = head(flat.reshape(1, *a.shape))[0, int(c)].exp()
    d1, = grad(y, flat, create_graph=True)
    d2, d3 = np.zeros(flat.shape), np.zeros(flat.shape)
    for i in range(len(d2)):                       # the diagonal: one element of A at a time
        d2_row, = grad(d1[i], flat, create_graph=True)
        d2[i] = d2_row.data[i]
        d3[i] = grad(d2_row[i], flat, retain_graph=True, allow_unused=True)[0].data[i] \
            if d2_row.requires_grad else 0.0
    d1, d2, d3 = (d.reshape(a.shape) for d in (d1.data, d2, d3))
    alpha = _safe_divide(d2, 2 * d2 + a.sum(axis=(1, 2), keepdims=True) * d3)
    return (alpha * np.maximum(d1, 0)).sum(axis=(1, 2), keepdims=True)


def xgradcam_weights(activations, gradients):
    """XGrad-CAM (Fu et al., "Axiom-based Grad-CAM", BMVC 2020):

        w^k = sum_ij (A^k_ij / sum_ab A^k_ab) g^k_ij

    the gradient averaged with the activation as weight; an all-zero channel gets w = 0."""
    total = activations.sum(axis=(2, 3), keepdims=True)
    return _safe_divide((activations * gradients).sum(axis=(2, 3), keepdims=True), total)


def layercam_weights(activations, gradients):
    """LayerCAM (Jiang et al., "LayerCAM: Exploring Hierarchical Class Activation Maps for
    Localization", IEEE TIP 2021):   map = ReLU(sum_k relu(g^k) * A^k)   (element-wise)"""
    return np.maximum(gradients, 0)


gradcam = gradient_cam(gradcam_weights)
hirescam = gradient_cam(hirescam_weights)
gradcampp = gradient_cam(gradcampp_weights)
xgradcam = gradient_cam(xgradcam_weights)
layercam = gradient_cam(layercam_weights)


@saliency_method
def cam(model, x, target=None, score="logit", layer=None):
    """CAM (Zhou et al., "Learning Deep Features for Discriminative Localization", CVPR 2016),
    for networks that end  features F -> global average pool -> Linear:

        S_c = sum_k W[c, k] mean_ij F^k_ij + b_c,     map = sum_k W[c, k] F^k

    so the map's mean plus b_c is S_c. F is what the global average pooling module receives
    (AdaptiveAvgPool2d(1) -- PyTorch's layout, with a Flatten after it -- or GlobalAvgPool2d;
    the architecture fixes it, so `layer` is refused) and W the weight of the last Linear.
    Forward only; the score is the logit (the formula's S_c), another is refused.
    """
    check_logit_only("cam", score)
    if layer is not None:
        raise ValueError(f"cam takes no layer: its maps are what the global average pooling "
                         f"receives, fixed by the architecture; got layer={layer!r} (for a "
                         f"chosen layer use gradcam)")
    pool, linear = _gap_and_classifier(model)
    features, logits = layer_activation(model, x, pool, inputs=True)
    if features.shape[1] != linear.in_features:
        raise ValueError(f"CAM needs global average pooling followed directly by a Linear: "
                         f"the pooled features have {features.shape[1]} channels but the last "
                         f"Linear takes {linear.in_features}; use gradcam instead")
    target = resolve_target(logits, target)
    weights = linear.weight.data[target][:, :, None, None]                    # (N, K, 1, 1)
    return Explanation(weighted_sum(features, weights), target)


def _gap_and_classifier(model):
    """The model's last global average pooling module and its last Linear, or a clear error."""
    modules = list(model.modules())
    pools = [m for m in modules if isinstance(m, AdaptiveAvgPool2d) and m.is_global]
    linears = [m for m in modules if isinstance(m, Linear)]
    if not pools or not linears:
        raise ValueError(f"CAM needs global average pooling (AdaptiveAvgPool2d(1) or "
                         f"GlobalAvgPool2d) followed by a Linear; {type(model).__name__} has "
                         f"{len(pools)} such pooling and {len(linears)} Linear modules. Use "
                         f"gradcam, which works on any CNN")
    return pools[-1], linears[-1]


@saliency_method
def scorecam(model, x, target=None, score="prob", layer=None, batch_size=64):
    """Score-CAM (Wang et al., "Score-CAM: Score-Weighted Visual Explanations for Convolutional
    Neural Networks", CVPR workshops 2020), gradient-free:

        mask_k = A^k upsampled to the input and min-max scaled to [0, 1]
        w^k    = softmax(f(x * mask_k))_c          (Algorithm 1 of the paper)
        map    = ReLU(sum_k w^k A^k)

    i.e. each channel is weighted by the class probability of the input seen through that
    channel's mask. Libraries differ here: pytorch-grad-cam takes the *logits* of the K masked
    inputs and applies a softmax across the channels instead; score='logit' gives raw logits as
    weights. A constant channel gives an all-zero mask. K forward passes per image, batched.
    """
    _, activations, logits = layer_feature_maps(model, x, layer)
    target = resolve_target(logits, target)
    n, k = activations.shape[:2]
    masks = _unit_range(bilinear_resize(activations.reshape(n * k, *activations.shape[2:]),
                                        x.shape[2:]))                        # (N*K, H, W)
    masked = np.repeat(x, k, axis=0) * masks[:, None]                        # (N*K, C, H, W)
    weights = class_scores(model, masked, np.repeat(target, k), score, batch_size)
    return Explanation(weighted_sum(activations, weights.reshape(n, k, 1, 1)), target)


def _unit_range(maps):
    """Min-max scale each (h, w) map to [0, 1]; a constant map becomes all zeros."""
    low = maps.min(axis=(1, 2), keepdims=True)
    return _safe_divide(maps - low, maps.max(axis=(1, 2), keepdims=True) - low)


@saliency_method
def guided_gradcam(model, x, target=None, score="logit", layer=None):
    """Guided Grad-CAM (Selvaraju et al. 2017): guided backprop's sharp map, masked by where
    Grad-CAM says the class is:   map = guided_backprop * upsample(ReLU(Grad-CAM)).
    Two forward and two backward passes."""
    coarse = gradcam(model, x, target, score, layer)
    sharp = guided_backprop(model, x, coarse.target, score)
    return Explanation(sharp.maps * bilinear_resize(np.maximum(coarse.maps, 0), x.shape[2:]),
                       coarse.target)


@saliency_method
def eigencam(model, x, target=None, score="logit", layer=None):
    """EigenCAM (Muhammad & Yeasin, "Eigen-CAM: Class Activation Map using Principal
    Components", IJCNN 2020), as pytorch-grad-cam computes it (utils/svd_on_activations.py):

        M   = the layer's activations as a (h*w, K) matrix, each channel's mean subtracted
        map = M v,   v the first right singular vector of M (M's first principal direction)

    The same map for every class and score (`target` is only reported). A singular vector's
    sign is arbitrary: pytorch-grad-cam keeps whatever its SVD returns; here the map is turned
    to correlate positively with the activations' sum over channels, so that it is positive
    where the layer is most active. Forward only."""
    _, activations, logits = layer_feature_maps(model, x, layer)
    return Explanation(first_component_projection(activations), resolve_target(logits, target))


def first_component_projection(activations):
    """(N, K, h, w) activations -> (N, h, w): each image's pixels, centred, projected on their
    first principal direction, oriented along the channels' sum (see `eigencam`)."""
    n, k, h, w = activations.shape
    pixels = activations.reshape(n, k, h * w).transpose(0, 2, 1)              # (N, hw, K)
    centred = pixels - pixels.mean(axis=1, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)                    # vt (N, K, K)
    projection = np.einsum("npk,nk->np", centred, vt[:, 0])                   # (N, hw)
    total = pixels.sum(axis=2)                                                # (N, hw)
    sign = np.where(np.einsum("np,np->n", projection, total) < 0, -1.0, 1.0)
    return (sign[:, None] * projection).reshape(n, h, w)


@saliency_method
def ablationcam(model, x, target=None, score="logit", layer=None, batch_size=64):
    """AblationCAM (Desai & Ramaswamy, "Ablation-CAM: Visual Explanations for Deep
    Convolutional Network via Gradient-free Localization", WACV 2020):

        w^k = (S_c - S_c^k) / S_c,    S_c^k: the score with channel k of the layer set to 0
        map = sum_k w^k A^k

    the score's relative drop when the channel is switched off (0 where S_c = 0). The same as
    pytorch-grad-cam at a rectified layer (the default); at a layer with negative values it
    sets the channel to min(A) - 1e7 instead, departing from the paper: here it is always 0.
    One forward pass, then K per image (the layer's input recomputed each time), batched."""
    layer, activations, logits = layer_feature_maps(model, x, layer)
    target = resolve_target(logits, target)
    n, k = activations.shape[:2]
    original = scored(Tensor(logits), score).data[np.arange(n), target]
    image, channel = np.repeat(np.arange(n), k), np.tile(np.arange(k), n)     # one row per pair

    def ablated_scores(image_chunk, channel_chunk):
        logits = hooked_forward(model, x[image_chunk], [(layer, _zeroing(channel_chunk))])
        return scored(Tensor(logits), score).data[np.arange(len(image_chunk)),
                                                  target[image_chunk]]

    ablated = in_batches(ablated_scores, image, channel, batch_size=batch_size).reshape(n, k)
    weights = _safe_divide(original[:, None] - ablated, np.repeat(original[:, None], k, 1))
    return Explanation(weighted_sum(activations, weights[:, :, None, None]), target)


def _zeroing(channels):
    """A forward hook that returns the layer's output with channel channels[i] of row i set
    to 0."""
    def zero(module, inputs, output):
        ablated = output.data.copy()
        ablated[np.arange(len(channels)), channels] = 0
        return Tensor(ablated)
    return zero
