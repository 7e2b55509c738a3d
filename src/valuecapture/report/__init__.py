"""Reports: the figures (matplotlib) and the self-contained HTML and Markdown reports of a result."""
