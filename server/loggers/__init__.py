"""The loggers a province already has: TT 10/2021 station files over FTP or a drop directory."""
