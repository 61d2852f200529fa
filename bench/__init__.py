"""Benchmarks: run each as `python bench/NAME.py [--quick]`; each prints `RESULT name value unit` lines."""
