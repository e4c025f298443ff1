"""Named outputs of a RATSViT forward pass."""
from torch import Tensor


class BackboneOutput(tuple):
    """The feature maps, as a tuple, with the token groups by name.

    It *is* the tuple of feature maps ``(B, C, h, w)`` at ``out_indices`` that
    stock OpenMMLab necks and heads expect (``out[0]``, ``len(out)``,
    iteration), and it carries the final-layer (post-norm) token groups as
    attributes, so downstream code never slices tokens by magic offsets:

    Attributes:
        registers: ``(B, N, C)`` register tokens, or None without registers.
        cls_token: ``(B, C)`` [CLS] token, or None without one.
        patch_hw: the patch grid ``(h, w)``.
    """

    registers: Tensor | None
    cls_token: Tensor | None
    patch_hw: tuple[int, int]

    def __new__(cls, feature_maps, registers: Tensor | None = None, cls_token: Tensor | None = None,
                patch_hw: tuple[int, int] = (0, 0)) -> 'BackboneOutput':
        self = super().__new__(cls, feature_maps)
        self.registers = registers
        self.cls_token = cls_token
        self.patch_hw = tuple(patch_hw)
        return self

    @property
    def feature_maps(self) -> tuple[Tensor, ...]:
        """The plain tuple of feature maps."""
        return tuple(self)

    def __reduce__(self):
        return (BackboneOutput, (tuple(self), self.registers, self.cls_token, self.patch_hw))

    def __repr__(self) -> str:
        shapes = [tuple(t.shape) for t in self]
        reg = None if self.registers is None else tuple(self.registers.shape)
        cls = None if self.cls_token is None else tuple(self.cls_token.shape)
        return f'BackboneOutput(feature_maps={shapes}, registers={reg}, cls_token={cls})'
