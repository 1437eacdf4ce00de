"""The toxicity training recipe across sources: Davidson's tweets are 83% hate or offensive, and a
classifier trained on them as they come learns "most things are toxic". Balanced, it flags far
fewer clean comments of another source (Jigsaw's Wikipedia talk pages)."""
from __future__ import annotations

import numpy as np
import pytest

from curate.classify.model import Classifier
from curate.classify.sources import parse_source, read_source
from curate.classify.train import TrainSettings, train_classifier


@pytest.mark.slow
def test_balanced_davidson_flags_fewer_clean_comments_of_another_source(shared_data, tmp_path):
    davidson = shared_data / "toxicity" / "davidson2017" / "labeled_data.csv"
    jigsaw = shared_data / "toxicity" / "jigsaw_robtest" / "jigsaw_binary_balanced.csv"
    clean = [t for t in read_source(parse_source(f"{jigsaw}#columns=text+label,label=0"), 0) if t.strip()]
    flagged = {}
    for name, positive in (("as_is", f"{davidson}#text=tweet,class=0+1"), ("balanced", f"{davidson}#text=tweet,class=0+1,max=4163")):
        report = train_classifier(name, [positive], [f"{davidson}#text=tweet,class=2"], str(tmp_path), TrainSettings(epoch=5, lr=0.5))
        positives, negatives = report["counts"]["train"].values()
        flagged[name] = float(np.mean(Classifier(str(tmp_path / f"{name}.bin")).scores(clean) >= 0.5))
        assert report["test_metrics"]["roc_auc"] > 0.9  # both separate Davidson's own classes
        if name == "balanced":
            assert 0.9 < positives / negatives < 1.1
    assert flagged["balanced"] < flagged["as_is"] / 2, flagged
