"""The U-Net architecture as plain data (no torch), so model folders can describe it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["UNetSpec", "is_power_of_two"]


def is_power_of_two(value: int) -> bool:
    """Whether ``value`` is 1, 2, 4, 8, …"""
    return value >= 1 and value & (value - 1) == 0


@dataclass(frozen=True)
class UNetSpec:
    """Hyperparameters of a U-Net backbone.

    Parameters
    ----------
    in_channels : int
        Channels of the input image (1 for greyscale, 3 for RGB).
    filters : int
        Filters of the first encoder block.
    filters_rate : float
        Factor by which the filters grow with each down block.
    max_stride : int
        Stride of the deepest level, a power of two >= 2; the encoder has
        ``log2(max_stride)`` down blocks. Inputs must have a height and width that
        are multiples of it.
    output_stride : int
        Stride of the output features, a power of two <= ``max_stride``; the decoder
        has ``log2(max_stride) - log2(output_stride)`` up blocks.
    convs_per_block : int
        Convolutions in every down, middle and up block.
    middle_block : bool
        Whether to add convolutions at the deepest level.
    kernel_size : int
        Side of the (odd) convolution kernels.

    Raises
    ------
    ValueError
        If a value is out of range.
    """

    in_channels: int = 1
    filters: int = 16
    filters_rate: float = 2.0
    max_stride: int = 16
    output_stride: int = 2
    convs_per_block: int = 2
    middle_block: bool = True
    kernel_size: int = 3

    def __post_init__(self) -> None:
        if self.in_channels < 1:
            raise ValueError(f"in_channels must be >= 1, got {self.in_channels}")
        if self.filters < 1:
            raise ValueError(f"filters must be >= 1, got {self.filters}")
        if not self.filters_rate > 0:
            raise ValueError(f"filters_rate must be > 0, got {self.filters_rate}")
        if not is_power_of_two(self.max_stride) or self.max_stride < 2:
            raise ValueError(f"max_stride must be a power of two >= 2, got {self.max_stride}")
        if not is_power_of_two(self.output_stride) or self.output_stride > self.max_stride:
            raise ValueError(
                "output_stride must be a power of two no larger than max_stride "
                f"({self.max_stride}), got {self.output_stride}"
            )
        if self.convs_per_block < 1:
            raise ValueError(f"convs_per_block must be >= 1, got {self.convs_per_block}")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd number, got {self.kernel_size}")
        levels = range(self.down_blocks + 1)
        if min(self.level_filters(level) for level in levels) < 1:
            raise ValueError(
                f"filters={self.filters} with filters_rate={self.filters_rate} gives blocks "
                "with no filters"
            )

    @property
    def down_blocks(self) -> int:
        """Number of encoder blocks with pooling, ``log2(max_stride)``."""
        return self.max_stride.bit_length() - 1

    @property
    def up_blocks(self) -> int:
        """Number of decoder blocks with upsampling."""
        return self.down_blocks - (self.output_stride.bit_length() - 1)

    def level_filters(self, level: int) -> int:
        """Filters at encoder level ``level`` (stride ``2**level``)."""
        return round(self.filters * self.filters_rate**level)

    @property
    def encoder_filters(self) -> tuple[int, ...]:
        """Filters of each down block, shallowest first."""
        return tuple(self.level_filters(i) for i in range(self.down_blocks))

    @property
    def middle_filters(self) -> int:
        """Filters of the middle block's convolutions."""
        return self.level_filters(self.down_blocks)

    @property
    def decoder_filters(self) -> tuple[int, ...]:
        """Filters of each up block, deepest first."""
        d = self.down_blocks
        return tuple(self.level_filters(d - 1 - i) for i in range(self.up_blocks))

    @property
    def out_channels(self) -> int:
        """Channels of the backbone's output features."""
        if self.up_blocks:
            return self.decoder_filters[-1]
        if self.middle_block:
            return self.middle_filters
        return self.encoder_filters[-1]
