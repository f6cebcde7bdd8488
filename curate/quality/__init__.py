"""Model-based quality filtering: a fastText classifier of "reference-like" (Wikipedia) versus
random web text. Recipes train it (`curate classifier train`), `curate classifier eval`
measures it, the QualityClassifier block applies it in a pipeline."""

from curate.quality.block import QualityClassifier
from curate.quality.model import QualityModel, find_quality_model, read_card
from curate.quality.text import normalize
from curate.quality.train import Recipe, load_recipe, train

__all__ = ["QualityClassifier", "QualityModel", "Recipe", "find_quality_model", "load_recipe", "normalize",
           "read_card", "train"]
