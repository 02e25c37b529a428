"""minigrad.saliency: why did the network say that?

One call for every method:

    maps = saliency.explain(model, x, method="gradcam")          # (N, H, W) float array

x is an image (C, H, W) or a batch (N, C, H, W), normalised as the model expects; target defaults
to the predicted class; score is 'logit', 'prob' or 'log_prob' (None: the method's own default,
'logit' for all but Score-CAM; CAM and CNN-Fixations explain the logit only); layer (CAM family)
defaults to the last conv layer's rectified output (the ReLU after the last Conv2d, see
core.rectified). Every method first computes a raw, signed map at its own resolution;
`postprocess` then applies named steps ('relu', 'abs', 'upsample', 'normalize' -- see
postprocess.py). The model is left as it was.

    gradients.py   vanilla gradient (and the signed gradient), gradient x input, SmoothGrad,
                   Integrated Gradients, guided backprop, deconvnet
    cam.py         CAM, Grad-CAM, Grad-CAM++, HiResCAM, XGrad-CAM, LayerCAM, Score-CAM,
                   guided Grad-CAM, EigenCAM, AblationCAM
    occlusion.py   sliding-window occlusion
    fixations.py   CNN-Fixations (gradient-free tracing of the evidence back to the pixels)
    metrics.py     pointing game, energy in mask, box IoU, deletion/insertion, sanity check,
                   and the baseline maps every table should carry
    plot.py        overlay grids, deletion/insertion curves, sanity cascade, fixation points
    layers.py      the same method at every conv layer, scored
    dynamic.py     the dynamic-linear view: linearize (y = W(x) x + b(x) of a ReLU network,
                   exactly), dynamic_linear_map (y = W(x) x of a B-cos network), and their
                   saliency methods with the B-cos paper's RGB+alpha rendering
    transformer.py attention rollout, raw attention and token Grad-CAM, for vision transformers
                   (x through the model's PatchEmbedding; layer= for token_gradcam only)
    lrp.py         layer-wise relevance propagation with Zennit's rules (LRP-0, epsilon, gamma,
                   alpha-beta, z+, flat, w^2, z^B) and composites (EpsilonPlusFlat ...)
    attribution.py DeepLIFT (Rescale rule) and GradientSHAP against baselines, as in Captum

Beyond one decision (not methods of explain):

    features.py    what a unit responds to: receptive fields, activation maximisation of a unit,
                   channel or class, each channel's top-activating images and patches
    selectivity.py how class-selective each unit is: top-k class entropy, selectivity index
(Adversarial inputs, FGSM and PGD, are minigrad.adversarial: they change the input, not explain it.)
"""
from minigrad.saliency import attribution as _attribution
from minigrad.saliency import cam as _cam
from minigrad.saliency import dynamic as _dynamic
from minigrad.saliency import fixations as _fixations
from minigrad.saliency import gradients as _gradients
from minigrad.saliency import lrp as _lrp
from minigrad.saliency import occlusion as _occlusion
from minigrad.saliency import transformer as _transformer
from minigrad.saliency.core import Explanation, as_batch, check_score
from minigrad.saliency.dynamic import LinearView, dynamic_linear_map, linearize
from minigrad.saliency.postprocess import apply_steps

# name -> (function, default post-processing steps, default score)
METHODS = {
    "vanilla": (_gradients.vanilla_gradient, ("normalize",), "logit"),
    "gradient": (_gradients.signed_gradient, ("normalize",), "logit"),
    "grad_x_input": (_gradients.gradient_x_input, ("normalize",), "logit"),
    "smoothgrad": (_gradients.smoothgrad, ("normalize",), "logit"),
    "integrated_gradients": (_gradients.integrated_gradients, ("normalize",), "logit"),
    "guided_backprop": (_gradients.guided_backprop, ("normalize",), "logit"),
    "deconvnet": (_gradients.deconvnet, ("normalize",), "logit"),
    "lrp": (_lrp.lrp, ("normalize",), "logit"),
    "deeplift": (_attribution.deeplift, ("normalize",), "logit"),
    "gradient_shap": (_attribution.gradient_shap, ("normalize",), "logit"),
    "cam": (_cam.cam, ("relu", "upsample", "normalize"), "logit"),
    "gradcam": (_cam.gradcam, ("relu", "upsample", "normalize"), "logit"),
    "gradcam++": (_cam.gradcampp, ("relu", "upsample", "normalize"), "logit"),
    "hirescam": (_cam.hirescam, ("relu", "upsample", "normalize"), "logit"),
    "xgradcam": (_cam.xgradcam, ("relu", "upsample", "normalize"), "logit"),
    "layercam": (_cam.layercam, ("relu", "upsample", "normalize"), "logit"),
    "scorecam": (_cam.scorecam, ("relu", "upsample", "normalize"), "prob"),
    "guided_gradcam": (_cam.guided_gradcam, ("normalize",), "logit"),
    "eigencam": (_cam.eigencam, ("relu", "upsample", "normalize"), "logit"),
    "ablationcam": (_cam.ablationcam, ("relu", "upsample", "normalize"), "logit"),
    "occlusion": (_occlusion.occlusion, ("normalize",), "logit"),
    "fixations": (_fixations.cnn_fixations, ("normalize",), "logit"),
    "linearize": (_dynamic.linearize_method, ("normalize",), "logit"),
    "bcos": (_dynamic.bcos_method, ("normalize",), "logit"),
    "rollout": (_transformer.attention_rollout, ("upsample", "normalize"), "logit"),
    "attention": (_transformer.raw_attention, ("upsample", "normalize"), "logit"),
    "token_gradcam": (_transformer.token_gradcam, ("relu", "upsample", "normalize"), "logit"),
}
LAYER_METHODS = ("gradcam", "gradcam++", "hirescam", "xgradcam", "layercam", "scorecam",
                 "guided_gradcam", "token_gradcam", "eigencam", "ablationcam")
# defined on the logit alone: CAM's map is the last Linear's weights times the features (its mean
# plus the bias is the logit), CNN-Fixations follows the class unit back without any score,
# linearize and bcos read the logit's own linear map, LRP shares out the logit and DeepLIFT its
# change from the baseline's (Captum's rescale multipliers stop at the logit)
LOGIT_ONLY_METHODS = ("cam", "fixations", "linearize", "bcos", "lrp", "deeplift")
# read from the attention (EigenCAM: a layer's activations) alone: the same map whatever the
# class and the score
CLASS_AGNOSTIC_METHODS = ("rollout", "attention", "eigencam")
TRANSFORMER_METHODS = ("rollout", "attention", "token_gradcam")
# need a B-cos network (nn.BcosConv2d, nn.BcosLinear; models.bcos_lenet ...)
BCOS_METHODS = ("bcos",)


def explain(model, x, target=None, method="gradcam", layer=None, score=None,
            postprocess="default", return_explanation=False, **options):
    """Saliency maps of `model` for the batch x: -> float array (N, H, W).

    method:      one of METHODS (see the module docstring); options go to it (e.g. samples=50
                 for SmoothGrad, steps=200 for Integrated Gradients, window=4 for occlusion)
    target:      class to explain, an int or one per image; None: the predicted class
    layer:       for the CAM family, a module name ('features.6') or module; None: the ReLU
                 after the last Conv2d (or that Conv2d if no ReLU follows it)
    score:       'logit', 'prob' or 'log_prob'; None: the method's default (LOGIT_ONLY_METHODS
                 take 'logit' only)
    postprocess: 'default' (the method's steps), a sequence of steps, or () for the raw map
    return_explanation: also get the raw map and extras -> (maps, Explanation)
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; the methods are {sorted(METHODS)}")
    function, default_steps, default_score = METHODS[method]
    if layer is not None and method not in LAYER_METHODS:
        raise ValueError(f"method {method!r} takes no layer; layer= applies to "
                         f"{LAYER_METHODS}")
    if layer is not None:
        options["layer"] = layer
    if score is not None:
        check_score(score)
    if score not in (None, "logit") and method in CLASS_AGNOSTIC_METHODS:
        raise ValueError(f"method {method!r} reads the attention or the activations, which no "
                         f"score changes; score={score!r} applies to the other methods")
    batch = as_batch(x)
    explanation = function(model, batch, target, score or default_score, **options)
    steps = default_steps if postprocess == "default" else tuple(postprocess or ())
    maps = apply_steps(explanation.maps, steps, batch.shape[2:])
    return (maps, explanation) if return_explanation else maps


__all__ = ["explain", "METHODS", "LAYER_METHODS", "LOGIT_ONLY_METHODS", "Explanation",
           "CLASS_AGNOSTIC_METHODS", "TRANSFORMER_METHODS", "BCOS_METHODS", "linearize",
           "LinearView", "dynamic_linear_map"]
