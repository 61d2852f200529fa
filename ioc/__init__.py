"""The `ioc` command line and the one-command demo."""
