"""The two segment encoders of NeuroNarrator: a patch transformer over the EEG and a small CNN (or any
transformers vision model) over the band-power topomaps. Both return a token sequence for the
language model and a pooled vector for grounding and the history reasoner.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel

from .configuration_neuronarrator import (
    NeuroNarratorConfig,
    NeuroNarratorEEGConfig,
    NeuroNarratorTopomapConfig,
)
from .eeg_io_neuronarrator import STANDARD_CHANNELS
from .findings_neuronarrator import (
    BAND_EDGES_HZ,
    BANDS,
    FRONTAL_CHANNELS,
    POSTERIOR_CHANNELS,
    REGION_CHANNELS,
    flattened_peak,
)
from .validation_neuronarrator import check_option

__all__ = [
    "NeuroNarratorEEGEncoder",
    "NeuroNarratorTopomapEncoder",
    "NeuroNarratorVisionTopomapEncoder",
    "RHYTHM_ESTIMATORS",
    "aperiodic_peak",
    "build_topomap_encoder",
    "rhythm_features",
    "rhythm_read_out",
]


def _attention(query, key, value, num_heads: int, key_mask: torch.Tensor | None, dropout: float) -> torch.Tensor:
    """Multi-head scaled dot-product attention.

    ``query`` (B, Lq, D), ``key``/``value`` (B, Lk, D); ``key_mask`` (B, Lk) bool, True = the key
    takes part. Returns (B, Lq, D).
    """
    batch, q_len, dim = query.shape
    head_dim = dim // num_heads
    q = query.view(batch, q_len, num_heads, head_dim).transpose(1, 2)  # (B, h, Lq, hd)
    k = key.view(batch, -1, num_heads, head_dim).transpose(1, 2)  # (B, h, Lk, hd)
    v = value.view(batch, -1, num_heads, head_dim).transpose(1, 2)
    attn_mask = None if key_mask is None else key_mask[:, None, None, :]  # (B, 1, 1, Lk)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout)
    return out.transpose(1, 2).reshape(batch, q_len, dim)  # (B, Lq, D)


class _EncoderBlock(nn.Module):
    """Pre-norm transformer block whose attention ignores masked keys."""

    def __init__(self, hidden_size: int, num_heads: int, intermediate_size: int, dropout: float, eps: float):
        super().__init__()
        self.num_heads = num_heads
        self.dropout = dropout
        self.norm1 = nn.LayerNorm(hidden_size, eps=eps)
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        self.out = nn.Linear(hidden_size, hidden_size)
        self.norm2 = nn.LayerNorm(hidden_size, eps=eps)
        self.mlp = nn.Sequential(
            nn.Linear(hidden_size, intermediate_size), nn.GELU(), nn.Linear(intermediate_size, hidden_size)
        )

    def forward(self, hidden: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
        q, k, v = self.qkv(self.norm1(hidden)).chunk(3, dim=-1)  # 3 x (B, L, D)
        drop = self.dropout if self.training else 0.0
        hidden = hidden + F.dropout(self.out(_attention(q, k, v, self.num_heads, key_mask, drop)), drop, self.training)
        return hidden + F.dropout(self.mlp(self.norm2(hidden)), drop, self.training)


class _QueryResampler(nn.Module):
    """Learned queries cross-attending to a token sequence: (B, L, D) -> (B, num_queries, D)."""

    def __init__(self, hidden_size: int, num_heads: int, num_queries: int, eps: float):
        super().__init__()
        self.num_heads = num_heads
        self.queries = nn.Parameter(torch.zeros(num_queries, hidden_size))
        self.norm_q = nn.LayerNorm(hidden_size, eps=eps)
        self.norm_kv = nn.LayerNorm(hidden_size, eps=eps)
        self.q_proj = nn.Linear(hidden_size, hidden_size)
        self.kv_proj = nn.Linear(hidden_size, 2 * hidden_size)
        self.out = nn.Linear(hidden_size, hidden_size)
        self.norm_out = nn.LayerNorm(hidden_size, eps=eps)

    def forward(self, tokens: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
        batch = tokens.shape[0]
        queries = self.queries[None].expand(batch, -1, -1)  # (B, Q, D)
        k, v = self.kv_proj(self.norm_kv(tokens)).chunk(2, dim=-1)  # 2 x (B, L, D)
        attended = _attention(self.q_proj(self.norm_q(queries)), k, v, self.num_heads, key_mask, 0.0)
        return self.norm_out(queries + self.out(attended))  # (B, Q, D)


# Floor of the patch amplitude spectrum: 1e-3 of µV/100 per bin is 0.1 µV, below any scalp
# rhythm, so a disconnected (flat) input sits well apart from real EEG.
SPECTRUM_FLOOR = 1e-3


def patch_log_spectrum(patches: torch.Tensor) -> torch.Tensor:
    """``(..., S)`` patches -> ``(..., S // 2 + 1)`` log amplitude spectrum, scaled so white noise of
    standard deviation sigma has about ``log(sigma)`` in every bin."""
    amplitude = torch.fft.rfft(patches.float(), dim=-1).abs() / math.sqrt(patches.shape[-1])
    return torch.log(amplitude + SPECTRUM_FLOOR).to(patches.dtype)


def welch_power(eeg: torch.Tensor, window: int, periodic: bool = False, detrend: bool = False) -> torch.Tensor:
    """``(B, C, T)`` -> ``(B, C, window // 2 + 1)`` float32 Welch power spectrum per channel: Hann
    windows of ``window`` samples (``periodic`` as scipy's Welch, else symmetric), half overlap,
    each window's mean removed with ``detrend``; scaled so white noise of standard deviation sigma
    has about ``sigma**2`` in every bin."""
    frames = eeg.float().unfold(-1, window, window // 2)  # (B, C, n_windows, window)
    if detrend:
        frames = frames - frames.mean(dim=-1, keepdim=True)
    taper = torch.hann_window(window, periodic=periodic, device=eeg.device, dtype=torch.float32)
    return torch.fft.rfft(frames * taper, dim=-1).abs().square().mean(dim=-2) / taper.square().sum()


def channel_log_spectrum(eeg: torch.Tensor, window: int) -> torch.Tensor:
    """``(B, C, T)`` -> ``(B, C, window // 2 + 1)`` log Welch power spectrum per channel
    (``welch_power``: symmetric Hann, no detrend), about ``log(sigma**2)`` per bin for white noise."""
    return torch.log(welch_power(eeg, window) + SPECTRUM_FLOOR**2).to(eeg.dtype)


# The rhythm read-out (``rhythm_features``): channel groups, the bands of the relative power and
# the alpha range whose peak is measured against the 1/f line through its flanks (ACNS 2021: a
# posterior dominant rhythm is the posterior alpha-range rhythm that stands out of the background).
# The groups of the findings' rhythm rules; "temporal" is the temporal region without the
# anterior temporal F7/F8, which the frontal group already holds (each channel in one group).
RHYTHM_GROUPS = {
    "posterior": POSTERIOR_CHANNELS,
    "frontal": FRONTAL_CHANNELS,
    "central": REGION_CHANNELS["central"],
    "temporal": tuple(c for c in REGION_CHANNELS["temporal"] if c not in FRONTAL_CHANNELS),
}
RHYTHM_BANDS_HZ = tuple(BAND_EDGES_HZ[band] for band in BANDS)
ALPHA_RANGE_HZ = (7.5, 13.5)
ALPHA_FLANKS_HZ = ((5.5, 7.0), (14.5, 17.0))
RHYTHM_FEATURES_PER_GROUP = 3 + len(RHYTHM_BANDS_HZ)  # peak prominence, peak frequency, interior, band shares
NUM_RHYTHM_FEATURES = len(RHYTHM_GROUPS) * RHYTHM_FEATURES_PER_GROUP
_TINY_POWER = 1e-12
SHARE_FLOOR = 1e-3  # band shares enter as logs (a posterior-over-frontal share is then a difference)


# How rhythm_features measures each group's alpha peak: "flanks" (the 1/f line through the
# 5.5-7 and 14.5-17 Hz flanks; what the shipped default model was trained with) or "aperiodic"
# (aperiodic_peak: the findings' estimate, FOOOF's 'fixed' 1/f fit over 1-30 Hz).
RHYTHM_ESTIMATORS = ("flanks", "aperiodic")


def aperiodic_peak(power: torch.Tensor, freqs: torch.Tensor, low: float, high: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The findings' rhythm estimate (``findings_neuronarrator.flattened_peak``, called here: one
    implementation) on torch spectra: the spectrum flattened by the aperiodic (1/f) fit over
    1-30 Hz, averaged over 1 Hz, its highest point inside [low, high] Hz. A descriptor, not a
    learned quantity: no gradient flows through it.

    Args:
        power: ``(..., F)`` power spectra (any units); freqs: ``(F,)`` Hz, evenly spaced.

    Returns:
        ``(frequency_hz, height, interior)``: the unsmoothed spectrum's highest bin near that point,
        parabola-refined; the height above the aperiodic fit in log10 power; whether the point is
        inside the range (not its edge). Each of shape ``power.shape[:-1]``, float64 / bool, on
        ``power``'s device.
    """
    spectra = power.detach().double().cpu().numpy()
    frequency, height, interior = flattened_peak(spectra, freqs.detach().double().cpu().numpy(), low, high)
    return tuple(torch.from_numpy(np.ascontiguousarray(v)).to(power.device) for v in (frequency, height, interior))


def _flank_peak(spectrum: torch.Tensor, freqs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ``"flanks"`` estimate of the alpha peak of ``spectrum`` ``(B, F)``: ``(frequency (B,),
    prominence (B,), interior (B,) bool)``: the largest alpha-range bin (parabola-refined) against
    the 1/f line through the 5.5-7 and 14.5-17 Hz flanks; no prominence on the range's edge."""
    in_range = torch.nonzero((freqs >= ALPHA_RANGE_HZ[0]) & (freqs <= ALPHA_RANGE_HZ[1]))[:, 0]
    flanks = [(freqs >= lo) & (freqs <= hi) for lo, hi in ALPHA_FLANKS_HZ]
    centres = [sum(edges) / 2 for edges in ALPHA_FLANKS_HZ]
    step = float(freqs[1] - freqs[0])
    rows = torch.arange(spectrum.shape[0], device=spectrum.device)
    k = in_range[spectrum[:, in_range].argmax(dim=-1)]  # (B,)
    left, peak, right = spectrum[rows, k - 1], spectrum[rows, k], spectrum[rows, k + 1]
    curvature = left - 2 * peak + right
    offset = torch.where(curvature < 0, 0.5 * (left - right) / curvature.clamp(max=-_TINY_POWER), torch.zeros_like(peak))
    frequency = freqs[k] + offset.clamp(-0.5, 0.5) * step
    low, high = spectrum[:, flanks[0]].mean(dim=-1), spectrum[:, flanks[1]].mean(dim=-1)
    slope = torch.log(high / low) / math.log(centres[1] / centres[0])
    background = low * (freqs[k] / centres[0]) ** slope
    # A maximum on the range's edge is a neighbouring band's tail, not a peak: no prominence.
    interior = (freqs[k] > ALPHA_RANGE_HZ[0]) & (freqs[k] < ALPHA_RANGE_HZ[1])
    prominence = torch.where(interior, torch.log(peak / background), torch.zeros_like(peak))
    return frequency, prominence, interior


def rhythm_features(
    eeg: torch.Tensor, channel_mask: torch.Tensor | None, sampling_rate: float = 200.0, estimator: str = "flanks"
) -> torch.Tensor:
    """Quantitative rhythm descriptors of each segment: ``(B, C, T)`` -> ``(B, NUM_RHYTHM_FEATURES)``.

    For each group of ``RHYTHM_GROUPS`` (its recorded channels; all of its channels when none is),
    from the group's mean Welch power spectrum (4 s Hann windows, half overlap: 0.25 Hz bins):
    the log ratio of the largest alpha-range bin to the 1/f line through the 5.5-7 and 14.5-17 Hz
    flanks (0 when that bin is the range's edge: a neighbouring band's tail, not a peak), that
    bin's frequency (parabola-refined, as (f - 10.5) / 3), whether it is interior, and the log of
    the group's mean relative power in the five bands. A learned read-out of spectra seen on a few
    subjects does not find a new subject's alpha peak (its frequency and height differ per person);
    these scale- and frequency-invariant numbers do, and an MLP combines them into a yes/no (a PDR
    is a prominent, non-edge, posterior-predominant alpha peak).

    ``estimator`` (``RHYTHM_ESTIMATORS``): ``"flanks"`` (default; the shipped checkpoint's
    descriptors, unchanged) measures the peak against the flank line; ``"aperiodic"`` uses
    ``aperiodic_peak``, the findings' own estimate (prominence = ln of the height over the
    aperiodic fit), for models trained with it.
    """
    check_option("estimator", estimator, RHYTHM_ESTIMATORS, where="rhythm_features")
    window = int(round(4.0 * sampling_rate))
    power = welch_power(eeg, window, periodic=True, detrend=True)  # (B, C, F): the rules' estimate (segment_psd)
    freqs = torch.fft.rfftfreq(window, 1.0 / sampling_rate).to(eeg.device)
    select = torch.stack([((freqs >= lo) & (freqs < hi)).float() for lo, hi in RHYTHM_BANDS_HZ], dim=-1)  # (F, 5)
    bands = power @ select
    shares = bands / bands.sum(dim=-1, keepdim=True).clamp_min(_TINY_POWER)  # (B, C, 5)

    batch, n_channels = eeg.shape[:2]
    recorded = torch.ones(batch, n_channels, dtype=torch.bool, device=eeg.device) if channel_mask is None else channel_mask.bool()
    recorded = recorded | ~recorded.any(dim=-1, keepdim=True)  # nothing recorded (positions only): use all
    features = []
    for names in RHYTHM_GROUPS.values():
        member = torch.zeros(n_channels, dtype=torch.bool, device=eeg.device)
        member[[STANDARD_CHANNELS.index(name) for name in names]] = True
        weight = (recorded & member).float()
        weight = torch.where(weight.sum(dim=-1, keepdim=True) > 0, weight, member.float().expand(batch, -1))
        weight = weight / weight.sum(dim=-1, keepdim=True)
        spectrum = torch.einsum("bc,bcf->bf", weight, power).clamp_min(_TINY_POWER)  # (B, F)
        if estimator == "aperiodic":
            frequency, height, interior = aperiodic_peak(spectrum, freqs, *ALPHA_RANGE_HZ)
            prominence = torch.where(interior, height * math.log(10.0), torch.zeros_like(height)).to(spectrum.dtype)
            frequency = frequency.to(spectrum.dtype)
        else:
            frequency, prominence, interior = _flank_peak(spectrum, freqs)
        group_shares = torch.einsum("bc,bcn->bn", weight, shares).clamp_min(SHARE_FLOOR)
        features += [prominence[:, None], ((frequency - 10.5) / 3.0)[:, None], interior.float()[:, None], torch.log(group_shares)]
    return torch.cat(features, dim=-1).to(eeg.dtype)


FREQUENCY_CODE_CENTRES_HZ = tuple(7.5 + 0.5 * i for i in range(13))  # the alpha range in 0.5 Hz steps
NUM_RHYTHM_READ_OUT = NUM_RHYTHM_FEATURES + len(RHYTHM_GROUPS) * len(FREQUENCY_CODE_CENTRES_HZ)


def rhythm_read_out(rhythm: torch.Tensor) -> torch.Tensor:
    """``(B, NUM_RHYTHM_FEATURES)`` -> ``(B, NUM_RHYTHM_READ_OUT)``: the descriptors plus each
    group's alpha-peak frequency as Gaussian bumps over 0.5 Hz centres (zero without an interior
    peak). A language model that must write "9.5 Hz" reads a bump at 9.5 as one direction to map to
    those tokens; from the raw scalar it wrote frequencies within 1 Hz only half of the time."""
    per_group = rhythm.view(rhythm.shape[0], len(RHYTHM_GROUPS), RHYTHM_FEATURES_PER_GROUP)
    frequency = 10.5 + 3.0 * per_group[..., 1:2].float()  # (B, G, 1) Hz
    interior = per_group[..., 2:3].float()
    centres = torch.tensor(FREQUENCY_CODE_CENTRES_HZ, device=rhythm.device)
    code = torch.exp(-0.5 * ((frequency - centres) / 0.5) ** 2) * interior  # (B, G, n_centres)
    return torch.cat([rhythm, code.flatten(1).to(rhythm.dtype)], dim=-1)


class NeuroNarratorEEGEncoder(nn.Module):
    """Per-channel 1 s patches -> linear embedding (+ log-spectrum embedding) + channel and time
    embeddings -> transformer.

    Input ``eeg_values`` (B, 19, 2000) in µV/100 at 200 Hz and ``channel_mask`` (B, 19) bool
    (True = recorded, False = interpolated). Interpolated channels are never attention keys and do
    not enter the pooled vector or the output tokens, so their samples cannot change the outputs.
    """

    def __init__(self, config: NeuroNarratorEEGConfig):
        super().__init__()
        self.config = config
        dim = config.hidden_size
        self.patch_embed = nn.Linear(config.patch_samples, dim)
        self.spectrum_embed = nn.Linear(config.patch_samples // 2 + 1, dim) if config.patch_spectrum else None
        self.channel_spectrum_embed = None
        if config.channel_spectrum:
            # 4-patch (4 s) windows, half overlap: the findings rules' own Welch estimate (0.25 Hz bins).
            self.channel_spectrum_embed = nn.Linear(2 * config.patch_samples + 1, dim)
            self.channel_spectrum_position = nn.Parameter(torch.zeros(dim))  # marks the token kind
        self.channel_embed = nn.Parameter(torch.zeros(config.num_channels, dim))
        self.time_embed = nn.Parameter(torch.zeros(config.num_patches, dim))
        self.blocks = nn.ModuleList(
            _EncoderBlock(dim, config.num_attention_heads, config.intermediate_size, config.hidden_dropout, config.layer_norm_eps)
            for _ in range(config.num_hidden_layers)
        )
        self.norm = nn.LayerNorm(dim, eps=config.layer_norm_eps)
        self.resampler = _QueryResampler(dim, config.num_attention_heads, config.num_output_tokens, config.layer_norm_eps)

    def forward(self, eeg_values: torch.Tensor, channel_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``tokens`` (B, num_output_tokens, hidden) and ``pooled`` (B, hidden)."""
        cfg = self.config
        if eeg_values.ndim != 3 or tuple(eeg_values.shape[1:]) != (cfg.num_channels, cfg.segment_samples):
            raise ValueError(
                f"eeg_values must have shape (batch, {cfg.num_channels}, {cfg.segment_samples}) (10 s at 200 Hz of "
                f"the harmonized channels), got {tuple(eeg_values.shape)}; run the NeuroNarratorFeatureExtractor first."
            )
        batch = eeg_values.shape[0]
        if channel_mask is None:
            channel_mask = torch.ones(batch, cfg.num_channels, dtype=torch.bool, device=eeg_values.device)
        channel_mask = channel_mask.to(device=eeg_values.device, dtype=torch.bool)
        if tuple(channel_mask.shape) != (batch, cfg.num_channels):
            raise ValueError(f"channel_mask must have shape ({batch}, {cfg.num_channels}), got {tuple(channel_mask.shape)}.")
        empty = (~channel_mask.any(dim=1)).nonzero().flatten().tolist()
        if empty:
            raise ValueError(
                f"channel_mask marks no recorded channel in batch rows {empty}; a segment needs at least one "
                "recorded channel (True) to be encoded."
            )
        dtype = self.patch_embed.weight.dtype
        patches = eeg_values.to(dtype).reshape(batch, cfg.num_channels, cfg.num_patches, cfg.patch_samples)  # (B, C, P, S)
        tokens = self.patch_embed(patches)  # (B, C, P, D)
        if self.spectrum_embed is not None:
            tokens = tokens + self.spectrum_embed(patch_log_spectrum(patches))
        tokens = tokens + self.channel_embed[None, :, None, :] + self.time_embed[None, None, :, :]
        tokens = tokens.reshape(batch, cfg.num_channels * cfg.num_patches, -1)  # (B, C*P, D)
        key_mask = channel_mask[:, :, None].expand(-1, -1, cfg.num_patches).reshape(batch, -1)  # (B, C*P)
        if self.channel_spectrum_embed is not None:
            spectra = channel_log_spectrum(eeg_values.to(dtype), 4 * cfg.patch_samples)  # (B, C, 2S + 1)
            spectrum_tokens = self.channel_spectrum_embed(spectra) + self.channel_embed + self.channel_spectrum_position
            tokens = torch.cat([tokens, spectrum_tokens], dim=1)  # (B, C*P + C, D)
            key_mask = torch.cat([key_mask, channel_mask], dim=1)
        for block in self.blocks:
            tokens = block(tokens, key_mask)
        tokens = self.norm(tokens)
        weights = key_mask[..., None].to(tokens.dtype)  # (B, C*P, 1); 0 for interpolated channels
        # where() rather than a product: an interpolated channel holding inf/nan must not leak either.
        pooled = torch.where(key_mask[..., None], tokens, 0.0).sum(1) / weights.sum(1)  # (B, D)
        return self.resampler(tokens, key_mask), pooled


class NeuroNarratorTopomapEncoder(nn.Module):
    """Small CNN over the band-power topomaps (B, 5, 32, 32) -> tokens (B, side*side, D) and pooled (B, D)."""

    def __init__(self, config: NeuroNarratorTopomapConfig):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = [nn.Conv2d(config.num_bands, config.conv_channels[0], 3, padding=1), nn.GELU()]
        previous = config.conv_channels[0]
        for channels in list(config.conv_channels[1:]) + [config.hidden_size]:
            layers += [nn.Conv2d(previous, channels, 3, stride=2, padding=1), nn.GELU()]
            previous = channels
        self.conv = nn.Sequential(*layers[:-1])  # no activation after the last convolution
        side = math.isqrt(config.num_output_tokens)
        self.pool = nn.AdaptiveAvgPool2d(side)
        self.position_embed = nn.Parameter(torch.zeros(config.num_output_tokens, config.hidden_size))
        self.norm = nn.LayerNorm(config.hidden_size)

    def forward(self, topomaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.config
        if topomaps.ndim != 4 or topomaps.shape[1] != cfg.num_bands:
            raise ValueError(
                f"topomaps must have shape (batch, {cfg.num_bands}, H, W) (one map per band), got {tuple(topomaps.shape)}."
            )
        grid = self.pool(self.conv(topomaps.to(self.position_embed.dtype)))  # (B, D, side, side)
        tokens = grid.flatten(2).transpose(1, 2) + self.position_embed  # (B, side*side, D)
        tokens = self.norm(tokens)
        return tokens, tokens.mean(dim=1)


class NeuroNarratorVisionTopomapEncoder(nn.Module):
    """Any transformers vision model (``config.vision_config``) over the topomaps, its token sequence
    average-pooled to ``num_output_tokens`` and projected to the topomap hidden size."""

    def __init__(self, config: NeuroNarratorConfig):
        super().__init__()
        topo = config.topomap_config
        self.num_output_tokens = topo.num_output_tokens
        self.vision_model = AutoModel.from_config(config.vision_config)
        width = getattr(config.vision_config, "hidden_size", None)
        if width is None:
            raise ValueError(
                f"vision_config of type {config.vision_config.model_type!r} has no hidden_size; use a ViT-like "
                "vision model whose last_hidden_state is (batch, tokens, hidden_size)."
            )
        self.token_proj = nn.Linear(width, topo.hidden_size)
        self.pooled_proj = nn.Linear(width, topo.hidden_size)
        self.norm = nn.LayerNorm(topo.hidden_size)

    def forward(self, topomaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        outputs = self.vision_model(pixel_values=topomaps.to(self.token_proj.weight.dtype), return_dict=True)
        hidden = outputs.last_hidden_state  # (B, L, Hv)
        pooled = getattr(outputs, "pooler_output", None)
        if pooled is None or pooled.ndim != 2:
            pooled = hidden.mean(dim=1)
        resampled = F.adaptive_avg_pool1d(hidden.transpose(1, 2), self.num_output_tokens).transpose(1, 2)  # (B, Q, Hv)
        return self.norm(self.token_proj(resampled)), self.pooled_proj(pooled)


def build_topomap_encoder(config: NeuroNarratorConfig) -> nn.Module:
    """The CNN, or the configured vision model when ``config.vision_config`` is set."""
    if config.vision_config is not None:
        return NeuroNarratorVisionTopomapEncoder(config)
    return NeuroNarratorTopomapEncoder(config.topomap_config)
