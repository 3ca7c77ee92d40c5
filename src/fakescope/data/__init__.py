"""Images in, batches out: layouts, splits, decoding, the decode-once cache, transforms.

    layouts      readers for the papers' dataset layouts, detected automatically
    splits       deterministic stratified splits and the papers' subset limits
    images       one file decoded into an 8-bit RGB picture, whatever its mode
    decode       many files decoded in worker processes, bad ones counted
    cache        the dataset at its training resolution as a uint8 memmap
    faces        the optional face crop (OpenCV Haar cascades)
    transforms   preprocessing, augmentation and normalisation
    pipeline     a data config to batches
    inspect      `fakescope data inspect`
    synth        synthetic demo faces
    tensors      images as uint8 NCHW tensors and the [-1, 1] range
    multigen_set the layout of a multi-generator set (manifest, families, splits)
"""
