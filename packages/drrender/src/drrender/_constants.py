"""Constants shared by every rasteriser backend so that they compute the same function."""

import math

#: Coverage of a primitive never exceeds this, so ``1 - alpha`` stays invertible in the backward pass.
ALPHA_MAX = 0.9999
#: A primitive covers a pixel only where ``sigmoid(sharpness * (radius - dist)) > SUPPORT_EPS``; the
#: coverage is rescaled so that it reaches exactly zero at that boundary (compact, continuous support).
SUPPORT_EPS = 1e-3
LOGIT_EPS = math.log(SUPPORT_EPS / (1.0 - SUPPORT_EPS))
#: Squared softening of the pixel-to-segment distance (pixels^2); keeps its gradient finite at 0.
DIST_EPS2 = 1e-6
#: Segments shorter than this (squared, pixels^2) are treated as discs.
DEGENERATE_EPS2 = 1e-12
#: Default weight of depth (in pixel units) against distance in the soft z-buffer, per unit sharpness.
DEPTH_GAIN = 0.05
DEFAULT_SHARPNESS = 2.0
DEFAULT_SIZE = (112, 112)
