"""Work that chains stages: each function trains, scores and writes in one call, so that a
command (or a Python caller) does not repeat the sequence.

    demo         synthetic faces -> GAN -> fakes -> detectors -> evaluation -> report
    evaluation   evaluate, compare or sweep checkpoints and write the results with their plots
    xgen         the cross-generator matrix: train each detector on each family set, then score
    multigen     a multi-generator set from the user's reals: train the generators, draw fakes
"""
