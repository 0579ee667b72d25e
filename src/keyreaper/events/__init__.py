"""Log sources → normalized events; the Parquet event store queried with DuckDB."""
