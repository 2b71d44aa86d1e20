print("flotilla-bench: not yet")
