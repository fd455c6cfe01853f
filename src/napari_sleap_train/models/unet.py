"""SLEAP-style U-Net backbone and confidence-map model.

The architecture follows SLEAP's ``UNet`` (``sleap.nn.architectures.unet``, with
``up_interpolate=True`` and ``block_contraction=False``, as built from SLEAP's training
configs) and its PyTorch port in sleap-nn:

- encoder: ``log2(max_stride)`` down blocks, each ``convs_per_block`` convolutions
  (same padding) with ReLU, then 2×2 max pooling with stride 2; block ``i`` has
  ``round(filters * filters_rate**i)`` filters. The output of each block's
  convolutions, before pooling, is the skip connection at that stride.
- middle block (optional): ``convs_per_block`` convolutions with ReLU at the deepest
  level, all with ``filters * filters_rate**down_blocks`` filters (SLEAP builds
  ``convs_per_block - 1`` "expand" convolutions plus one final convolution with the
  same count).
- decoder: ``log2(max_stride / output_stride)`` up blocks, each bilinear ×2
  upsampling, concatenation with the skip at the new stride, then
  ``convs_per_block`` convolutions with ReLU; filters mirror the encoder level.

Weights are initialised like Keras' defaults, which SLEAP trains with: Glorot-uniform
kernels and zero biases.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .spec import UNetSpec

__all__ = ["ConfmapModel", "UNet", "UNetSpec", "check_input_shape"]


def _conv_block(
    in_channels: int, out_channels: int, n_convs: int, kernel_size: int
) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(n_convs):
        layers.append(
            nn.Conv2d(
                in_channels if i == 0 else out_channels,
                out_channels,
                kernel_size,
                padding=kernel_size // 2,
            )
        )
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def _init_keras_like(module: nn.Module) -> None:
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def check_input_shape(x: Tensor, spec: UNetSpec) -> None:
    """Raise a helpful `ValueError` if ``x`` cannot go through a U-Net built from ``spec``.

    Parameters
    ----------
    x : Tensor
        Batch of images, shape ``(batch, channels, height, width)``.
    spec : UNetSpec
        The network's spec.

    Raises
    ------
    ValueError
        If ``x`` is not 4-D, has the wrong number of channels, or a height or width
        that is not a multiple of ``spec.max_stride``.
    """
    if x.ndim != 4:
        raise ValueError(
            f"expected a (batch, channels, height, width) tensor, got shape {tuple(x.shape)}"
        )
    channels, height, width = (int(n) for n in x.shape[1:])
    if channels != spec.in_channels:
        raise ValueError(
            f"the model expects {spec.in_channels} input channel(s), got {channels} "
            f"(input shape {tuple(x.shape)})"
        )
    stride = spec.max_stride
    if height % stride or width % stride:
        padded_h = math.ceil(height / stride) * stride
        padded_w = math.ceil(width / stride) * stride
        raise ValueError(
            f"input height and width must be multiples of the max stride ({stride}), got "
            f"{height}×{width}; pad the image to {padded_h}×{padded_w} (or crop or scale it "
            f"to a multiple of {stride})"
        )


class UNet(nn.Module):
    """SLEAP-style U-Net backbone.

    Parameters
    ----------
    spec : UNetSpec, optional
        Hyperparameters; the default is SLEAP's centroid backbone.

    Attributes
    ----------
    spec : UNetSpec
        The hyperparameters the network was built with.
    out_channels : int
        Channels of the output features.
    encoder : torch.nn.ModuleList
        One ``nn.Sequential`` of convolutions and ReLUs per down block.
    pools : torch.nn.ModuleList
        The max-pooling layer after each down block.
    middle : torch.nn.Sequential
        Convolutions at the deepest level (empty without a middle block).
    decoder : torch.nn.ModuleList
        One ``nn.Sequential`` of convolutions and ReLUs per up block.

    See Also
    --------
    ConfmapModel : The backbone with a confidence-map head.
    """

    def __init__(self, spec: UNetSpec | None = None) -> None:
        super().__init__()
        spec = UNetSpec() if spec is None else spec
        self.spec = spec
        k = spec.kernel_size
        n = spec.convs_per_block

        self.encoder = nn.ModuleList()
        self.pools = nn.ModuleList()
        channels = spec.in_channels
        for filters in spec.encoder_filters:
            self.encoder.append(_conv_block(channels, filters, n, k))
            self.pools.append(nn.MaxPool2d(kernel_size=2, stride=2))
            channels = filters

        if spec.middle_block:
            self.middle = _conv_block(channels, spec.middle_filters, n, k)
            channels = spec.middle_filters
        else:
            self.middle = nn.Sequential()

        self.decoder = nn.ModuleList()
        skip_channels = spec.encoder_filters[::-1]
        for filters, skip in zip(spec.decoder_filters, skip_channels):
            self.decoder.append(_conv_block(channels + skip, filters, n, k))
            channels = filters

        self.out_channels: int = channels
        _init_keras_like(self)

    def encoder_layers(self) -> list[nn.Module]:
        """Convolution and pooling layers of the encoder's down blocks, in order.

        Returns
        -------
        list of torch.nn.Module
            For each down block its convolutions, then its pooling layer. The middle
            block is left out, as in SLEAP's receptive-field definition.
        """
        layers: list[nn.Module] = []
        for block, pool in zip(self.encoder, self.pools):
            layers.extend(layer for layer in block if isinstance(layer, nn.Conv2d))
            layers.append(pool)
        return layers

    def forward(self, x: Tensor) -> Tensor:
        """Compute features at the output stride.

        Parameters
        ----------
        x : Tensor
            Images, shape ``(B, in_channels, H, W)`` with ``H`` and ``W`` multiples
            of ``max_stride``.

        Returns
        -------
        Tensor
            Features, shape ``(B, out_channels, H / output_stride, W / output_stride)``.

        Raises
        ------
        ValueError
            If the input shape does not fit the network.
        """
        check_input_shape(x, self.spec)
        skips: list[Tensor] = []
        for block, pool in zip(self.encoder, self.pools):
            x = block(x)
            skips.append(x)
            x = pool(x)
        x = self.middle(x)
        for block, skip in zip(self.decoder, reversed(skips)):
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return x


class IdentityHead(nn.Module):
    """The identity head of an ID model, on the U-Net's output features: two 3×3
    convolutions of ``units`` channels with ReLU (the second with stride 2), a max pool
    over the animal's own body (the features weighted by the model's confidence maps, so
    a neighbour that enters the crop does not lend its looks), a layer norm, ``layers``
    fully connected layers of ``units`` with ReLU, then one logit per class (track)."""

    def __init__(self, channels: int, n_classes: int, units: int, layers: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(channels, units, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(units, units, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        fc: list[nn.Module] = [nn.LayerNorm(units)]
        for _ in range(layers):
            fc += [nn.Linear(units, units), nn.ReLU()]
        fc.append(nn.Linear(units, n_classes))
        self.fc = nn.Sequential(*fc)

    def forward(self, features: Tensor, maps: Tensor) -> Tensor:
        """Logits ``(B, n_classes)`` from features and confidence maps at the output stride."""
        x = self.convs(features)
        body = F.adaptive_max_pool2d(maps.amax(1, keepdim=True).clamp(0, 1), x.shape[-2:])
        return self.fc((x * body).amax((2, 3)))


class ConfmapModel(nn.Module):
    """U-Net with a 1×1 convolution head that predicts confidence maps.

    The head has a linear output (no activation); it is trained with a mean squared
    error against Gaussian confidence maps in [0, 1], as in SLEAP.

    Parameters
    ----------
    spec : UNetSpec
        Backbone hyperparameters.
    n_maps : int
        Number of confidence maps: 1 for a centroid model, the number of skeleton
        nodes for a centered-instance model.
    n_classes : int
        Identity classes (tracks) of a second head, :class:`IdentityHead`, that names the
        animal at the crop's centre; 0: no such head. The head reads the U-Net's output
        features but sends no gradient back into the U-Net: the confidence maps train
        exactly as without it. Measured on the sample under the fast CPU preset, a shared
        gradient (SLEAP's class vectors on the deepest features, loss weights 0.01 and 1)
        left the identities at chance, blew the encoder's features up until the maps
        collapsed, or traded the poses for identities, while the separate head named
        99.7 % of the test animals right (see the README).
    class_units, class_layers : int
        Channels and units of the identity head, and its fully connected layers.

    Attributes
    ----------
    spec : UNetSpec
        Backbone hyperparameters.
    n_maps : int
        Number of output maps.
    backbone : UNet
        The backbone.
    head : torch.nn.Conv2d
        The 1×1 output convolution.
    classes : IdentityHead or None
        The identity head.
    """

    def __init__(
        self,
        spec: UNetSpec,
        n_maps: int,
        n_classes: int = 0,
        class_units: int = 64,
        class_layers: int = 1,
    ) -> None:
        super().__init__()
        if n_maps < 1:
            raise ValueError(f"n_maps must be >= 1, got {n_maps}")
        self.spec = spec
        self.n_maps = n_maps
        self.n_classes = n_classes
        self.backbone = UNet(spec)
        self.head = nn.Conv2d(self.backbone.out_channels, n_maps, kernel_size=1)
        _init_keras_like(self.head)
        self.classes: IdentityHead | None = None
        if n_classes:
            self.classes = IdentityHead(
                self.backbone.out_channels, n_classes, class_units, class_layers
            )
            _init_keras_like(self.classes)

    def forward(self, x: Tensor) -> Tensor:
        """Predict confidence maps.

        Parameters
        ----------
        x : Tensor
            Images, shape ``(B, in_channels, H, W)`` with ``H`` and ``W`` multiples
            of ``spec.max_stride``.

        Returns
        -------
        Tensor
            Confidence maps, shape ``(B, n_maps, H / output_stride, W / output_stride)``;
            with an identity head the ``n_classes`` logits follow as constant channels
            (``out[:, n_maps:, 0, 0]``), so training, export and data parallelism handle
            one tensor.

        Raises
        ------
        ValueError
            If ``H`` or ``W`` is not a multiple of ``spec.max_stride``, or the shape
            does not otherwise fit the model.
        """
        if self.classes is None:
            return self.head(self.backbone(x))
        features = self.backbone(x)
        maps = self.head(features)
        logits = self.classes(features.detach(), maps.detach()).to(maps.dtype)
        return torch.cat([maps, logits[:, :, None, None].expand(-1, -1, *maps.shape[-2:])], 1)
