"""Source readers: one module per NeuroCorpus source, registered in ``READERS``."""

from .base import READERS, LabelSpan, RecordingItem, SourceReader, available_readers, get_reader, register_reader

__all__ = ["READERS", "LabelSpan", "RecordingItem", "SourceReader", "available_readers", "get_reader", "register_reader"]
