"""DCGANs: training, sampling, quality metrics, collapse watch, the discriminator as a detector."""
