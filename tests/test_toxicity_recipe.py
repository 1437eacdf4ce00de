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
    for name, positive in (
        ("as_is", f"{davidson}#text=tweet,class=0+1"),
        ("balanced", f"{davidson}#text=tweet,class=0+1,max=4163"),
    ):
        report = train_classifier(
            name, [positive], [f"{davidson}#text=tweet,class=2"], str(tmp_path), TrainSettings(epoch=5, lr=0.5)
        )
        positives, negatives = report["counts"]["train"].values()
        flagged[name] = float(np.mean(Classifier(str(tmp_path / f"{name}.bin")).scores(clean) >= 0.5))
        assert report["test_metrics"]["roc_auc"] > 0.9  # both separate Davidson's own classes
        if name == "balanced":
            assert 0.9 < positives / negatives < 1.1
    assert flagged["balanced"] < flagged["as_is"] / 2, flagged


def test_the_cross_source_recipe_carries_from_talk_comments_to_tweets(shared_data, tmp_path):
    """The recipe docs/toxicity.md picks by its worst case across sources: character n-grams and platform
    markup removed. Trained on Jigsaw's talk comments only, it ranks Davidson's tweets (a source it never saw)
    better than the words-only recipe, and a tweet's markup does not change its score."""
    from curate.classify.model import binary_metrics

    jigsaw = shared_data / "toxicity" / "jigsaw_robtest" / "jigsaw_binary_balanced.csv"
    davidson = shared_data / "toxicity" / "davidson2017" / "labeled_data.csv"
    tweets = [t for t in read_source(parse_source(f"{davidson}#text=tweet,class=0+1,max=2000"), 1)]
    clean = [t for t in read_source(parse_source(f"{davidson}#text=tweet,class=2,max=2000"), 1)]
    labels = np.array([1] * len(tweets) + [0] * len(clean))
    auc = {}
    for name, settings in (
        ("words", TrainSettings(epoch=5, lr=0.2, dim=16)),
        ("recipe", TrainSettings(epoch=5, lr=0.2, dim=16, minn=3, maxn=5, lowercase=True, strip_markup=True)),
    ):
        report = train_classifier(
            name,
            [f"{jigsaw}#columns=text+label,label=1"],
            [f"{jigsaw}#columns=text+label,label=0"],
            str(tmp_path),
            settings,
        )
        assert report["settings"]["strip_markup"] == (name == "recipe")
        classifier = Classifier(str(tmp_path / f"{name}.bin"))
        auc[name] = binary_metrics(labels, classifier.scores(tweets + clean))["roc_auc"]
    assert auc["recipe"] > 0.85 and auc["recipe"] > auc["words"] + 0.03, auc
    marked = "RT @someone: you are a total idiot &amp; a liar http://t.co/x1 #truth"
    assert classifier.scores([marked])[0] == classifier.scores(["you are a total idiot & a liar truth"])[0]


def test_character_ngrams_need_both_bounds():
    import pytest

    from curate.core.params import ConfigError

    for minn, maxn in ((3, 0), (0, 5), (5, 3)):
        with pytest.raises(ConfigError, match="--minn and --maxn"):
            TrainSettings(minn=minn, maxn=maxn).check()
    TrainSettings(minn=3, maxn=5).check()
