"""Connectors shipped with repzo-sync, each registered under the ``syncer.connectors`` entry
point exactly as a third-party connector would be."""
