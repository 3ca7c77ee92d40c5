"""Networks and their registries: detectors, GANs, weights, calibration.

    registry                 every detector: register, build, save, load
    detectors, backbones     the papers' networks and fakescope's own; torchvision and timm ones
    npr, efficientnet_lite   the NPR detector; offline ImageNet EfficientNet-Lite0/1/2
    discriminator_detector   a GAN's discriminator as a detector
    gan_registry             every GAN architecture: a generator and its discriminator
    dcgan, fastgan_lite      the papers' DCGAN; a light GAN for small data
    autoencoder              reconstructions as a generator family of their own
    weights, batchnorm       pretrained weights and fine-tuning; precise BatchNorm
    calibration              a detector's stored temperature and uncertain band
"""
