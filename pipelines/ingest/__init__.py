"""Loading: read clinic exports, refuse direct identifiers, validate rows, store them in one transaction and
publish a read-only snapshot; retry rejected rows; list and restore snapshots; the load history."""
