"""Inference smoke tests: the spec's cases sent through a transport and checked against expectations."""
