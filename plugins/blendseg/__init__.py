"""BlendSeg, our self-supervised model: a U-Net segments patches of other normal films blended into a film."""

from .lightning_model import BlendSeg

__all__ = ["BlendSeg"]
