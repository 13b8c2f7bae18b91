"""Machine learning on the stores: training sets from the feature and label stores by
version, models trained out of time. May import utils.lake, utils.layers, utils.quality."""
