"""Applications built on the library: the `minigrad` command line, the training recipes behind
`minigrad train`, and the saliency benchmark driver behind `minigrad explain-benchmark`.

The dependency runs one way: these modules import the library (minigrad.nn, minigrad.saliency,
minigrad.train ...), and nothing in the library imports from here. So `import minigrad.saliency`
gives you the explanation methods and metrics without pulling in training or the command line.
"""
