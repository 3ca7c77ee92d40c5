"""fakescope: generate deepfake faces with DCGANs; train, evaluate and serve their detectors."""

__version__ = "0.1.0"
