"""Listening exports people can download (Spotify, Last.fm, ListenBrainz): read, match to a catalogue, pool.

Pandas only, no torch: the dashboard parses uploads with it in memory, and the CLI writes histories and
datasets from it. Field lists per format are in docs/data-format.md ("Listening exports").
"""

from recsys.data.exports.checks import MAX_EXPORT_BYTES, ExportValidationError
from recsys.data.exports.match import (
    SHORT_PLAY_MS,
    WEIGHTS,
    MatchResult,
    catalogue_from_dataset,
    is_artist_catalogue,
    match_history,
)
from recsys.data.exports.pooled import write_pooled_dataset
from recsys.data.exports.readers import EXPORT_FORMATS, PLAY_COLUMNS, read_listening_export

__all__ = ["EXPORT_FORMATS", "MAX_EXPORT_BYTES", "PLAY_COLUMNS", "SHORT_PLAY_MS", "WEIGHTS", "ExportValidationError",
           "MatchResult", "catalogue_from_dataset", "is_artist_catalogue", "match_history", "read_listening_export",
           "write_pooled_dataset"]
