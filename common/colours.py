"""Plot colours shared by `train plot` and curate's report charts (matplotlib's tab10), so a reader sees one
meaning per colour across both."""

BLUE, ORANGE, RED, GREEN = "#1f77b4", "#ff7f0e", "#d62728", "#2ca02c"
