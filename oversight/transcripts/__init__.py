"""Transcripts in and out of the Store: import (jsonl, nyu) and export (jsonl, hf)."""

from oversight.transcripts.bundle import Added, DebateBundle, ExperimentSpec, write_bundle
from oversight.transcripts.hf import export_hf
from oversight.transcripts.importer import (
    FORMATS,
    FileResult,
    ImportFormat,
    ImportReport,
    import_files,
)
from oversight.transcripts.jsonl import export_jsonl, read_jsonl
from oversight.transcripts.nyu import nyu_bundle, read_nyu_file
from oversight.transcripts.records import FORMAT, experiment_records, parse_record

__all__ = [
    "FORMAT",
    "FORMATS",
    "Added",
    "DebateBundle",
    "ExperimentSpec",
    "FileResult",
    "ImportFormat",
    "ImportReport",
    "experiment_records",
    "export_hf",
    "export_jsonl",
    "import_files",
    "nyu_bundle",
    "parse_record",
    "read_jsonl",
    "read_nyu_file",
    "write_bundle",
]
