"""What leaves the database: export files with provenance, disclosure control for releases, the pseudonymised
record export, who may see what and the access log, and the export command line."""
