"""Patch-based inference (MCUNetV2): the first, memory-hungry stage of a CNN run one spatial
patch at a time, each patch with the halo its receptive field needs."""
