"""Performance benchmarks: each prints one JSON object of figures (see ``python -m benchmarks``).

Benchmarks, not timed tests: every figure compares two things measured in the same run, so it
is a ratio that holds on a noisy shared machine; CI only checks that each runs at small sizes.
"""
