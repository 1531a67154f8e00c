"""Vigilance state of every segment: YASA's validated sleep stager on the recording's own
derivations, mapped onto the 10 s segments.

YASA (Vallat & Walker 2021, eLife 10:e70092; BSD-3) stages 30 s epochs with LightGBM classifiers
trained on ~3000 NSRR polysomnograms scored to the AASM manual; its pretrained classifiers ship
inside its wheel (nothing is downloaded). It reads one EEG derivation (trained on C4-M1 / C3-M2;
central or frontal-central derivations also work), plus an EOG and a chin EMG when the
recording has them, which improve it. ``choose_derivation`` picks them from the channel names:

1. a central channel against the contralateral mastoid, as named (``C4-M1``, ``C3-A2``), or
   derived from a recorded mastoid channel (``C4`` and ``M1``);
2. a central channel against the recording's reference (``C4``, ``C3``, ``Cz``);
3. a frontal-central or central-parietal bipolar derivation (``Fpz-Cz`` of Sleep-EDF, ``Fz-Cz``,
   ``C4-P4``);
4. a frontal channel (``F4-M1``, ``F3``, ``Fz``, ``Fpz``).

Occipital and temporal derivations are not used (the classifiers never saw them). EOG: the first
EOG channel as recorded (``LOC``/``E1``/``EOG1``...). EMG: a bipolar chin derivation as named, else
the difference of the first two EMG channels (two chin electrodes against a common reference).

YASA's stages map onto the states a clinical EEG report names (``findings_neuronarrator.STATES``):
W -> awake, or drowsy when YASA gives N1 at least ``THRESHOLDS["drowsy_n1_probability"]`` (the
wake-to-N1 transition that reports call drowsiness; AASM has no stage for it); N1, N2, N3 as
scored; R -> REM when an EOG or EMG channel was staged with the EEG (AASM scores REM on eye
movements and chin EMG atonia; from the EEG alone REM and wakefulness look alike, so an EEG-only
REM call is "not_assessed"). A segment takes the state of the epoch holding its midpoint. Where staging is
not possible the state is ``"not_assessed"`` with the reason, never a guess: YASA not installed,
less than 5 min of recording (YASA's minimum: its features are smoothed over 7.5 min), no usable
derivation, or a segment after the last complete epoch.

The subject's own responses outrank the stager. Sleep is "a reversible behavioral state of
perceptual disengagement from and unresponsiveness to the environment" (Carskadon & Dement,
Principles and Practice of Sleep Medicine): a segment in which the recording marks a response of
the subject (a button press, a key press; ``response_times``) is awake whatever the stager gave it
(N1-N3, REM, or not assessed); drowsiness, a waking state, stays. YASA's classifiers were trained
on full nights only (its documentation asks for full inspection of naps): on pylossless sub-s01, a
19 min EEG-only visual task, it stages N1 or N2 in 44 and an EEG-only REM in 21 of the 106 segments
that hold a button press.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import math
import re
import sys
import time
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Optional, Sequence, Union

import mne
import numpy as np
from scipy import signal as _signal

from .findings_neuronarrator import STATES, THRESHOLDS

__all__ = [
    "EPOCH_SECONDS",
    "MIN_STAGING_SECONDS",
    "SLEEP_STAGE_TO_STATE",
    "Derivation",
    "Staging",
    "choose_derivation",
    "response_times",
    "stage_recording",
]

logger = logging.getLogger(__name__)

EPOCH_SECONDS = 30.0  # AASM scoring epoch
MIN_STAGING_SECONDS = 300.0  # YASA refuses to stage less than 5 min
_STAGING_RATE_HZ = 100.0  # YASA's working rate (it resamples to it itself)
# A source's expert stage (dataset_builder.labels "sleep_stage") -> state.
SLEEP_STAGE_TO_STATE = {"W": "awake", "N1": "N1", "N2": "N2", "N3": "N3", "REM": "REM"}
_YASA_TO_STATE = {"WAKE": "awake", "W": "awake", "N1": "N1", "N2": "N2", "N3": "N3", "REM": "REM", "R": "REM"}

# Annotations that mark a response of the subject: BrainVision's response-box markers (MNE reads
# them as "Response/R  1") and experiment software's names of a press ("press-left", "button 2",
# "keypress"). A stimulus ("Stimulus/S  1", "face-upright") is no sign of wakefulness, and "resp"
# is left out: polysomnograms annotate respiratory events ("Resp event: obstructive apnea") in sleep.
_RESPONSE_RE = re.compile(r"^response/|\b(response|button|buttonpress|keypress|key press|press|pressed)\b", re.IGNORECASE)
# The states a response within the segment overrules (module docstring).
_RESPONSE_OVERRULES = ("N1", "N2", "N3", "REM", "not_assessed")
_PREFIX_RE = re.compile(r"^(EEG|EOG|EMG)[\s_:]+", re.IGNORECASE)
_EOG_RE = re.compile(r"^(EOG|LOC|ROC|E1|E2|HEOG|VEOG)", re.IGNORECASE)
_EMG_RE = re.compile(r"^(EMG|CHIN)", re.IGNORECASE)
_BANKED_RE = re.compile(r"^[A-H]\d{1,2}$")  # BioSemi-style electrode banks (A1..H32)
_MASTOIDS = {"M1": "left", "A1": "left", "M2": "right", "A2": "right"}
_COMMON_REFERENCES = ("REF", "LE", "AR", "AVG", "CAR", "")
# Electrodes by tier (see the module docstring); right before left as in YASA's C4-M1 default.
_CENTRAL = ("C4", "C3", "CZ")
_BIPOLAR = (("FPZ", "CZ"), ("FZ", "CZ"), ("F4", "C4"), ("F3", "C3"), ("C4", "P4"), ("C3", "P3"), ("CZ", "PZ"))
_FRONTAL = ("F4", "F3", "FZ", "FPZ", "FP2", "FP1")
_CONTRALATERAL = {"C4": ("M1", "A1"), "C3": ("M2", "A2"), "F4": ("M1", "A1"), "F3": ("M2", "A2")}

Weights = tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Derivation:
    """The signals YASA stages from: weighted sums of source channels (names as in the file)."""

    eeg: Weights
    eeg_label: str
    eog: Optional[Weights] = None
    eog_label: Optional[str] = None
    emg: Optional[Weights] = None
    emg_label: Optional[str] = None

    @property
    def label(self) -> str:
        """E.g. ``"EEG C4 (recording reference); EOG EOG1; EMG EMG1-EMG2"``."""
        parts = [f"EEG {self.eeg_label}"]
        if self.eog_label:
            parts.append(f"EOG {self.eog_label}")
        if self.emg_label:
            parts.append(f"EMG {self.emg_label}")
        return "; ".join(parts)


def _split(name: str) -> tuple[str, str]:
    """``"EEG C4-M1"`` -> ``("C4", "M1")``; ``"EEG FP1-REF"`` -> ``("FP1", "REF")``; ``"Cz"`` -> ``("CZ", "")``."""
    text = _PREFIX_RE.sub("", name.strip()).replace(".", "").replace(" ", "").upper()
    active, _, reference = text.partition("-")
    return active, reference


def choose_derivation(
    ch_names: Sequence[str],
    ch_types: Optional[Sequence[str]] = None,
    harmonized: Optional[dict[str, Weights]] = None,
) -> Optional[Derivation]:
    """The derivations to stage from, or None when the recording has no usable EEG for it.

    Args:
        ch_names: every channel of the recording, as in the file.
        ch_types: MNE channel types (EDF files type everything "eeg": names decide then).
        harmonized: 10-20 sites the front-end recorded (``{"C4": ((source, weight), ...)}``),
            e.g. a dense cap's electrode nearest C4; used after the named derivations. The names
            of a banked cap (BioSemi ``A1`` ... ``D32``: ``C4`` is an electrode of bank C, ``A1``
            not an ear) are not read as 10-20 names: only these sites are used then.
    """
    eeg, eog, emg = _channels_by_kind(ch_names, ch_types)
    montage = _EEGMontage.of(eeg, harmonized)
    choice = (
        montage.contralateral(("C4", "C3")) or montage.referential(_CENTRAL) or montage.bipolar()
        or montage.contralateral(("F4", "F3")) or montage.referential(_FRONTAL)
    )  # fmt: skip
    if choice is None:
        return None
    emg_choice, emg_label = _emg_derivation(emg)
    return Derivation(
        eeg=choice[0], eeg_label=choice[1],
        eog=((eog[0], 1.0),) if eog else None, eog_label=_PREFIX_RE.sub("", eog[0].strip()) if eog else None,
        emg=emg_choice, emg_label=emg_label,
    )  # fmt: skip


def _channels_by_kind(ch_names: Sequence[str], ch_types: Optional[Sequence[str]]) -> tuple[list[str], list[str], list[str]]:
    """``(eeg, eog, emg)`` channel names: by MNE type, and for channels typed "eeg" (EDF) by name
    unless the name says EEG."""
    types = list(ch_types) if ch_types is not None else ["eeg"] * len(ch_names)
    eeg, eog, emg = [], [], []
    for name, kind in zip(ch_names, types):
        named_eeg = name.strip().upper().startswith("EEG")
        if kind == "eog" or (kind == "eeg" and not named_eeg and _EOG_RE.match(name.strip())):
            eog.append(name)
        elif kind == "emg" or (kind == "eeg" and not named_eeg and _EMG_RE.match(name.strip())):
            emg.append(name)
        elif kind == "eeg":
            eeg.append(name)
    return eeg, eog, emg


@dataclass
class _EEGMontage:
    """The EEG channels parsed into (active, reference) electrodes, and the derivation tiers of
    ``choose_derivation`` (module docstring) read from them; each returns ``(weights, label)``
    or None."""

    parsed: dict[str, tuple[str, str]]  # channel name -> (active, reference), upper case
    by_active: dict[str, list[str]]  # active electrode -> channel names
    mastoids: dict[str, str]  # mastoid electrode recorded against the common reference -> channel name
    harmonized: Optional[dict[str, Weights]]

    @classmethod
    def of(cls, eeg: Sequence[str], harmonized: Optional[dict[str, Weights]]) -> "_EEGMontage":
        banked = sum(bool(_BANKED_RE.match(name.strip())) for name in eeg)
        parsed = {} if banked >= 16 and banked * 2 > len(eeg) else {name: _split(name) for name in eeg}
        by_active: dict[str, list[str]] = {}
        for name, (active, _reference) in parsed.items():
            by_active.setdefault(active, []).append(name)
        mastoids = {active: names[0] for active, names in by_active.items() if active in _MASTOIDS and not parsed[names[0]][1]}
        return cls(parsed, by_active, mastoids, harmonized)

    def contralateral(self, electrodes: Sequence[str]) -> Optional[tuple[Weights, str]]:
        """The electrode against the contralateral mastoid: as named, else derived from a
        recorded mastoid channel."""
        for electrode in electrodes:
            for name in self.by_active.get(electrode, []):
                if self.parsed[name][1] in _CONTRALATERAL.get(electrode, ()):
                    return ((name, 1.0),), f"{electrode.capitalize()}-{self.parsed[name][1]}"
            # Derived: needs the electrode against the common reference (not only in a bipolar pair).
            referenced = next((n for n in self.by_active.get(electrode, []) if self.parsed[n][1] in _COMMON_REFERENCES), None)
            for mastoid in _CONTRALATERAL.get(electrode, ()):
                if mastoid in self.mastoids and referenced is not None:
                    return ((referenced, 1.0), (self.mastoids[mastoid], -1.0)), f"{electrode.capitalize()}-{mastoid} (derived)"
        return None

    def referential(self, electrodes: Sequence[str]) -> Optional[tuple[Weights, str]]:
        """The electrode against the recording's reference or a mastoid, else the front-end's
        recorded site of a cap."""
        for electrode in electrodes:
            for name in self.by_active.get(electrode, []):
                reference = self.parsed[name][1]
                if reference in _COMMON_REFERENCES or reference in _MASTOIDS:
                    ref_text = f"-{reference}" if reference in _MASTOIDS else " (recording reference)"
                    return ((name, 1.0),), f"{_pretty(electrode)}{ref_text}"
            if self.harmonized and _pretty(electrode) in self.harmonized:
                return self.harmonized[_pretty(electrode)], f"{_pretty(electrode)} (recorded site of the cap)"
        return None

    def bipolar(self) -> Optional[tuple[Weights, str]]:
        """A frontal-central or central-parietal bipolar derivation as named (``_BIPOLAR``)."""
        for first, second in _BIPOLAR:
            for name in self.by_active.get(first, []):
                if self.parsed[name][1] == second:
                    return ((name, 1.0),), f"{_pretty(first)}-{_pretty(second)}"
        return None


def _emg_derivation(emg: Sequence[str]) -> tuple[Optional[Weights], Optional[str]]:
    """``(weights, label)`` of the chin EMG: a bipolar derivation as named (or the only EMG
    channel), else the difference of the first two EMG channels; ``(None, None)`` without EMG."""
    if not emg:
        return None, None
    named_bipolar = [n for n in emg if "-" in _PREFIX_RE.sub("", n.strip()) or "CHIN" in n.upper()]
    if named_bipolar or len(emg) == 1:
        first = (named_bipolar or emg)[0]
        return ((first, 1.0),), _PREFIX_RE.sub("", first.strip())
    label = f"{_PREFIX_RE.sub('', emg[0].strip())}-{_PREFIX_RE.sub('', emg[1].strip())}"
    return ((emg[0], 1.0), (emg[1], -1.0)), label


def _pretty(electrode: str) -> str:
    """``"FPZ"`` -> ``"Fpz"``, ``"CZ"`` -> ``"Cz"``, ``"C4"`` -> ``"C4"``."""
    return electrode[0] + electrode[1:].lower()


@dataclass
class Staging:
    """Sleep staging of a recording (or the reason there is none).

    Attributes:
        epoch_states: one of ``STATES`` per 30 s epoch (empty when not assessed).
        epoch_stages: YASA's stage per epoch (``WAKE``, ``N1``, ``N2``, ``N3``, ``REM``).
        epoch_confidence: YASA's probability of its stage, per epoch.
        start_s: start of the first epoch, in s from the recording start.
        derivation: what was staged from (``Derivation.label``), None when nothing was.
        method: the stager and classifier used.
        reason: why the state is not assessed (None when staged).
        seconds: wall time of the staging.
        response_s: the subject's responses (``response_times``), in s from the recording start: a
            segment holding one is awake (module docstring).
    """

    epoch_states: list[str] = field(default_factory=list)
    epoch_stages: list[str] = field(default_factory=list)
    epoch_confidence: list[float] = field(default_factory=list)
    start_s: float = 0.0
    derivation: Optional[str] = None
    method: Optional[str] = None
    reason: Optional[str] = None
    seconds: float = 0.0
    response_s: list[float] = field(default_factory=list)

    def staged_state_of(self, start_s: float, end_s: float) -> str:
        """The stager's state of the span ``[start_s, end_s)``: that of the epoch holding its midpoint."""
        if not self.epoch_states:
            return "not_assessed"
        k = math.floor(((start_s + end_s) / 2.0 - self.start_s) / EPOCH_SECONDS)
        return self.epoch_states[k] if 0 <= k < len(self.epoch_states) else "not_assessed"

    def state_of(self, start_s: float, end_s: float) -> str:
        """State of the span ``[start_s, end_s)``: the stager's, or awake where the subject responded in it."""
        state = self.staged_state_of(start_s, end_s)
        if state in _RESPONSE_OVERRULES and self.responded(start_s, end_s):
            return "awake"
        return state

    def responded(self, start_s: float, end_s: float) -> bool:
        """Whether a response of the subject falls in ``[start_s, end_s)``."""
        k = int(np.searchsorted(self.response_s, start_s, side="left"))
        return k < len(self.response_s) and self.response_s[k] < end_s

    def states_of(self, starts: Sequence[float], segment_seconds: float) -> list[str]:
        return [self.state_of(float(s), float(s) + segment_seconds) for s in starts]

    def summary(self, starts: Optional[Sequence[float]] = None, segment_seconds: float = 10.0) -> dict[str, Any]:
        """What the report header says: method, derivation, reason, epochs per state, and with the
        segments' ``starts`` how many of them the subject's responses made awake."""
        counts = {state: self.epoch_states.count(state) for state in STATES if state in self.epoch_states}
        overruled = None
        if starts is not None:
            overruled = sum(
                self.state_of(float(s), float(s) + segment_seconds) != self.staged_state_of(float(s), float(s) + segment_seconds)
                for s in starts
            )
        return {
            "method": self.method,
            "derivation": self.derivation,
            "reason": self.reason,
            "epochs": len(self.epoch_states),
            "epoch_seconds": EPOCH_SECONDS,
            "start_s": self.start_s,
            "epochs_per_state": counts,
            "responses": len(self.response_s),
            "segments_awake_by_response": overruled,
            "seconds": round(self.seconds, 3),
        }


RecordingLike = Union[mne.io.BaseRaw, np.ndarray]


def response_times(raw: mne.io.BaseRaw) -> list[float]:
    """The times (s from the recording's first sample, sorted) of the annotations that mark a
    response of the subject (``_RESPONSE_RE``: "Response/R  1", "press-left", "button", ...)."""
    matched = sorted({str(d) for d in raw.annotations.description if _RESPONSE_RE.search(str(d).strip())})
    if not matched:
        return []
    # MNE's own conversion of annotation onsets (measurement-date or data-start based) to samples.
    events, _ = mne.events_from_annotations(raw, event_id={d: 1 for d in matched}, verbose="error")
    return sorted(float(v) for v in (events[:, 0] - raw.first_samp) / float(raw.info["sfreq"]))


def stage_recording(
    recording: RecordingLike,
    sampling_rate: Optional[float] = None,
    ch_names: Optional[Sequence[str]] = None,
    ch_types: Optional[Sequence[str]] = None,
    harmonized: Optional[dict[str, Weights]] = None,
    start_s: Optional[float] = None,
    end_s: Optional[float] = None,
) -> Staging:
    """Stage a recording into 30 s epochs with YASA.

    Args:
        recording: an ``mne.io.BaseRaw`` (volts, as MNE keeps it; read lazily) or an array
            ``(n_channels, n_samples)`` in microvolts with ``sampling_rate`` and ``ch_names``.
        sampling_rate, ch_names: for arrays.
        ch_types: for arrays (default: names decide).
        harmonized: see ``choose_derivation``.
        start_s, end_s: the span the caller analyses; staging covers it plus up to 5 min on each
            side (YASA smooths its features over minutes), epochs aligned to the recording start.

    Returns:
        A ``Staging``; ``reason`` says why there are no epochs when staging was not possible.
    """
    began = time.perf_counter()
    sfreq, n_times, names, types = _recording_layout(recording, sampling_rate, ch_names, ch_types)
    derivation = choose_derivation(names, types, harmonized)
    if derivation is None:
        return Staging(reason="no central or frontal EEG derivation (C3/C4/Cz, Fpz-Cz, F3/F4/Fz ...) among the channels to stage from")
    duration = n_times / sfreq
    first_s = max(0.0, math.floor(((start_s or 0.0) - MIN_STAGING_SECONDS) / EPOCH_SECONDS) * EPOCH_SECONDS)
    last_s = min(duration, (end_s if end_s is not None else duration) + MIN_STAGING_SECONDS)
    if last_s - first_s < MIN_STAGING_SECONDS:
        return Staging(
            derivation=derivation.label,
            reason=f"{last_s - first_s:.0f} s of recording; staging needs at least {MIN_STAGING_SECONDS / 60:.0f} min (YASA's minimum)",
        )
    try:
        yasa = _import_yasa()  # optional (setup.cfg install_requires); without it the state is not assessed
    except ImportError as error:
        return Staging(derivation=derivation.label, reason=f"YASA is not installed ({error}); pip install yasa")

    signals = _read_signals(recording, names, sfreq, derivation, int(round(first_s * sfreq)), int(round(last_s * sfreq)))
    signals, derivation = _drop_slow_auxiliaries(signals, derivation)
    hypnogram = _predict_hypnogram(yasa, signals, derivation)
    stages = [str(v).upper() for v in hypnogram.hypno.values]
    proba = hypnogram.proba
    classifier = "clf_eeg" + ("+eog" if derivation.eog else "") + ("+emg" if derivation.emg else "")
    return Staging(
        epoch_states=_states_of_stages(stages, proba, derivation),
        epoch_stages=stages,
        epoch_confidence=[round(float(v), 3) for v in proba.max(axis=1).to_numpy()],
        start_s=first_s,
        derivation=derivation.label,
        method=f"YASA {getattr(yasa, '__version__', '?')} SleepStaging ({classifier}), 30 s epochs",
        seconds=time.perf_counter() - began,
    )


def _recording_layout(
    recording: RecordingLike, sampling_rate: Optional[float], ch_names: Optional[Sequence[str]], ch_types: Optional[Sequence[str]]
) -> tuple[float, int, list[str], Optional[list[str]]]:
    """``(sfreq, n_times, channel names, channel types or None)`` of a Raw or of an array with
    its ``sampling_rate`` and ``ch_names`` (``stage_recording``)."""
    if isinstance(recording, mne.io.BaseRaw):
        sfreq, n_times = float(recording.info["sfreq"]), int(recording.n_times)
        names, types = list(recording.ch_names), recording.get_channel_types()
    else:
        if sampling_rate is None or ch_names is None:
            raise ValueError("stage_recording: an array needs sampling_rate (Hz) and ch_names (one per row)")
        sfreq, n_times = float(sampling_rate), int(np.asarray(recording).shape[1])
        names, types = list(ch_names), list(ch_types) if ch_types is not None else None
    return sfreq, n_times, names, types


def _predict_hypnogram(yasa: Any, signals: np.ndarray, derivation: "Derivation") -> Any:
    """YASA's hypnogram of the derivation's signals ``(1-3, n)`` uV at ``_STAGING_RATE_HZ``
    (EEG, then EOG and EMG when the derivation has them)."""
    kinds = [("EEG", "eeg")] + ([("EOG", "eog")] if derivation.eog else []) + ([("EMG", "emg")] if derivation.emg else [])
    info = mne.create_info([k[0] for k in kinds], _STAGING_RATE_HZ, [k[1] for k in kinds])
    raw = mne.io.RawArray(signals * 1e-6, info, verbose="error")  # volts, as YASA expects from MNE
    with warnings.catch_warnings():
        # sklearn warns that YASA's pickled classifiers were saved by another version; YASA
        # validates the features it feeds them (SleepStaging._validate_predict).
        warnings.simplefilter("ignore")
        yasa_logger = logging.getLogger("yasa")
        level = yasa_logger.level
        yasa_logger.setLevel(logging.WARNING)
        try:
            staging = _stager_class(yasa)(
                raw, eeg_name="EEG", eog_name="EOG" if derivation.eog else None, emg_name="EMG" if derivation.emg else None
            )
            return staging.predict()
        finally:
            yasa_logger.setLevel(level)


def _states_of_stages(stages: list[str], proba: Any, derivation: "Derivation") -> list[str]:
    """Vigilance state of each epoch from YASA's stage and N1 probability (``drowsy_n1_probability``);
    REM not assessed without EOG or EMG."""
    columns = {str(c).upper(): c for c in proba.columns}
    p_n1 = proba[columns["N1"]].to_numpy() if "N1" in columns else np.zeros(len(stages))
    states = []
    for stage, n1 in zip(stages, p_n1):
        state = _YASA_TO_STATE[stage]
        if state == "awake" and n1 >= THRESHOLDS["drowsy_n1_probability"]:
            state = "drowsy"
        elif state == "REM" and derivation.eog is None and derivation.emg is None:
            # AASM scores REM on low chin EMG tone and rapid eye movements; from the EEG alone
            # REM and wakefulness look alike (both low-voltage mixed frequency): not assessed.
            state = "not_assessed"
        states.append(state)
    return states


def _import_yasa():
    """Import YASA, with its feature library antropy's numba functions cached on disk.

    antropy compiles its numba functions eagerly when imported (10-25 s on a busy 2-core
    machine, in every new process). Numba caches compiled functions when they are declared with
    ``cache=True`` (next to the package, else in the user's numba cache folder); antropy does not
    ask for it, so ``numba.jit`` defaults to ``cache=True`` while antropy is imported, and later
    processes load the compiled code (~1 s). Where no cache folder is writable numba refuses the
    cache: antropy is then imported as it is.
    """
    if "antropy" not in sys.modules:
        try:
            import numba
        except ImportError:
            numba = None
        if numba is not None:
            original = numba.jit

            def jit(*args, **kwargs):
                kwargs.setdefault("cache", True)
                return original(*args, **kwargs)

            numba.jit = jit
            try:
                import antropy  # noqa: F401  (imported for its side effect: compiled, cached functions)
            except ImportError:  # not installed: YASA's own import says so below
                pass
            except Exception as error:  # e.g. no writable cache folder: import it uncached below
                logger.info("antropy's numba functions could not be cached (%s); compiling them in this process", error)
                for name in [n for n in sys.modules if n == "antropy" or n.startswith("antropy.")]:
                    del sys.modules[name]
            finally:
                numba.jit = original
    try:  # optional: transformers' remote-code import check skips imports guarded like this
        import yasa
    except ImportError:
        raise
    return yasa


# YASA's classifiers, loaded once per process: ``{(YASA version, path_to_model, channel types,
# demographics given): classifier}``.
_CLASSIFIERS: dict[tuple, Any] = {}


@functools.lru_cache(maxsize=2)
def _stager_class(yasa) -> type:
    """``yasa.SleepStaging`` that loads each pretrained classifier once per process. YASA reads
    the joblib file again on every ``predict`` (~0.1-0.2 s, a sixth to a third of staging an
    hour); the classifier is the same object either way (LightGBM's predict does not change it),
    so the stages are the same. Its ``predict_proba`` runs once per staging (``_ProbabilitiesOnce``)."""

    class CachedSleepStaging(yasa.SleepStaging):
        def _load_model(self, path_to_model):
            key = (getattr(yasa, "__version__", "?"), path_to_model, tuple(sorted(self.ch_types)), self.metadata is not None)
            if path_to_model != "auto" or key not in _CLASSIFIERS:
                classifier = super()._load_model(path_to_model)
                if path_to_model == "auto":
                    _CLASSIFIERS[key] = classifier
            else:
                classifier = _CLASSIFIERS[key]
                self._validate_predict(classifier)
            return _ProbabilitiesOnce(classifier)

    return CachedSleepStaging


class _ProbabilitiesOnce:
    """A classifier whose ``predict_proba`` of the same feature table is computed once.

    YASA's ``SleepStaging.predict`` asks the classifier for ``predict_proba(X)`` and then for
    ``predict(X)`` of the same ``X``; LightGBM's ``predict`` is the classes' argmax of
    ``predict_proba``, so the trees ran twice (a quarter of staging an hour). ``predict`` here is
    the classifier class's own method run on this wrapper, whose ``predict_proba`` returns the
    probabilities already computed for that ``X``: the same stages, one pass of the trees.
    Everything else is the classifier's."""

    def __init__(self, classifier: Any):
        self._classifier = classifier
        self._last: Optional[tuple[Any, dict[str, Any], Any]] = None  # (X, other arguments, probabilities)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._classifier, name)

    def predict_proba(self, X: Any = None, *args: Any, **kwargs: Any) -> Any:
        if X is None:  # LightGBM's predict passes it by keyword
            X = kwargs.pop("X")
        # The call's arguments with the defaults filled in: predict passes them all by keyword.
        bound = inspect.signature(self._classifier.predict_proba).bind(X, *args, **kwargs)
        bound.apply_defaults()
        options = {k: v for k, v in bound.arguments.items() if k != "X"}
        if self._last is not None and self._last[0] is X and self._last[1] == options:
            return self._last[2]
        probabilities = self._classifier.predict_proba(X, *args, **kwargs)
        self._last = (X, options, probabilities)
        return probabilities

    def predict(self, X: Any, *args: Any, **kwargs: Any) -> Any:
        return type(self._classifier).predict(self, X, *args, **kwargs)


def _drop_slow_auxiliaries(signals: np.ndarray, derivation: Derivation) -> tuple[np.ndarray, Derivation]:
    """Leave out an EOG or EMG row that carries nothing above 2 Hz: a channel stored at ~1 Hz (an
    envelope, e.g. Sleep-EDF cassette's "EMG submental") or flat, which YASA would read as a
    chin EMG or EOG without one."""
    rows = [signals[0]]
    kept = {"eog": derivation.eog is not None, "emg": derivation.emg is not None}
    index = 1
    for kind in ("eog", "emg"):
        if not kept[kind]:
            continue
        row = signals[index]
        index += 1
        power = np.abs(np.fft.rfft(row - row.mean())) ** 2
        freqs = np.fft.rfftfreq(len(row), 1.0 / _STAGING_RATE_HZ)
        share = power[freqs > 2.0].sum() / max(power.sum(), 1e-30)
        if share < 1e-3:
            logger.info("staging without the %s channel: no signal above 2 Hz (stored at ~1 Hz, or flat)", kind.upper())
            kept[kind] = False
            continue
        rows.append(row)
    derivation = dataclasses.replace(
        derivation,
        eog=derivation.eog if kept["eog"] else None, eog_label=derivation.eog_label if kept["eog"] else None,
        emg=derivation.emg if kept["emg"] else None, emg_label=derivation.emg_label if kept["emg"] else None,
    )  # fmt: skip
    return np.stack(rows), derivation


def _rational(ratio: float) -> tuple[int, int]:
    fraction = Fraction(ratio).limit_denominator(1000)
    return fraction.numerator, fraction.denominator


def _read_signals(recording: RecordingLike, names: list[str], sfreq: float, derivation: Derivation, first: int, last: int) -> np.ndarray:
    """The derivation's EEG (+ EOG, EMG) at 100 Hz in microvolts, ``(1-3, n)``, read in ~10 min
    chunks (bounded memory on long recordings) with padding for the resampler's edges."""
    combos = [derivation.eeg] + [w for w in (derivation.eog, derivation.emg) if w]
    picks = sorted({name for weights in combos for name, _ in weights}, key=names.index)
    weights = np.zeros((len(combos), len(picks)))
    for i, combo in enumerate(combos):
        for name, w in combo:
            weights[i, picks.index(name)] += w
    up, down = _rational(_STAGING_RATE_HZ / sfreq)
    chunk = down * max(1, math.ceil(600.0 * sfreq / down))
    pad = down * max(1, math.ceil(5.0 * sfreq / down))
    index = [names.index(p) for p in picks]
    parts = []
    for a in range(first, last, chunk):
        b = min(a + chunk, last)
        lo, hi = max(first, a - pad), min(last, b + pad)
        if isinstance(recording, mne.io.BaseRaw):
            data = recording.get_data(picks=index, start=lo, stop=hi) * 1e6  # V -> uV
        else:
            data = np.asarray(recording[index, lo:hi], dtype=np.float64)
        data = weights @ data
        if up != down:
            data = _signal.resample_poly(data, up, down, axis=-1, padtype="line")
        skip = (a - lo) * up // down
        keep = math.ceil((b - a) * up / down)
        parts.append(data[:, skip : skip + keep])
    return np.concatenate(parts, axis=-1)
