"""`gioconda detect FILE`: is Gioconda's invisible watermark in this video or image, and whose.

Prints whether the mark is present, its payload (server id, stream id: the audit log of that
server maps the stream id to a session or render), a confidence from the stated false-positive
rate and, for video, the share of 1 s windows in which the mark was found.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "detect",
        help="find Gioconda's invisible watermark (and C2PA manifest) in a video or image",
        description="Also reads a C2PA manifest where the file has one. Exit status: 0 when the "
        "watermark is found, 1 when it is not, 2 on error.",
    )
    parser.add_argument("file", type=Path, help="video (mp4, webm, mkv, ...) or image")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from engine.watermark.detect import DETECT_FPR
    from engine.watermark.inspect import inspect_file
    from server.provenance.manifest import read_manifest

    if not args.file.is_file():
        raise SystemExit(f"gioconda detect: error: {args.file}: no such file")
    summary = inspect_file(args.file).summary()
    summary["c2pa"] = read_manifest(args.file)
    if args.json:
        print(json.dumps(summary))
    else:
        print(_describe(summary, DETECT_FPR))
    return 0 if summary["watermark_present"] else 1


def _describe(summary: dict[str, Any], window_fpr: float) -> str:
    lines = []
    if summary["watermark_present"]:
        payload = summary["payload"]
        whose = (
            f"server {payload['server_id']} stream {payload['stream_id']} ({payload['hex']})"
            if payload
            else "payload unreadable (CRC mismatch)"
        )
        lines.append(f"watermark: present, {whose}")
    else:
        lines.append("watermark: not found")
    if summary["watermark_present"]:
        lines.append(
            f"confidence: {summary['confidence']:.12f} (false-positive rate <= "
            f"{summary['false_positive_rate']:.3g}; each window decides at <= {window_fpr:g})"
        )
    else:
        lines.append(
            f"no window reaches the {window_fpr:g} false-positive bar (the best one's bound: "
            f"{summary['false_positive_rate']:.3g})"
        )
    if summary["kind"] == "video":
        lines.append(
            f"windows: {summary['detected_windows']} of {summary['windows']} 1 s windows "
            f"detected ({100 * summary['detected_share']:.1f} %)"
        )
    manifest = summary["c2pa"]
    if manifest is None:
        lines.append("c2pa: no manifest")
    else:
        provenance = manifest["provenance"] or {}
        lines.append(
            f"c2pa: {manifest['validation_state']} manifest by {manifest['generator']} "
            f"{manifest['generator_version']}, signed by {manifest['signer']!r} "
            f"(issuer {manifest['issuer']!r}); AI-generated: {manifest['ai_generated']} "
            f"({manifest['digital_source_type']})"
        )
        lines.append(
            f"c2pa provenance: avatar {provenance.get('avatar_id')}, consent record "
            f"{provenance.get('consent_record_id')}, watermark {provenance.get('watermark')}"
        )
    return "\n".join(lines)
