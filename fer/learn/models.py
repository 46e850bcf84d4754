"""The model registry: each model is a short function from options to a Keras model.

Every model takes raw grayscale pixels 0..255, shape [N, 48, 48, 1], and returns the
probabilities of the seven classes, so that clients never scale inputs themselves.
"""
from __future__ import annotations

from typing import Callable

import keras
from keras import layers

from fer.contract import INPUT_SHAPE, NUM_CLASSES

AUGMENTATION = "augmentation"  # the name of the training augmentation's layers, which export leaves out


def _inputs(augmentation: keras.Sequential | None) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """Pixels in, scaled to 0..1 and augmented (augmentation only acts in training)."""
    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    x = layers.Rescaling(1.0 / 255)(inputs)
    if augmentation is not None:
        x = augmentation(x)
    return inputs, x


def seed_baseline(augmentation: keras.Sequential | None = None) -> keras.Model:
    """The seed document's network: five 3x3 convolutions of 11 filters, one BatchNorm, no pooling."""
    inputs, x = _inputs(augmentation)
    for index in range(5):
        x = layers.Conv2D(11, 3, activation="relu")(x)
        if index == 1:
            x = layers.BatchNormalization()(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="seed_baseline")


def _conv_bn_relu(x: keras.KerasTensor, filters: int) -> keras.KerasTensor:
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def _pooled_head(x: keras.KerasTensor, dropout: float) -> keras.KerasTensor:
    """Global average pooling, then a dropout-regularised dense layer, to the seven probabilities."""
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    return layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities", dtype="float32")(x)


def vgg_small(augmentation: keras.Sequential | None = None, dropout: float = 0.3,
              widths: tuple[int, ...] = (32, 64, 128, 256), convs: tuple[int, ...] | None = None) -> keras.Model:
    """A VGG-style network: blocks of 3x3 conv-BN-ReLU layers (two per block unless ``convs`` says),
    each block followed by 2x2 pooling."""
    convs = convs or [2] * len(widths)
    if len(convs) != len(widths):
        raise ValueError(f"vgg_small: {len(widths)} widths but {len(convs)} conv counts")
    inputs, x = _inputs(augmentation)
    for filters, count in zip(widths, convs):
        for _ in range(count):
            x = _conv_bn_relu(x, filters)
        x = layers.MaxPooling2D()(x)
    outputs = _pooled_head(x, dropout)
    return keras.Model(inputs, outputs, name="vgg_small")


def _residual_block(x: keras.KerasTensor, filters: int) -> keras.KerasTensor:
    """Two 3x3 conv-BN layers whose input is added back before the last ReLU (a 1x1 projection where the
    width changes)."""
    shortcut = x
    if x.shape[-1] != filters:
        shortcut = layers.BatchNormalization()(layers.Conv2D(filters, 1, use_bias=False)(x))
    x = _conv_bn_relu(x, filters)
    x = layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same", use_bias=False)(x))
    return layers.ReLU()(layers.Add()([x, shortcut]))


def resnet_small(augmentation: keras.Sequential | None = None, dropout: float = 0.3,
                 widths: tuple[int, ...] = (32, 64, 128, 256), blocks: tuple[int, ...] | None = None) -> keras.Model:
    """A residual network (He et al. 2016) shaped as vgg_small: a 3x3 conv-BN-ReLU stem, then per width
    ``blocks`` residual blocks (one unless it says; zero leaves the stem alone at that width), 2x2 pooling
    between widths, and vgg_small's head."""
    blocks = blocks or [1] * len(widths)
    if len(blocks) != len(widths):
        raise ValueError(f"resnet_small: {len(widths)} widths but {len(blocks)} block counts")
    inputs, x = _inputs(augmentation)
    x = _conv_bn_relu(x, widths[0])
    for index, (filters, count) in enumerate(zip(widths, blocks)):
        if index:
            x = layers.MaxPooling2D()(x)
        for _ in range(count):
            x = _residual_block(x, filters)
    outputs = _pooled_head(x, dropout)
    return keras.Model(inputs, outputs, name="resnet_small")


def mini_xception(augmentation: keras.Sequential | None = None, widths: tuple[int, ...] = (16, 32, 64, 128),
                  l2: float = 0.01) -> keras.Model:
    """Arriaga et al.'s mini-Xception (2017), the model most FER tools ship: two 3x3 convolutions of 8
    filters, then residual blocks of depthwise-separable convolutions, a 3x3 convolution to the classes
    and global average pooling (about 60k parameters)."""
    regularizer = keras.regularizers.L2(l2)
    inputs, x = _inputs(augmentation)
    for _ in range(2):
        x = layers.Conv2D(8, 3, use_bias=False, kernel_regularizer=regularizer)(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
    for filters in widths:
        # A strided 1x1 convolution, written as subsampling then a 1x1 convolution: TensorFlow 2.21's
        # oneDNN kernel for the strided one crashes the process on batches of some sizes (e.g. 37).
        subsampled = layers.MaxPooling2D(1, strides=2, padding="same")(x)
        shortcut = layers.BatchNormalization()(layers.Conv2D(filters, 1, use_bias=False)(subsampled))
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, depthwise_regularizer=regularizer,
                                   pointwise_regularizer=regularizer)(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, depthwise_regularizer=regularizer,
                                   pointwise_regularizer=regularizer)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Add()([layers.MaxPooling2D(3, strides=2, padding="same")(x), shortcut])
    x = layers.Conv2D(NUM_CLASSES, 3, padding="same")(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Activation("softmax", name="probabilities", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="mini_xception")


MODELS: dict[str, Callable[..., keras.Model]] = {
    "seed_baseline": seed_baseline,
    "vgg_small": vgg_small,
    "resnet_small": resnet_small,
    "mini_xception": mini_xception,
}


def augmentation_layers(flip: bool, shift: float, rotation: float, zoom: float, erasing: float = 0.0,
                        blur: float = 0.0, noise: float = 0.0, brightness: float = 0.0, contrast: float = 0.0
                        ) -> keras.Sequential | None:
    """Random flips, affine jitter, (with probability ``erasing``) a random erased rectangle, and the
    degradations of faces cropped from video: (with probability ``blur``) a Gaussian blur of 0.5 to 1.5
    pixels, pixel noise of standard deviation ``noise`` (on the 0..1 scale), and light changed by up to
    ``brightness`` and contrast by up to ``contrast`` (fractions); applied to training batches only."""
    steps = []  # in float32 whatever the training precision: some of them have no float16 kernels
    if flip:
        steps.append(layers.RandomFlip("horizontal", dtype="float32"))
    if rotation:
        steps.append(layers.RandomRotation(rotation, fill_mode="nearest", dtype="float32"))
    if shift:
        steps.append(layers.RandomTranslation(shift, shift, fill_mode="nearest", dtype="float32"))
    if zoom:
        steps.append(layers.RandomZoom(zoom, fill_mode="nearest", dtype="float32"))
    if erasing:
        steps.append(layers.RandomErasing(erasing, scale=(0.02, 0.2), value_range=(0, 1), dtype="float32"))
    if blur:
        steps.append(layers.RandomGaussianBlur((blur, blur), kernel_size=5, sigma=(0.5, 1.5), value_range=(0, 1),
                                               dtype="float32"))
    if brightness:
        steps.append(layers.RandomBrightness(brightness, value_range=(0, 1), dtype="float32"))
    if contrast:
        steps.append(layers.RandomContrast(contrast, value_range=(0, 1), dtype="float32"))
    if noise:
        steps.append(layers.GaussianNoise(noise, dtype="float32"))
    return keras.Sequential(steps, name=AUGMENTATION) if steps else None


def build_model(name: str, augment: dict | None = None, **options) -> keras.Model:
    """The registered model ``name``, with training augmentation and the model's own ``options``."""
    try:
        builder = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; registered models: {', '.join(MODELS)}") from None
    augmentation = augmentation_layers(**augment) if augment else None
    return builder(augmentation=augmentation, **options)
