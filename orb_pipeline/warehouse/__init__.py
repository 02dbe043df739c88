"""Warehouse stage: the intraday option-snapshot source (MySQL or the embedded demo SQLite), its resource, the demo generator and the ticker sensor."""
