"""What a training run is made of: the recipes' defaults, the augmentation switches and
:class:`TrainConfig` (stored as ``config.json`` in the run folder).

Imports no TensorFlow: the Train tab reads the recipes and builds configs at start-up.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from cnnstudio.core import checks
from cnnstudio.core.backbones import get_backbone
from cnnstudio.core.errors import InputError
from cnnstudio.core.weights import is_untrained

SCHEDULES = ("constant", "exponential", "cosine")
#: upper bounds (the Train tab's controls reach them; beyond them a value is refused)
MAX_EPOCHS = 10_000
MAX_PATIENCE = 1000
MAX_BATCH_SIZE = 8192
MAX_LEARNING_RATE = 10.0
MAX_IMAGE_SIZE = 1024
MAX_FINE_TUNE = 500  # layers of a backbone (InceptionV3: 311)
#: how many sample predictions and misclassified examples TrainingDone carries
SAMPLE_COUNT = 6  # the cookbook plots six
MISCLASSIFIED_COUNT = 24
#: after a Stop the model is tested on at most this many examples, so stopping is quick
STOPPED_TEST_LIMIT = 1000


@dataclass(frozen=True)
class Recipe:
    """Defaults of one recipe (the settings of the reference recipe in DESIGN.md)."""

    name: str
    label: str
    description: str
    default_dataset: str
    image_size: int  # default square input size
    channels: int
    batch_size: int
    epochs: int
    learning_rate: float
    augment: bool  # the CIFAR augmentation on by default?
    eval_batch_size: int = 500


RECIPES: dict[str, Recipe] = {
    "lenet5": Recipe(
        "lenet5",
        "LeNet-5",
        "LeNet-5 (TF2 cookbook): 28x28 grey padded to 32x32, 61,706 parameters, ~97% on MNIST",
        "mnist",
        28,
        1,
        100,
        5,
        1e-3,
        False,
    ),
    "cifar-cnn": Recipe(
        "cifar-cnn",
        "VGG-style CNN",
        "VGG-style CNN (TF2 cookbook): 3 blocks of two 3x3 convs (32/64/128), ~80% on CIFAR-10",
        "cifar10",
        32,
        3,
        128,
        20,
        1e-3,
        True,
    ),
    "transfer": Recipe(
        "transfer",
        "Transfer learning",
        "Pretrained base (InceptionV3 at 75x75, VGG19 or MobileNetV2), frozen, new head",
        "cifar10",
        75,
        3,
        64,
        5,
        1e-3,
        False,
    ),
}
RECIPE_NAMES = tuple(RECIPES)


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``; InputError naming the choices otherwise."""
    try:
        return RECIPES[name]
    except KeyError:
        raise InputError(
            f"unknown recipe '{name}': choose from {', '.join(RECIPE_NAMES)}", param="recipe"
        ) from None


@dataclass(frozen=True)
class Augment:
    """The CIFAR-10 augmentation of the TF2 recipe, each part switchable."""

    crop: bool = True  # pad by `pad` pixels, then crop back at a random offset
    pad: int = 4
    flip: bool = True  # random horizontal flip
    brightness: float = 0.1  # max delta as a fraction of the full range; 0 = off
    contrast: tuple[float, float] | None = (0.5, 0.8)  # random contrast factor range

    @property
    def active(self) -> bool:
        return self.crop or self.flip or self.brightness > 0 or self.contrast is not None


@dataclass
class TrainConfig:
    """Everything a run needs; stored as ``config.json`` in the run folder."""

    recipe: str = "lenet5"
    data: str = ""  # mnist | cifar10 | FILE.npz | FOLDER; "" = the recipe's dataset
    epochs: int = 0  # 0 = the recipe's default
    batch_size: int = 0  # 0 = the recipe's default
    learning_rate: float = 0.0  # 0 = the recipe's default
    schedule: str = "constant"  # constant | exponential (x0.9 per epoch) | cosine
    early_stopping: int = 0  # patience in epochs on val_loss; 0 = off
    image_size: int = 0  # square input size; 0 = the recipe's default
    val_split: float = 0.1
    augment: bool | None = None  # None = the recipe's default
    augment_crop: bool = True
    augment_flip: bool = True
    augment_brightness: float = 0.1
    augment_contrast: bool = True
    backbone: str = "inception_v3"
    weights: str = "imagenet"
    fine_tune: int = 0
    run_dir: str = ""  # "" = a new folder under paths.runs_dir()
    seed: int = 0
    limit: int = 0  # use at most this many training images; 0 = all
    throttle_seconds: float = 0.1  # BatchEnd events at most this often

    def check_values(self) -> None:
        """Types and upper bounds of every field (0 still means "the recipe's default");
        InputError naming the first bad one. Ints stay below 2^31 (Qt, TensorFlow)."""
        for name in ("recipe", "data", "schedule", "backbone", "weights", "run_dir"):
            checks.text(getattr(self, name), name.replace("_", " "), param=name)
        # lower bounds: resolved() says "at least 1" once the recipe's defaults are in
        checks.at_most(self.epochs, "epochs", MAX_EPOCHS, param="epochs")
        checks.at_most(self.batch_size, "batch size", MAX_BATCH_SIZE, param="batch_size")
        checks.number(self.learning_rate, "learning rate", -MAX_LEARNING_RATE,
                      MAX_LEARNING_RATE, param="learning_rate")  # fmt: skip
        checks.whole(self.early_stopping, "early stopping", 0, MAX_PATIENCE, param="early_stopping")
        checks.whole(self.image_size, "image size", 0, MAX_IMAGE_SIZE, param="image_size")
        checks.number(self.val_split, "validation split", 0, 0.99, param="val_split")
        if self.augment is not None:
            checks.flag(self.augment, "augment", param="augment")
        for name in ("augment_crop", "augment_flip", "augment_contrast"):
            checks.flag(getattr(self, name), name.replace("_", " "), param=name)
        checks.number(self.augment_brightness, "brightness", 0, 1, param="augment_brightness")
        checks.at_most(self.fine_tune, "fine-tune layer count", MAX_FINE_TUNE, param="fine_tune")
        checks.whole(self.seed, "seed", 0, checks.INT32_MAX, param="seed")
        checks.whole(self.limit, "image limit", 0, checks.INT32_MAX, param="limit")
        checks.number(self.throttle_seconds, "throttle", 0, 60, param="throttle_seconds")

    def resolved(self) -> TrainConfig:
        """A copy with the recipe's defaults filled in and values checked."""
        self.check_values()
        spec = get_recipe(self.recipe)
        config = dataclasses.replace(
            self,
            data=self.data or spec.default_dataset,
            epochs=self.epochs or spec.epochs,
            batch_size=self.batch_size or spec.batch_size,
            learning_rate=self.learning_rate or spec.learning_rate,
            image_size=self.image_size or spec.image_size,
            augment=spec.augment if self.augment is None else self.augment,
        )
        if config.epochs < 1:
            raise InputError(f"epochs must be at least 1, not {config.epochs}", param="epochs")
        if config.batch_size < 1:
            raise InputError(
                f"batch size must be at least 1, not {config.batch_size}", param="batch_size"
            )
        if not config.learning_rate > 0:
            raise InputError(
                f"learning rate must be positive, not {config.learning_rate}",
                param="learning_rate",
            )
        if config.schedule not in SCHEDULES:
            raise InputError(
                f"unknown schedule '{config.schedule}': choose from {', '.join(SCHEDULES)}",
                param="schedule",
            )
        if config.fine_tune < 0:
            raise InputError(
                f"fine-tune layer count must be >= 0, not {config.fine_tune}", param="fine_tune"
            )
        return config

    def augment_options(self) -> Augment | None:
        if not self.augment:
            return None
        return Augment(
            crop=self.augment_crop,
            flip=self.augment_flip,
            brightness=self.augment_brightness,
            contrast=(0.5, 0.8) if self.augment_contrast else None,
        )

    def hyperparameters(self) -> dict[str, Any]:
        """The settings that tell runs apart in a list (of a resolved config)."""
        values: dict[str, Any] = {
            "learning_rate": self.learning_rate,
            "batch_size": self.batch_size,
            "schedule": self.schedule,
            "augment": self.augment,
            "image_size": self.image_size,
            "seed": self.seed,
        }
        if self.recipe == "transfer":
            values.update(backbone=self.backbone, fine_tune=self.fine_tune, weights=self.weights)
        return values

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def untrained_base_warning(config: TrainConfig) -> str | None:
    """What to say before a transfer run whose base network has random weights (None for
    any other run): the base stays frozen (but for its top ``fine_tune`` layers), so the
    new head learns from features that mean nothing and the run ends near chance (a
    CIFAR-10 run with an untrained frozen InceptionV3 ended at 7%)."""
    if config.recipe != "transfer" or not is_untrained(config.weights):
        return None
    label = get_backbone(config.backbone).label
    frozen = (
        "stays frozen"
        if not config.fine_tune
        else f"stays frozen but for its top {config.fine_tune} layers"
    )
    return (
        f"the base network {label} has random weights (untrained) and {frozen}: the new "
        "head learns from features that mean nothing, so expect an accuracy near chance. "
        "Transfer learning needs the ImageNet weights"
    )
