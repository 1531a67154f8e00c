"""The harmonized label vocabulary of NeuroCorpus: one table for all 16 sources.

Every source reader maps its native codes onto these keys and values; the description writer uses
the clinical phrase of each value, and the parser maps the phrase back. ``LABEL_VOCABULARY`` is the
single source of truth; ``vocabulary_markdown()`` renders it for the dataset card and the docs.
"""

from __future__ import annotations

__all__ = ["DEPENDENT_KEYS", "LABEL_SOURCES", "LABEL_VOCABULARY", "check_labels", "vocabulary_markdown"]

# key -> {harmonized value: clinical phrase used in descriptions}
LABEL_VOCABULARY: dict[str, dict[str, str]] = {
    # TUAB: recording-level reading of a board-certified neurologist.
    "abnormal": {"normal": "a normal recording", "abnormal": "an abnormal recording"},
    # TUEV: six event classes (.rec codes 1-6).
    "event": {
        "spsw": "spike and sharp wave discharges",
        "gped": "generalized periodic epileptiform discharges",
        "pled": "periodic lateralized epileptiform discharges",
        "eyem": "eye movement",
        "artf": "artifact",
        "bckg": "background activity without epileptiform events",
    },
    # TUSZ, CHB-MIT, Siena, TUSL ('seiz'), Helsinki (neonatal): seizure versus not.
    "seizure": {"seizure": "an electrographic seizure", "none": "no seizure"},
    # TUSZ seizure types (TUH seizure type codes), Siena's per-patient types.
    "seizure_type": {
        "focal": "focal onset",
        "generalized": "generalized onset",
        "complex_partial": "complex partial",
        "simple_partial": "simple partial",
        "absence": "absence",
        "tonic": "tonic",
        "tonic_clonic": "tonic-clonic",
        "clonic": "clonic",
        "myoclonic": "myoclonic",
        "atonic": "atonic",
        "unknown": "unclassified",
    },
    # TUAR artifact annotations (the TUEV 'eyem'/'artf' events stay under 'event').
    "artifact": {
        "eye_movement": "eye movement artifact",
        "chewing": "chewing artifact",
        "shivering": "shivering artifact",
        "electrode": "electrode artifact",
        "muscle": "muscle artifact",
    },
    # TUSL: slowing versus complex background ('bckg' is not a normal background).
    "slowing_annotation": {"slowing": "annotated slowing", "background": "annotated complex background"},
    # TUEP: patient-level diagnosis.
    "epilepsy": {"epilepsy": "a patient with epilepsy", "no_epilepsy": "a patient without epilepsy"},
    # Sleep-EDF (R&K: stages 3 and 4 -> N3), HMC and ISRUC (AASM).
    "sleep_stage": {"W": "wakefulness", "N1": "N1 sleep", "N2": "N2 sleep", "N3": "N3 sleep", "REM": "REM sleep"},
    # EEGMMIDB and BCI IV-2a. A cued movement lasts ~4 s, so a 10 s segment holds rest and one or
    # two cues of random class: the segment is labelled by the run's paradigm, which holds all through
    # it (the cues, with their times, stay in the reader's ``extra["cues"]``).
    "motor_task": {
        "rest": "rest",
        "left_right_fist": "left or right fist movements alternating with rest",
        "fists_feet": "both-fist or both-feet movements alternating with rest",
        "four_class": "left hand, right hand, feet or tongue movements in random order",
    },
    "motor_mode": {"executed": "executed", "imagined": "imagined"},
    # SEED.
    "emotion": {"negative": "a negative emotion", "neutral": "a neutral emotion", "positive": "a positive emotion"},
    # EEGMAT: background (file suffix _1) versus serial subtraction (_2).
    "mental_state": {"rest": "resting", "mental_arithmetic": "mental arithmetic"},
    # EEGMMIDB baseline runs, aeon EyesOpenShut.
    "eyes": {"open": "eyes open", "closed": "eyes closed"},
    # Offline sources (pylossless): visual stimulation paradigm and annotated bad spans. The paradigm
    # interleaves the three categories about every 0.8 s, so a 10 s segment shows all of them:
    # "interleaved" names the paradigm; one category per segment would be a coin toss.
    "stimulus": {"interleaved": "interleaved face, house and checkerboard stimuli", "none": "no stimulus"},
    "recording_quality": {"bad_span": "a span marked bad by the annotator", "good": "good quality"},
}

# Label keys that judge the signal itself. A scenario copy (``dataset_builder.augment``) whose
# block planted an artifact no longer holds the signal the annotator judged, so the key is not
# carried to that segment of the copy, whatever its value: dropping only "good" (a span marked bad
# stays bad) left every labelled segment with a planted artifact "bad", and the model trained on
# it called real artifacts bad spans (stop 33: recording quality 0.63 against the majority's 0.77).
SIGNAL_JUDGEMENTS: tuple[str, ...] = ("recording_quality",)

# Keys that qualify another key's value: a segment gets them only from the spans that carry the
# value it gets for that key (``RecordingItem.labels_for_segment``): a seizure type only with
# seizure=seizure, a motor mode only with the motor task it belongs to (never with rest).
DEPENDENT_KEYS: dict[str, str] = {"seizure_type": "seizure", "motor_mode": "motor_task"}

# Which sources feed which key (documentation and dataset card).
LABEL_SOURCES: dict[str, tuple[str, ...]] = {
    "abnormal": ("tuab",),
    "event": ("tuev",),
    "seizure": ("tusz", "chbmit", "siena", "tusl", "helsinki"),
    "seizure_type": ("tusz", "siena"),
    "artifact": ("tuar",),
    "slowing_annotation": ("tusl",),
    "epilepsy": ("tuep",),
    "sleep_stage": ("sleep_edf", "hmc", "isruc"),
    "motor_task": ("eegmmidb", "bciciv2a"),
    "motor_mode": ("eegmmidb", "bciciv2a"),
    "emotion": ("seed",),
    "mental_state": ("eegmat",),
    "eyes": ("eegmmidb", "bciciv2a"),
    "stimulus": ("pylossless",),
    "recording_quality": ("pylossless",),
}


def check_labels(labels: dict[str, str], *, where: str = "labels") -> dict[str, str]:
    """Return ``labels`` if every key and value is in the vocabulary, else raise a ValueError
    naming the bad entry and the allowed values."""
    for key, value in labels.items():
        if key not in LABEL_VOCABULARY:
            raise ValueError(f"{where}: unknown label key {key!r}; allowed keys are {sorted(LABEL_VOCABULARY)}")
        if value not in LABEL_VOCABULARY[key]:
            raise ValueError(
                f"{where}: invalid value {value!r} for label {key!r}; allowed values are {sorted(LABEL_VOCABULARY[key])}"
            )
    return labels


def vocabulary_markdown() -> str:
    """The vocabulary as one Markdown table (key, value, phrase, sources)."""
    lines = ["| label | value | phrase in descriptions | sources |", "|---|---|---|---|"]
    for key, values in LABEL_VOCABULARY.items():
        sources = ", ".join(LABEL_SOURCES.get(key, ()))
        for value, phrase in values.items():
            lines.append(f"| {key} | {value} | {phrase} | {sources} |")
    return "\n".join(lines)
