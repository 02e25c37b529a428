# %% [markdown]
# # Do attention heads co-adapt, and does dropping whole heads in training change that?
#
# (Or open this file as a notebook: each `# %%` line starts a cell.)
#
#     python examples/head_dropout.py                    # 2 conditions x 3 seeds, ~15-20 minutes
#     python examples/head_dropout.py --seeds 1 --epochs 1 --limit 256 --test-limit 100  # a try
#
# The lecture's claim: heads learn to cover for each other, which muddies what any one attention
# map means; dropping half of the heads at random in training (head_drop=0.5) should make each
# head carry its own evidence. This trains the tiny ViT (the `minigrad train --model vit` recipe,
# for fewer epochs) with and without head dropout over several seeds, and measures on the bundled
# MNIST test digits:
#
#     accuracy           of the trained model
#     pointing, energy   attention rollout's pointing game and energy in mask, the mask being the
#                        digit's strokes (pixels above half the maximum; MNIST has no boxes).
#                        Rollout here is Abnar & Zuidema's, not the slide's bare product of the
#                        attention matrices: each block's attention is averaged with the identity
#                        for the residual path, (A + I) / 2, and its rows renormalised
#                        (minigrad/saliency/transformer.py says why)
#     drop mean / max    how much the accuracy falls when one head of one block is silenced at
#                        test time (MultiheadAttention.head_mask), over all blocks and heads:
#                        redundant heads give small drops
#     head corr          the mean pairwise Pearson correlation of the heads' class-token
#                        attention maps within a block (1: every head looks at the same patches)
#
# Each figure is a mean +- standard deviation over the seeds. Nothing is tuned to agree with the
# lecture: the table is what the runs gave.

# %%
import argparse
import itertools

import numpy as np

from minigrad import nn
from minigrad.apps.recipes import make_loaders, make_optimizer, one_cycle, recipe_for
from minigrad.models import tiny_vit
from minigrad.saliency import explain, metrics
from minigrad.saliency.core import untouched
from minigrad.saliency.transformer import attention_maps
from minigrad.train import evaluate, fit
from minigrad.lessons import Lesson

parser = argparse.ArgumentParser(description="Do attention heads co-adapt, and does dropping whole heads in training change that?")
parser.add_argument("--seeds", type=int, default=3)
parser.add_argument("--epochs", type=int, default=15)
parser.add_argument("--head-drop", type=float, default=0.5)
parser.add_argument("--limit", type=int, help="train on the first N training digits")
parser.add_argument("--test-limit", type=int, default=1000, help="test digits to measure on")
parser.add_argument("--out", help="also write the Markdown table to this file")
lesson = Lesson(parser)
args = lesson.args

RECIPE = recipe_for("mnist", "tiny_vit")


# %%
def train(head_drop, seed):
    train_loader, test_loader, _ = make_loaders("mnist", RECIPE, RECIPE.batch_size, seed=seed,
                                                limit=args.limit, test_limit=args.test_limit)
    nn.manual_seed(seed)
    model = tiny_vit(head_drop=head_drop)
    optimizer = make_optimizer(RECIPE.optimizer, model.parameters(), RECIPE.lr,
                               RECIPE.weight_decay)
    scheduler = one_cycle(optimizer, RECIPE.lr, args.epochs, len(train_loader))
    fit(model, train_loader, None, optimizer, args.epochs, scheduler, scheduler_step="batch",
        seed=seed, progress=False)
    return model, test_loader


# %%
def test_arrays(loader):
    """The normalised test images (N, 1, 28, 28), labels, and the digits' stroke masks."""
    images, labels = map(np.concatenate, zip(*((x.numpy(), y.numpy()) for x, y in loader)))
    strokes = images[:, 0] > (images.min() + images.max()) / 2
    return images, labels, strokes


def single_head_drops(model, loader, accuracy):
    """Accuracy lost when one head of one block is silenced, for every (block, head)."""
    drops = []
    for block in model.blocks:
        attention = block.self_attn
        for head in range(attention.num_heads):
            attention.head_mask = np.eye(attention.num_heads)[head] == 0
            drops.append(accuracy - evaluate(model, loader)["accuracy"])
            attention.head_mask = None
    return np.array(drops)


def head_correlation(model, images):
    """Mean Pearson correlation over the pairs of heads of a block of their class-token maps,
    over blocks and images."""
    with untouched(model):
        attentions, _ = attention_maps(model, images)
    values = []
    for attention in attentions:                             # (N, H, T, T)
        rows = attention[:, :, 0, 1:]                        # (N, H, P): class token -> patches
        for a, b in itertools.combinations(range(rows.shape[1]), 2):
            x, y = rows[:, a], rows[:, b]
            x, y = x - x.mean(axis=1, keepdims=True), y - y.mean(axis=1, keepdims=True)
            denominator = np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))
            values.append(np.divide((x * y).sum(axis=1), denominator,
                                    out=np.zeros(len(x)), where=denominator > 0))
    return float(np.mean(values))


def measure(model, loader):
    images, labels, strokes = test_arrays(loader)
    accuracy = evaluate(model, loader)["accuracy"]
    rollout = explain(model, images, labels, method="rollout")
    drops = single_head_drops(model, loader, accuracy)
    return {"accuracy": accuracy, "pointing": metrics.pointing_game(rollout, strokes).mean(),
            "energy": metrics.energy_in_mask(rollout, strokes).mean(),
            "drop mean": drops.mean(), "drop max": drops.max(),
            "head corr": head_correlation(model, images)}


COLUMNS = ("accuracy", "pointing", "energy", "drop mean", "drop max", "head corr")


def table(results):
    lines = ["| head_drop | seeds | " + " | ".join(COLUMNS) + " |",
             "|---|---|" + "---|" * len(COLUMNS)]
    for head_drop, runs in results.items():
        cells = [f"{np.mean([r[c] for r in runs]):.3f} +- {np.std([r[c] for r in runs]):.3f}"
                 for c in COLUMNS]
        lines.append(f"| {head_drop} | {len(runs)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# %%
results = {}
for head_drop in (0.0, args.head_drop):
    for seed in range(args.seeds):
        model, loader = train(head_drop, seed)
        results.setdefault(head_drop, []).append(measure(model, loader))
        print(f"head_drop {head_drop} seed {seed}: " + ", ".join(
            f"{key} {value:.3f}" for key, value in results[head_drop][-1].items()), flush=True)
print(f"\n{args.epochs} epochs per run, {args.test_limit} test digits\n")
print(table(results))
if args.out:
    with open(args.out, "w") as file:
        file.write(table(results) + "\n")


# %%
def mean_of(head_drop, column):
    return float(np.mean([run[column] for run in results[head_drop]]))


plain, dropped = 0.0, args.head_drop
lesson.claim(mean_of(dropped, "drop max") < mean_of(plain, "drop max")
             and mean_of(dropped, "head corr") > mean_of(plain, "head corr"),
             f"with head dropout {dropped} the heads become interchangeable, not independent: "
             f"silencing one head costs at most {mean_of(dropped, 'drop max'):.3f} of accuracy "
             f"(without: {mean_of(plain, 'drop max'):.3f}) and the heads' maps correlate "
             f"{mean_of(dropped, 'head corr'):.2f} (without: {mean_of(plain, 'head corr'):.2f}); "
             f"mean of {args.seeds} seeds")
