"""fastText classifiers: `curate train-classifier` and the classify stage (see stage.py)."""
