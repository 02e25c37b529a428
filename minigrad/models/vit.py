"""A vision transformer (Dosovitskiy et al. 2021, "An image is worth 16x16 words"), small enough
to train on MNIST on a laptop CPU:

    image (N, C, H, W) -> patches (N, P, D) -> [class token] + patches (N, 1 + P, D)
      -> + position embeddings -> depth x pre-norm TransformerEncoderLayer -> LayerNorm
      -> the class token's output (N, D) -> Linear -> logits (N, num_classes)

tiny_vit() on MNIST: 7x7 patches (a 4x4 grid: 16 patches + the class token), dim 64, 4 heads,
4 blocks, MLP dim 128, about 0.14M parameters. 4x4 patches (a 7x7 grid, 50 tokens) are finer
maps but three times slower per step here (recipes.recipe_for).
"""
from minigrad.nn import (ClassToken, LayerNorm, Linear, Module, ModuleList, PatchEmbedding,
                         PositionEmbedding, TransformerEncoderLayer)


class VisionTransformer(Module):
    """ViT classifier. x: (N, in_channels, image_size, image_size) -> logits (N, num_classes).

    head_drop: of every block's attention (whole heads dropped in training, see
    nn.MultiheadAttention); dropout: of the attention weights and the MLP, as in
    TransformerEncoderLayer. `blocks[i].self_attn` is block i's attention (for its maps).
    """

    def __init__(self, image_size=28, patch_size=4, in_channels=1, num_classes=10,
                 embed_dim=64, depth=4, num_heads=4, mlp_dim=128, dropout=0.0, head_drop=0.0):
        super().__init__()
        self.patch_embed = PatchEmbedding(image_size, patch_size, in_channels, embed_dim)
        self.class_token = ClassToken(embed_dim)
        self.pos_embed = PositionEmbedding(1 + self.patch_embed.num_patches, embed_dim)
        self.blocks = ModuleList([
            TransformerEncoderLayer(embed_dim, num_heads, mlp_dim, dropout, "gelu",
                                    layer_norm_eps=1e-6, batch_first=True, norm_first=True,
                                    head_drop=head_drop)
            for _ in range(depth)])
        self.norm = LayerNorm(embed_dim, eps=1e-6)
        self.head = Linear(embed_dim, num_classes)

    def forward(self, x):
        tokens = self.pos_embed(self.class_token(self.patch_embed(x)))     # (N, 1 + P, D)
        for block in self.blocks:
            tokens = block(tokens)
        return self.head(self.norm(tokens)[:, 0])                          # the class token


def tiny_vit(image_size=28, patch_size=7, in_channels=1, num_classes=10, **kwargs):
    """The small ViT of the MNIST recipe (7x7 patches, dim 64, 4 heads, 4 blocks unless told
    otherwise)."""
    return VisionTransformer(image_size, patch_size, in_channels, num_classes, **kwargs)
