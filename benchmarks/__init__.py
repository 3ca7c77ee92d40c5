"""fakescope's benchmarks: each module answers one question and writes its result under results/.

Run one as `python -m benchmarks.NAME` from the repository root (or `python benchmarks/NAME.py`);
benchmarks/README.md indexes every result by the question it answers.
"""
