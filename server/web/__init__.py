"""The operator console: static HTML/JS/CSS (no build step) and the layout it draws from."""
