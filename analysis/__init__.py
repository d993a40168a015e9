"""gaitlake's gait engine: pure computation on 2D pose keypoints.

numpy arrays in, arrays and dataclasses out. No I/O, no Prefect, no Ray, no
torch: everything here can be called from a notebook or a test with synthetic
data. Every metric lives in one function whose docstring gives its unit and
its reference.
"""
