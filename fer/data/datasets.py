"""The catalog of Kaggle face-emotion datasets and how their labels map onto ours.

Every dataset is mapped onto FER-2013's seven classes, in FER-2013's order, so that a
model's output index means the same thing whatever it was trained on.
"""
from __future__ import annotations

from dataclasses import dataclass

from fer.contract import CLASS_NAMES

# Spellings that the datasets use for our classes (compared in lower case).
_SYNONYMS: dict[str, str] = {
    "angry": "angry", "anger": "angry",
    "disgust": "disgust", "disgusted": "disgust",
    "fear": "fear", "fearful": "fear",
    "happy": "happy", "happiness": "happy",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprise", "surprised": "surprise",
    "neutral": "neutral", "neutrality": "neutral",
}


@dataclass(frozen=True)
class Dataset:
    name: str
    kaggle_slug: str
    archive: str  # file name of the archive as Kaggle serves it
    labels: tuple[str, ...]  # the dataset's own label folder names
    face_crops: bool = True  # images are tight face crops; else preprocess finds and crops the face
    mirror_names: tuple[str, ...] = ()  # other file names the offline mirror may hold it under

    def label_map(self, contempt: str | None = None) -> dict[str, str]:
        """Maps this dataset's label folder names (lower case) to canonical class names.

        ``contempt`` is the class that 'contempt' faces go to, or None to drop them.
        """
        if contempt is not None and contempt not in CLASS_NAMES:
            raise ValueError(f"contempt faces can count as one of {', '.join(CLASS_NAMES)} or be dropped,"
                             f" not as {contempt!r}")
        mapping = {}
        for label in self.labels:
            key = label.lower()
            if key == "contempt":
                if contempt is not None:
                    mapping[key] = contempt
            else:
                mapping[key] = _SYNONYMS[key]
        return mapping


CATALOG: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset("fer2013", "msambare/fer2013", "fer2013.zip",
                ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")),
        Dataset("emotion-detection", "ananthu017/emotion-detection-fer", "emotion-detection-fer.zip",
                ("angry", "disgusted", "fearful", "happy", "neutral", "sad", "surprised")),
        # Its archive was never seen: its images are not assumed to be face crops.
        Dataset("rating-opencv", "juniorbueno/rating-opencv-emotion-images", "rating-opencv-emotion-images.zip",
                ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"), face_crops=False),
        Dataset("natural-faces", "sudarshanvaidya/random-images-for-face-emotion-recognition",
                "random-images-for-face-emotion-recognition.zip",
                ("anger", "contempt", "disgust", "fear", "happiness", "neutrality", "sadness", "surprise"),
                mirror_names=("natural-faces-sample.zip",)),
        Dataset("micro-expressions", "kmirfan/micro-expressions", "micro-expressions.zip",
                ("anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")),
        Dataset("fer-ck-kdef", "sudarshanvaidya/corrective-reannotation-of-fer-ck-kdef",
                "corrective-reannotation-of-fer-ck-kdef.zip",
                ("anger", "contempt", "disgust", "fear", "happiness", "neutrality", "sadness", "surprise")),
    )
}


def get_dataset(name: str) -> Dataset:
    try:
        return CATALOG[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(CATALOG)}") from None
