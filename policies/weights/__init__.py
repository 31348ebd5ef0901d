"""Shipped network weights (package data): pickcube_encoder.pt, the pretrained keypoint image encoder
(policies/encoders.py; made by scripts/pretrain_encoder.py)."""
