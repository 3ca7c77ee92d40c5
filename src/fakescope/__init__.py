"""fakescope: generate deepfake faces with DCGANs, train, evaluate and serve real-vs-fake detectors."""

__version__ = "0.1.0"
