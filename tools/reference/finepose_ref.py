"""PyTorch reference of FinePOSE (CVPR 2024) inference, for finepose's parity tests.

An independent re-implementation of the official code (github PKU-ICST-MIPL/FinePOSE_CVPR2024:
common/mixste_finepose.py, common/finepose.py and the *_3dhp variants).  Module and parameter
names are the official ones, so `FinePOSE(cfg).state_dict()` has exactly the official keys in
the official order (prefix them with 'module.' to get a checkpoint's 'model_pos').  At
cs=512 / text width 512 / 8 heads / full CLIP every shape is the official one; smaller
sizes are our generalisation (see Config).

Behaviour at eval time equals the official code, quirks included (the C++ port must do the same):
  * Text prompt (FPP): seven pieces [ctx_subject | first 4 tokens of "A person"], [ctx_verb |
    first 4 tokens of the action label], [ctx_speed | "speed"], head, body, arm, leg -- each
    learnable context followed by the first 4 token *embeddings* (start token included) of its
    word; 77 positions in all.  3DHP: no verb piece, longer contexts.
  * CLIP text transformer (causal mask, QuickGELU, pre-norm, LayerNorm eps 1e-5), ln_final, then
    the post-norm text encoder (exact GELU, no mask), text_ln.  xf_proj = text_proj of the
    position text.argmax(-1) -- the end token's index in the RAW action tokens, applied to the
    ASSEMBLED prompt sequence (so for "Walking" it is position 2, inside the subject piece).
    3DHP: position 76.
  * Conditioning c = time_mlp(t) + xf_proj, added to every spatial token; the cross attention's
    StylizationBlock uses the same c.  The cross attention attends to all 77 text positions
    (no padding mask).  Upstream tiles the text batch over attention rows: row r (rows ordered
    batch, hypothesis, joint) reads text[r mod B_text] ("tile", default).  "per_sample" makes
    each batch item read its own text (the evident intent); the two agree when all labels match.
  * Spatial_norm / Temporal_norm are single modules applied after every STE / TTE block.
  * Sinusoidal time embedding in float32: freq_i = exp(float32(i) * float32(-ln(1e4)/(half-1))),
    arg = float32(t) * freq_i, [sin | cos].
  * Diffusion: cosine schedule (s=0.008) over 1000 steps in float64; DDIM time pairs from
    torch.linspace(-1, 999, K+1) (float32) truncated to int, reversed; eta = 1.
    x_t = clamp(img, +-1.1 scale) / scale; x0 = clamp(scale * model(x_t), +-1.1 scale);
    pred_noise = float32((sqrt_recip_ac[t] * f64(img) - f64(x0)) / sqrt_recipm1_ac[t]) computed
    in float64 and rounded once; sigma, c in float64 (0-dim), each rounded to float32 when
    multiplied: img = x0 * f32(sqrt(ac_next)) + f32(c) * pred_noise + f32(sigma) * noise.
  * Flip test-time augmentation: the model also runs on the mirrored input (2D x -> -x, left and
    right keypoints swapped; x_t x -> -x, joints swapped), its output is mirrored back and the
    two are averaged before the x0 scaling.
  * The official ddim_sample (no flip) crashes as released (self.device undefined, pred_noise
    stays float64 and turns img into float64); it is implemented here as if fixed: CPU device
    and pred_noise.float() exactly as in ddim_sample_flip.  3DHP results are multiplied by 1000
    (its no-flip sampler returns `list * 1000`; here the intended tensor * 1000).
Sampling takes its noise as arguments (replayable): noise_init (B,H,F,J,3) and noise_steps
(K-1,B,H,F,J,3), consumed in order by the steps whose next time is >= 0.
"""
import math
from collections import OrderedDict
from dataclasses import dataclass, asdict
from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F

H36M_JOINTS_LEFT = [4, 5, 6, 11, 12, 13]
H36M_JOINTS_RIGHT = [1, 2, 3, 14, 15, 16]
MPI3DHP_JOINTS_LEFT = [5, 6, 7, 11, 12, 13]
MPI3DHP_JOINTS_RIGHT = [2, 3, 4, 8, 9, 10]

# Prompt pieces in order: (context name, word source).  Source 'pre:i' is the i-th of the six
# fixed texts ("A person", "speed", "head", "body", "arm", "leg"), 'action' the action label.
PROMPT_H36M = [("subject", "pre:0"), ("verb", "action"), ("speed", "pre:1"), ("head", "pre:2"),
               ("body", "pre:3"), ("arm", "pre:4"), ("leg", "pre:5")]
PROMPT_3DHP = [("subject", "pre:0"), ("speed", "pre:1"), ("head", "pre:2"), ("body", "pre:3"),
               ("arm", "pre:4"), ("leg", "pre:5")]
# Total piece lengths of the official code (context length = total - 4 kept word tokens).
PIECE_LENGTHS_H36M = [7, 12, 10, 10, 10, 14, 14]
PIECE_LENGTHS_3DHP = [9, 12, 12, 12, 16, 16]
PRE_TEXTS = ["A person", "speed", "head", "body", "arm", "leg"]
WORD_TOKENS_KEPT = 4  # official remain_len


@dataclass
class Config:
    variant: str = "h36m"          # "h36m" | "3dhp"
    depth: int = 8                 # args.dep
    frames: int = 243              # args.number_of_frames
    joints: int = 17
    dim: int = 512                 # args.cs
    heads: int = 8                 # denoiser and cross-attention heads (official 8)
    mlp_ratio: float = 2.0
    text_width: int = 512          # CLIP text width = text encoder d_model
    text_vocab: int = 49408
    context_length: int = 77
    clip_layers: int = 12
    clip_heads: int = 8
    clip_embed_dim: int = 512      # CLIP joint embedding size (text_projection / visual.proj columns)
    encoder_layers: int = 4
    encoder_heads: int = 8
    encoder_ff: int = 2048
    scale: float = 1.0
    timesteps: int = 1000
    # CLIP's image tower is unused by FinePOSE; only its parameter names matter (loaders skip it).
    # Defaults: a tiny stand-in.  ViT-B/32 is (768, 12, 12, 32, 224).
    visual_width: int = 8
    visual_layers: int = 1
    visual_heads: int = 1
    visual_patch: int = 2
    visual_resolution: int = 4

    @property
    def prompt(self):
        return PROMPT_3DHP if self.variant == "3dhp" else PROMPT_H36M

    @property
    def ctx_lengths(self) -> List[int]:
        totals = PIECE_LENGTHS_3DHP if self.variant == "3dhp" else PIECE_LENGTHS_H36M
        return [n - WORD_TOKENS_KEPT for n in totals]

    @property
    def joints_left(self):
        return MPI3DHP_JOINTS_LEFT if self.variant == "3dhp" else H36M_JOINTS_LEFT

    @property
    def joints_right(self):
        return MPI3DHP_JOINTS_RIGHT if self.variant == "3dhp" else H36M_JOINTS_RIGHT

    def check(self):
        assert self.variant in ("h36m", "3dhp"), self.variant
        assert self.dim % self.heads == 0 and self.dim % 2 == 0
        assert self.text_width % self.clip_heads == 0 and self.text_width % self.encoder_heads == 0
        assert sum(self.ctx_lengths) + WORD_TOKENS_KEPT * len(self.prompt) == self.context_length


# ----------------------------------------------------------------------------------------------
# Denoiser pieces (MixSTE-style spatial / temporal transformer blocks)

class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
    """Self attention over the middle axis of (N, L, C), fused qkv, heads split as [3][H][d]."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        n, length, c = x.shape
        d = c // self.heads
        q, k, v = self.qkv(x).view(n, length, 3, self.heads, d).permute(2, 0, 3, 1, 4)
        weights = ((q @ k.transpose(-2, -1)) * d ** -0.5).softmax(dim=-1)
        return self.proj((weights @ v).transpose(1, 2).reshape(n, length, c))


class Block(nn.Module):
    """Pre-norm transformer block (LayerNorm eps 1e-6)."""

    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class SinusoidalPositionEmbeddings(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, t):
        half = self.dim // 2
        step = math.log(10000) / (half - 1)
        freqs = torch.exp(torch.arange(half, device=t.device) * -step)  # float32
        args = t[:, None] * freqs[None, :]
        return torch.cat((args.sin(), args.cos()), dim=-1)


class StylizationBlock(nn.Module):
    """out_layers(SiLU(LN(h) * (1 + scale) + shift)), (scale, shift) = emb_layers(c)."""

    def __init__(self, dim, cond_dim):
        super().__init__()
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(cond_dim, 2 * dim))
        self.norm = nn.LayerNorm(dim)
        self.out_layers = nn.Sequential(nn.SiLU(), nn.Dropout(0.0), nn.Linear(dim, dim))

    def forward(self, h, cond):
        """h (R, T, D); cond (R, cond_dim), one conditioning vector per row."""
        scale, shift = self.emb_layers(cond)[:, None, :].chunk(2, dim=-1)
        return self.out_layers(self.norm(h) * (1 + scale) + shift)


class TemporalCrossAttention(nn.Module):
    """Frames of each (sample, hypothesis, joint) row attend to the text tokens."""

    def __init__(self, dim, text_dim, heads):
        super().__init__()
        self.num_head = heads
        self.norm = nn.LayerNorm(dim)
        self.text_norm = nn.LayerNorm(text_dim)
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(text_dim, dim)
        self.value = nn.Linear(text_dim, dim)
        self.dropout = nn.Dropout(0.0)
        self.proj_out = StylizationBlock(dim, dim)

    def forward(self, x, xf, cond, text_of_row):
        """x (R, T, D); xf (B_text, N, text_dim); cond (R, D); text_of_row (R,) long."""
        rows, frames, dim = x.shape
        heads = self.num_head
        d = dim // heads
        q = self.query(self.norm(x)).view(rows, frames, heads, d)
        text = self.text_norm(xf)
        k = self.key(text)[text_of_row].view(rows, -1, heads, d)
        v = self.value(text)[text_of_row].view(rows, -1, heads, d)
        scores = torch.einsum("rthd,rmhd->rtmh", q, k) / math.sqrt(d)
        weights = F.softmax(scores, dim=2)  # over text positions
        y = torch.einsum("rtmh,rmhd->rthd", weights, v).reshape(rows, frames, dim)
        return x + self.proj_out(y, cond)


# ----------------------------------------------------------------------------------------------
# Text towers

class MultiheadSelfAttention(nn.Module):
    """Batch-first self attention with the parameter layout of torch.nn.MultiheadAttention."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * dim))
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x, additive_mask=None):
        b, length, c = x.shape
        d = c // self.heads
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).view(
            b, length, 3, self.heads, d).permute(2, 0, 3, 1, 4)
        scores = (q / math.sqrt(d)) @ k.transpose(-2, -1)
        if additive_mask is not None:
            scores = scores + additive_mask
        out = (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, length, c)
        return self.out_proj(out)


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    """CLIP block: pre-norm, QuickGELU MLP of width 4*dim."""

    def __init__(self, dim, heads):
        super().__init__()
        self.attn = MultiheadSelfAttention(dim, heads)
        self.ln_1 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(dim, 4 * dim)), ("gelu", QuickGELU()), ("c_proj", nn.Linear(4 * dim, dim))]))
        self.ln_2 = nn.LayerNorm(dim)

    def forward(self, x, mask):
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class CLIPTransformer(nn.Module):
    def __init__(self, width, layers, heads):
        super().__init__()
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(width, heads) for _ in range(layers)])

    def forward(self, x, mask=None):
        for block in self.resblocks:
            x = block(x, mask)
        return x


class VisionTowerNames(nn.Module):
    """Parameter holder with the names of CLIP's ViT image tower; never run by FinePOSE."""

    def __init__(self, width, layers, heads, patch, resolution, output_dim):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(width))
        self.positional_embedding = nn.Parameter(torch.zeros((resolution // patch) ** 2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = CLIPTransformer(width, layers, heads)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.zeros(width, output_dim))


class CLIPModel(nn.Module):
    """openai/CLIP's model.CLIP parameter layout; only the text side is used."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.visual = VisionTowerNames(cfg.visual_width, cfg.visual_layers, cfg.visual_heads,
                                       cfg.visual_patch, cfg.visual_resolution, cfg.clip_embed_dim)
        self.transformer = CLIPTransformer(cfg.text_width, cfg.clip_layers, cfg.clip_heads)
        self.token_embedding = nn.Embedding(cfg.text_vocab, cfg.text_width)
        self.positional_embedding = nn.Parameter(torch.zeros(cfg.context_length, cfg.text_width))
        self.ln_final = nn.LayerNorm(cfg.text_width)
        self.text_projection = nn.Parameter(torch.zeros(cfg.text_width, cfg.clip_embed_dim))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        n = cfg.context_length
        self.register_buffer("causal_mask", torch.full((n, n), float("-inf")).triu(1), persistent=False)


class TextEncoderLayer(nn.Module):
    """torch.nn.TransformerEncoderLayer (post-norm, exact GELU, eps 1e-5) parameter layout."""

    def __init__(self, dim, heads, ff):
        super().__init__()
        self.self_attn = MultiheadSelfAttention(dim, heads)
        self.linear1 = nn.Linear(dim, ff)
        self.linear2 = nn.Linear(ff, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, x):
        x = self.norm1(x + self.self_attn(x))
        return self.norm2(x + self.linear2(F.gelu(self.linear1(x))))


class TextEncoder(nn.Module):
    def __init__(self, dim, heads, ff, layers):
        super().__init__()
        self.layers = nn.ModuleList([TextEncoderLayer(dim, heads, ff) for _ in range(layers)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


# ----------------------------------------------------------------------------------------------
# Denoiser (official class name MixSTE2) and diffusion wrapper (FinePOSE)

class MixSTE2(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        cfg.check()
        self.cfg = cfg
        cs, tw = cfg.dim, cfg.text_width
        self.Spatial_patch_to_embedding = nn.Linear(2 + 3, cs)
        self.Spatial_pos_embed = nn.Parameter(torch.zeros(1, cfg.joints, cs))
        self.Temporal_pos_embed = nn.Parameter(torch.zeros(1, cfg.frames, cs))
        self.time_mlp = nn.Sequential(SinusoidalPositionEmbeddings(cs), nn.Linear(cs, 2 * cs), nn.GELU(),
                                      nn.Linear(2 * cs, cs))
        self.STEblocks = nn.ModuleList([Block(cs, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth)])
        self.TTEblocks = nn.ModuleList([Block(cs, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth)])
        self.Spatial_norm = nn.LayerNorm(cs, eps=1e-6)
        self.Temporal_norm = nn.LayerNorm(cs, eps=1e-6)
        self.head = nn.Sequential(nn.LayerNorm(cs), nn.Linear(cs, 3))
        self.temporal_cross_attn = TemporalCrossAttention(cs, tw, cfg.heads)
        self.textTransEncoder = TextEncoder(tw, cfg.encoder_heads, cfg.encoder_ff, cfg.encoder_layers)
        self.text_ln = nn.LayerNorm(tw)
        self.text_proj = nn.Sequential(nn.Linear(tw, cs))
        self.clip_text = CLIPModel(cfg)
        for (name, _), length in zip(cfg.prompt, cfg.ctx_lengths):
            self.register_parameter("ctx_" + name, nn.Parameter(torch.zeros(length, tw)))

    # -- text branch ------------------------------------------------------------------------
    def encode_text(self, text, pre_text):
        """text (B,77) long (h36m; None for 3dhp), pre_text (B,6,77) long ->
        xf_proj (B, dim), xf_out (B, 77, text_width)."""
        clip = self.clip_text
        batch = pre_text.shape[0]
        pre = clip.token_embedding(pre_text)
        action = clip.token_embedding(text) if text is not None else None
        pieces = []
        for name, source in self.cfg.prompt:
            ctx = getattr(self, "ctx_" + name)
            words = action if source == "action" else pre[:, int(source[4:])]
            pieces += [ctx.unsqueeze(0).expand(batch, -1, -1), words[:, :WORD_TOKENS_KEPT]]
        x = torch.cat(pieces, dim=1) + clip.positional_embedding
        x = clip.ln_final(clip.transformer(x, clip.causal_mask))
        xf_out = self.text_ln(self.textTransEncoder(x))
        if self.cfg.variant == "3dhp":
            pick = torch.full((batch,), self.cfg.context_length - 1, dtype=torch.long)
        else:
            pick = text.argmax(dim=-1)
        xf_proj = self.text_proj(xf_out[torch.arange(batch), pick])
        return xf_proj, xf_out

    # -- denoiser ---------------------------------------------------------------------------
    def forward(self, x_2d, x_3d, t, text, pre_text, text_rows="tile"):
        """x_2d (B,F,J,2), x_3d (B,H,F,J,3) (already clamped and divided by scale), t (B,) long.
        Returns the predicted x0 / scale, (B,H,F,J,3)."""
        b, h, f, n, _ = x_3d.shape
        cs = self.cfg.dim
        xf_proj, xf_out = self.encode_text(text, pre_text)
        cond = self.time_mlp(t) + xf_proj                                   # (B, cs)

        x = torch.cat((x_2d[:, None].expand(b, h, f, n, 2), x_3d), dim=-1)
        x = self.Spatial_patch_to_embedding(x.reshape(b * h * f, n, 5)) + self.Spatial_pos_embed
        x = (x.view(b, h * f, n, cs) + cond[:, None, None, :]).view(b * h * f, n, cs)
        x = self.Spatial_norm(self.STEblocks[0](x))
        x = x.view(b * h, f, n, cs).transpose(1, 2).reshape(b * h * n, f, cs)

        if text_rows == "tile":      # upstream: row r reads text[r mod B_text]
            text_of_row = torch.arange(b * h * n) % xf_out.shape[0]
        elif text_rows == "per_sample":
            text_of_row = torch.arange(b).repeat_interleave(h * n)
        else:
            raise ValueError(text_rows)
        x = self.temporal_cross_attn(x, xf_out, cond.repeat_interleave(h * n, dim=0), text_of_row)

        x = self.Temporal_norm(self.TTEblocks[0](x + self.Temporal_pos_embed))
        x = x.view(b * h, n, f, cs).transpose(1, 2)                          # (BH, F, J, cs)
        for i in range(1, self.cfg.depth):
            x = self.Spatial_norm(self.STEblocks[i](x.reshape(b * h * f, n, cs)))
            x = x.view(b * h, f, n, cs).transpose(1, 2).reshape(b * h * n, f, cs)
            x = self.Temporal_norm(self.TTEblocks[i](x))
            x = x.view(b * h, n, f, cs).transpose(1, 2)
        return self.head(x).reshape(b, h, f, n, 3)


def cosine_betas(timesteps, s=0.008):
    x = torch.linspace(0, timesteps, timesteps + 1, dtype=torch.float64)
    ac = torch.cos(((x / timesteps) + s) / (1 + s) * math.pi * 0.5) ** 2
    ac = ac / ac[0]
    return torch.clip(1 - ac[1:] / ac[:-1], 0, 0.999)


def ddim_times(total, steps):
    """[t_K, ..., t_1, -1]: torch.linspace(-1, total-1, steps+1) in float32, truncated, reversed."""
    return list(reversed(torch.linspace(-1, total - 1, steps=steps + 1).int().tolist()))


def mirror_pose(x, left, right):
    """x -> -x and left/right swapped on the joint axis (dim -2); returns a new tensor."""
    out = x.clone()
    out[..., 0] *= -1
    out[..., left + right, :] = out[..., right + left, :]
    return out


class FinePOSE(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.scale = cfg.scale
        betas = cosine_betas(cfg.timesteps)
        alphas = 1.0 - betas
        ac = torch.cumprod(alphas, dim=0)
        ac_prev = F.pad(ac[:-1], (1, 0), value=1.0)
        post_var = betas * (1.0 - ac_prev) / (1.0 - ac)
        for name, value in [
                ("betas", betas), ("alphas_cumprod", ac), ("alphas_cumprod_prev", ac_prev),
                ("sqrt_alphas_cumprod", ac.sqrt()), ("sqrt_one_minus_alphas_cumprod", (1.0 - ac).sqrt()),
                ("log_one_minus_alphas_cumprod", (1.0 - ac).log()),
                ("sqrt_recip_alphas_cumprod", (1.0 / ac).sqrt()),
                ("sqrt_recipm1_alphas_cumprod", (1.0 / ac - 1).sqrt()),
                ("posterior_variance", post_var),
                ("posterior_log_variance_clipped", post_var.clamp(min=1e-20).log()),
                ("posterior_mean_coef1", betas * ac_prev.sqrt() / (1.0 - ac)),
                ("posterior_mean_coef2", (1.0 - ac_prev) * alphas.sqrt() / (1.0 - ac))]:
            self.register_buffer(name, value)
        self.pose_estimator = MixSTE2(cfg)

    def _per_sample(self, table, t):
        return table.gather(-1, t).reshape(t.shape[0], 1, 1, 1, 1)

    def predict(self, img, x_2d, t, text, pre_text, flip, text_rows="tile"):
        """One denoising prediction -> (pred_noise float32, x0 float32)."""
        lim = 1.1 * self.scale
        x_t = torch.clamp(img, min=-lim, max=lim) / self.scale
        x0 = self.pose_estimator(x_2d, x_t, t, text, pre_text, text_rows)
        if flip:
            left, right = self.cfg.joints_left, self.cfg.joints_right
            x0_mirror = self.pose_estimator(mirror_pose(x_2d, left, right), mirror_pose(x_t, left, right),
                                            t, text, pre_text, text_rows)
            x0 = (x0 + mirror_pose(x0_mirror, left, right)) / 2
        x0 = torch.clamp(x0 * self.scale, min=-lim, max=lim)
        # float64 table values promote this to float64; rounded to float32 once at the end.
        noise = (self._per_sample(self.sqrt_recip_alphas_cumprod, t) * img - x0) \
            / self._per_sample(self.sqrt_recipm1_alphas_cumprod, t)
        return noise.float(), x0

    @torch.no_grad()
    def ddim_sample(self, x_2d, text, pre_text, noise_init, noise_steps, flip, text_rows="tile", eta=1.0):
        """x_2d (B,F,J,2); noise_init (B,H,F,J,3); noise_steps (K-1,B,H,F,J,3).
        Returns every step's x0 stacked: (B,K,H,F,J,3) (3dhp: times 1000)."""
        steps = noise_steps.shape[0] + 1
        times = ddim_times(self.cfg.timesteps, steps)
        batch = x_2d.shape[0]
        img = noise_init
        outs = []
        for i, (time, time_next) in enumerate(zip(times[:-1], times[1:])):
            t = torch.full((batch,), time, dtype=torch.long)
            pred_noise, x0 = self.predict(img, x_2d, t, text, pre_text, flip, text_rows)
            outs.append(x0)
            if time_next < 0:
                img = x0
                continue
            a, a_next = self.alphas_cumprod[time], self.alphas_cumprod[time_next]   # float64 0-dim
            sigma = eta * ((1 - a / a_next) * (1 - a_next) / (1 - a)).sqrt()
            c = (1 - a_next - sigma ** 2).sqrt()
            img = x0 * a_next.sqrt() + c * pred_noise + sigma * noise_steps[i]
        out = torch.stack(outs, dim=1)
        return out * 1000 if self.cfg.variant == "3dhp" else out


def pre_text_batch(pre_tokens, batch):
    """(6,77) -> (B,6,77) as main.py repeats it."""
    return pre_tokens.unsqueeze(0).repeat(batch, 1, 1)


def config_dict(cfg: Config):
    d = asdict(cfg)
    d["ctx_lengths"] = cfg.ctx_lengths
    d["joints_left"] = cfg.joints_left
    d["joints_right"] = cfg.joints_right
    return d
