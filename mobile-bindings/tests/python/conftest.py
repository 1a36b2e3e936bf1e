"""Shared fixtures for the Python binding tests.

`cargo xtask bindings` generates the bindings into target/bindings/python/keyway
(with the library beside them) and puts that directory on PYTHONPATH.
"""
