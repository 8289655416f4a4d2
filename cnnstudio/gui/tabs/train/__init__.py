"""The Train tab: recipes, datasets, live curves, results and the model library."""
